# mailer — developer commands. Needs only Python 3.11+ on the PATH.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
PO     := $(wildcard mailer/translations/*/LC_MESSAGES/messages.po)
MO     := $(PO:.po=.mo)

.PHONY: run test provision audit bench install install-dev translations extract-messages update-translations migrate seed clean
.NOTPARALLEL:

## run: install, migrate, load demo data, start mail sink + scheduler, serve on :5000
run: install .env
	$(FLASK) db upgrade
	$(FLASK) seed
	$(FLASK) cron sync
	@echo "Mailer: http://127.0.0.1:5000   sent mail: http://127.0.0.1:5000/dev/mail/   (Ctrl-C stops all)"
	@bash -c 'trap "kill \$$(jobs -p) 2>/dev/null" EXIT; \
	  $(FLASK) mail-sink & $(FLASK) scheduler & \
	  (sleep 5; $(FLASK) doctor --problems-only || true) & \
	  $(FLASK) run --host 127.0.0.1 --port 5000'

## test: provide what the suite needs (root: install and start it; otherwise name it), then the full suite
test: provision install-dev
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure here." >&2; fi; \
	exit $$rc

## provision: PostgreSQL, cron, Redis, Chromium, Postfix, Exim and Dovecot for the suite (tests/provision.py);
## PROVISION_ARGS=--check only looks and names what is missing
provision:
	@$(PYTHON) -m tests.provision $(PROVISION_ARGS)

## audit: known vulnerabilities in the pinned runtime set (pip-audit, PyPI's vulnerability data):
## fails on any; a package it cannot look up is listed as skipped (CI's registry mirror
## serves no per-version data, so there every package is skipped)
audit: install-dev
	$(BIN)/pip-audit -r requirements.txt

## bench: the speed figures (README, "Benchmarks"); BENCH_ARGS=--quick for a smoke run
bench: install-dev
	$(BIN)/python -m bench.run $(BENCH_ARGS)

install: $(VENV)/.installed translations
install-dev: $(VENV)/.installed-dev translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

translations: $(MO)

%.mo: %.po | $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy --statistics -i $< -o $@ 2>&1 | tail -1

## extract-messages / update-translations: after changing user-facing text
extract-messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -k lazy_gettext -k lazy_pgettext:1c,2 --no-location --sort-output \
	  --project mailer -o mailer/translations/messages.pot .

update-translations: extract-messages
	$(BIN)/pybabel update -i mailer/translations/messages.pot -d mailer/translations \
	  --ignore-obsolete

.env:
	cp .env.example .env
	@echo "Created .env from .env.example (development settings)."

migrate: $(VENV)/.installed
	$(FLASK) db upgrade

seed: $(VENV)/.installed
	$(FLASK) seed
	$(FLASK) cron sync

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis test-output
	find mailer/translations -name '*.mo' -delete
