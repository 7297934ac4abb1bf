"""Production smoke test: the app as deployed, used over HTTP, delivering through system cron.

Everything is real and set up the way README "Deploy" says: gunicorn with
deploy/gunicorn.conf.py serving ``wsgi:app``; every setting in an env file named
by ``MAILER_ENV_FILE`` (the path the generated scripts bake in, since cron runs
them in a bare environment) with ``MAILER_HOME`` beside it, as the systemd unit
sets them; ``APP_ENV=production`` on the suite's PostgreSQL, a private Redis
(cache and rate limits), the suite's SMTP sink; ``CRONTAB_FILE`` unset, so the
lines go to this user's real crontab and Debian's cron daemon runs them;
``mailer doctor --problems-only`` first, as the unit's ExecStartPre does.

A user made with ``mailer users create`` (time zone Asia/Kathmandu, UTC+05:45,
so the form's wall-clock times must really be converted) signs in over HTTP,
adds a client and a message and saves a daily mailing starting at the next
whole minute or the one after; cron fires it; the letter reaches the client,
the Attempt is a success; pausing over HTTP takes the line (and its script)
out of the crontab while two lines of somebody else's stay byte for byte.
Takes one to two and a half minutes: cron fires on the minute.

Only lines tagged with this run's own ``MAILER_INSTANCE`` and the two lines the
test adds are ever removed; the user's crontab is otherwise left as found.
"""
from __future__ import annotations

import fcntl
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa

from mailer.models import Attempt, AttemptStatus, Delivery, DeliveryStatus, Mailing, MailingStatus
from mailer.scheduling import cron
from tests.smtp_servers import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "smoke-password-1234"
USER_TIMEZONE = "Asia/Kathmandu"  # UTC+05:45: a wrong conversion cannot land on the same minute
# The installed `mailer` command (pyproject's console script), which the deployment runs; unlike
# `flask --app wsgi` it never loads a .env from the working directory (Flask's CLI would load
# a developer's checkout .env over MAILER_ENV_FILE's settings).
MAILER_COMMAND = [sys.executable, "-c", "from mailer.cli.main import main; main()"]
CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


# --- the user's crontab, shared with everyone else on this machine -------------------------

@contextmanager
def _crontab_lock():
    """The lock mailer itself takes around every edit of this user's crontab
    (mailer/scheduling/cron.py), so no other suite's or app's edit is lost to ours."""
    path = cron.lock_path(cron.CronConfig.from_config({"MAILER_INSTANCE": "smoke"}))
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, f"the crontab stayed locked ({path}) for 30 s"
                time.sleep(0.05)
        yield
    finally:
        os.close(descriptor)


def read_crontab() -> str | None:
    """This user's crontab as `crontab -l` prints it; None when the user has none."""
    result = subprocess.run(["crontab", "-l"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        assert "no crontab for" in result.stderr.lower(), result.stderr
        return None
    return result.stdout


def write_crontab(text: str | None) -> None:
    command = ["crontab", "-r"] if text is None else ["crontab", "-"]
    result = subprocess.run(command, input=text, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"{' '.join(command)}: {result.stderr}"


def tag_re(instance: str) -> re.Pattern:
    return re.compile(rf"\s#\s*mailer:{re.escape(instance)}:(\d+)\s*$")


@pytest.fixture
def shared_crontab(cron_daemon):
    """Two lines that are not ours in the user's crontab; afterwards they and every line of
    this run's instance go, and the crontab is as it was found (or, if someone else changed
    it meanwhile, keeps their change)."""
    marker = uuid.uuid4().hex[:8]
    instance = f"smoke-{marker}"
    keep_comment = f"# keep me {marker}"
    other_job = f"17  3 * * *\t/bin/true   # someone-else-{marker}"  # odd spacing on purpose
    with _crontab_lock():
        original = read_crontab()
        base = original or ""
        if base and not base.endswith("\n"):
            base += "\n"
        write_crontab(f"{base}{keep_comment}\n{other_job}\n")
    try:
        yield instance, original, (keep_comment, other_job)
    finally:
        ours = tag_re(instance)
        with _crontab_lock():
            current = read_crontab() or ""
            rest = "".join(line for line in current.splitlines(keepends=True)
                           if line.rstrip("\r\n") not in (keep_comment, other_job)
                           and not ours.search(line.rstrip("\r\n")))
            write_crontab(None if original is None and rest == "" else rest)


# --- gunicorn, as the systemd unit runs it --------------------------------------------------

class Server:
    def __init__(self, process: subprocess.Popen, base_url: str, log: Path):
        self.process, self.base_url, self.log = process, base_url, log

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_until_serving(server: Server, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.process.returncode}:\n{server.log.read_text()}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    pytest.fail(f"gunicorn did not answer within {seconds} s:\n{server.log.read_text()}")


@pytest.fixture
def production(shared_crontab, db, database_url, private_redis, smtp_sink, tmp_path):
    """The deployment: its env file, the environment every process of it gets, and gunicorn."""
    instance, original_crontab, foreign_lines = shared_crontab
    redis_url, _probe, _redis_process = private_redis
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    home = tmp_path / "home"
    home.mkdir()
    settings = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BASE_URL": base_url,
        "PROXY_HOPS": "0",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_sink.port),
        "MAIL_TIMEOUT": "5",
        "MAIL_DEFAULT_SENDER": '"Mailer <noreply@smoke.example>"',
        "MAILER_INSTANCE": instance,
        "SCRIPTS_DIR": str(tmp_path / "scripts"),
        "CRON_LOG": str(tmp_path / "logs" / "cron.log"),
        "DEFAULT_LANGUAGE": "en",
    }  # CRONTAB_FILE and SCHEDULER unset: the user's crontab, run by system cron
    env_file = tmp_path / "mailer.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    env_file.chmod(0o640)
    # What systemd gives the processes (deploy/mailer-web.service): nothing of the test's own.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL")
           if key in os.environ}
    env.update(MAILER_HOME=str(home), MAILER_ENV_FILE=str(env_file))

    # The unit's ExecStartPre. Over plain http the BASE_URL row is a failure, rightly; every
    # other row (database and migrations, crontab and cron daemon, mail server, Redis,
    # directories) must pass.
    doctor = subprocess.run([*MAILER_COMMAND, "doctor"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    rows = re.findall(r"^(ok|warning|failure) +(\S+(?: \S+)*?)  ", doctor.stdout, re.MULTILINE)
    statuses = dict((name, status) for status, name in rows)
    failures = [name for status, name in rows if status == "failure"]
    assert failures == ["BASE_URL"], f"mailer doctor:\n{doctor.stdout}{doctor.stderr}"
    for check in ("database", "crontab", "cron daemon", "mail server", "Redis", "SCRIPTS_DIR", "CRON_LOG"):
        assert statuses.get(check) == "ok", f"mailer doctor, {check}:\n{doctor.stdout}{doctor.stderr}"

    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
            cwd=PROJECT_ROOT, env={**env, "MAILER_BIND": f"127.0.0.1:{port}", "MAILER_WORKERS": "2"},
            stdout=output, stderr=subprocess.STDOUT,
        )
    server = Server(process, base_url, log)
    try:
        _wait_until_serving(server)
        yield {"server": server, "env": env, "settings": settings, "instance": instance,
               "original_crontab": original_crontab, "foreign_lines": foreign_lines,
               "scripts_dir": Path(settings["SCRIPTS_DIR"]), "cron_log": Path(settings["CRON_LOG"])}
    finally:
        server.stop()


# --- a browser without a browser ------------------------------------------------------------

class Visitor:
    """A requests session that reads each form's CSRF token the way a browser sends it."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()

    def get(self, path: str) -> requests.Response:
        response = self.http.get(self.base_url + path, timeout=30)
        assert response.status_code == 200, f"GET {path}: {response.status_code}"
        return response

    def submit(self, path: str, data: dict, form_path: str | None = None) -> requests.Response:
        """POST the form shown at ``form_path`` (default ``path``); returns the redirect."""
        page = self.get(form_path or path).text
        match = CSRF_RE.search(page)
        assert match, f"no CSRF token in the form at {form_path or path}"
        response = self.http.post(self.base_url + path, data={"csrf_token": match.group(1), **data},
                                  allow_redirects=False, timeout=30)
        assert response.status_code in (302, 303), (
            f"POST {path} was not accepted ({response.status_code}):\n{response.text[:3000]}")
        return response

    def follow(self, response: requests.Response) -> str:
        location = response.headers["Location"]
        path = location[len(self.base_url):] if location.startswith(self.base_url) else location
        return self.get(path).text


def _path_of(response: requests.Response, base_url: str) -> str:
    location = response.headers["Location"]
    return location[len(base_url):] if location.startswith(base_url) else location


# --- the test ---------------------------------------------------------------------------------

def test_production_deployment_sends_a_mailing_through_system_cron(production, db, smtp_sink):
    server: Server = production["server"]
    instance = production["instance"]
    keep_comment, other_job = production["foreign_lines"]
    ours = tag_re(instance)
    marker = instance.removeprefix("smoke-")
    owner_email = f"owner-{marker}@example.com"
    client_email = f"client-{marker}@example.com"
    subject = f"Smoke test {marker}"

    created = subprocess.run(
        [*MAILER_COMMAND, "users", "create", owner_email,
         "--full-name", "Smoke Owner", "--password-stdin", "--timezone", USER_TIMEZONE,
         "--language", "en"],
        input=f"{PASSWORD}\n", cwd=PROJECT_ROOT, env=production["env"],
        capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stdout + created.stderr

    visitor = Visitor(server.base_url)
    signed_in = visitor.submit("/auth/login", {"email": owner_email, "password": PASSWORD})
    assert "Smoke Owner" in visitor.follow(signed_in)

    added = visitor.submit("/clients/new", {"email": client_email, "full_name": "Ada Lovelace",
                                            "comment": ""})
    clients_page = visitor.follow(added)
    assert client_email in clients_page
    (client_id,) = {int(found) for found in re.findall(r'/clients/(\d+)/edit', clients_page)}

    written = visitor.submit("/messages/new", {
        "subject": subject, "body": "Dear {{ client.full_name }},\n\nthe smoke test says hello.",
    })
    message_id = int(re.fullmatch(r"/messages/(\d+)/preview", _path_of(written, server.base_url))[1])

    # The next whole minute, or the one after when this one is nearly over: cron must read
    # the line before the minute it names, and the save must happen before the start (a
    # window that already contains now would be sent at once by the web app, not by cron).
    now = datetime.now(timezone.utc)
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=1 if now.second < 40 else 2)
    local_start = start.astimezone(ZoneInfo(USER_TIMEZONE))
    saved = visitor.submit("/mailings/new", {
        "message_id": message_id, "client_ids": [client_id], "frequency": "daily",
        "start_at": f"{local_start:%Y-%m-%dT%H:%M}",
        "end_at": f"{local_start + timedelta(days=2):%Y-%m-%dT%H:%M}",
    })
    saved_at = datetime.now(timezone.utc)
    assert saved_at < start, "the mailing was saved after its start; cron would not be the sender"
    mailing_id = int(re.fullmatch(r"/mailings/(\d+)", _path_of(saved, server.base_url))[1])
    assert "Mailing saved." in visitor.follow(saved)

    db.session.expire_all()
    mailing = db.session.get(Mailing, mailing_id)
    assert mailing.start_at == start and mailing.timezone == USER_TIMEZONE
    tab = read_crontab() or ""
    (line,) = [line for line in tab.splitlines() if ours.search(line)]
    assert line.startswith(f"{start.astimezone():%-M %-H} * * * ") and line.endswith(
        f"# mailer:{instance}:{mailing_id}"), line
    assert f"{production['scripts_dir'] / f'{mailing_id}_script.py'}" in line
    assert tab.splitlines().count(keep_comment) == 1 and tab.splitlines().count(other_job) == 1
    script = production["scripts_dir"] / f"{mailing_id}_script.py"
    assert script.is_file()

    # Cron fires at the start; the run then sends within seconds.
    deadline = time.monotonic() + (start - datetime.now(timezone.utc)).total_seconds() + 90
    while time.monotonic() < deadline and not smtp_sink.to(client_email):
        time.sleep(0.5)
    letters = smtp_sink.to(client_email)
    cron_log = production["cron_log"]
    assert letters, (f"no letter by {datetime.now(timezone.utc):%H:%M:%S} for a start at {start:%H:%M:%S} UTC;"
                     f" cron log:\n{cron_log.read_text() if cron_log.exists() else '(none)'}")
    (letter,) = letters
    assert letter.envelope_to == [client_email]
    assert letter.subject == subject
    assert letter.body.splitlines()[0] == "Dear Ada Lovelace,"
    assert "noreply@smoke.example" in letter.message["From"] and "Smoke Owner" in letter.message["From"]
    assert letter.message["List-Unsubscribe"].startswith(f"<{server.base_url}/unsubscribe/"), \
        "the cron run must read the deployment's env file (BASE_URL), not the defaults"

    while True:  # the run records the outcome right after the last letter
        db.session.expire_all()
        attempt = db.session.scalar(sa.select(Attempt).where(Attempt.mailing_id == mailing_id))
        if (attempt is not None and attempt.status is not AttemptStatus.SENDING) \
                or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert attempt is not None and attempt.status is AttemptStatus.SUCCESS, attempt and attempt.status
    assert attempt.occurrence_at == start and attempt.started_at >= start and not attempt.manual
    assert (attempt.sent_count, attempt.failed_count) == (1, 0)
    (delivery,) = db.session.scalars(sa.select(Delivery).where(Delivery.attempt_id == attempt.id))
    assert (delivery.client_id, delivery.email, delivery.status) == (client_id, client_email,
                                                                       DeliveryStatus.SENT)
    while time.monotonic() < deadline and "success" not in (cron_log.read_text() if cron_log.exists() else ""):
        time.sleep(0.2)  # the run prints its line after it has closed the attempt
    assert f"mailing {mailing_id}: success, sent 1" in cron_log.read_text()
    assert "Traceback" not in cron_log.read_text()
    page = visitor.get(f"/mailings/{mailing_id}").text
    assert f"/mailings/{mailing_id}/attempts/{attempt.id}" in page and "No attempts yet." not in page

    # Still scheduled for tomorrow, same minute; then the owner pauses it.
    tab = read_crontab() or ""
    assert [line for line in tab.splitlines() if ours.search(line)] == [line]
    paused = visitor.submit(f"/mailings/{mailing_id}/pause", {}, form_path=f"/mailings/{mailing_id}")
    assert "Mailing paused." in visitor.follow(paused)
    db.session.expire_all()
    assert db.session.get(Mailing, mailing_id).status is MailingStatus.PAUSED

    tab = read_crontab() or ""
    lines = tab.splitlines()
    assert not [line for line in lines if f"mailer:{instance}:" in line], tab
    assert lines.count(keep_comment) == 1 and lines.count(other_job) == 1, tab
    assert lines.index(keep_comment) + 1 == lines.index(other_job), tab
    for original_line in (production["original_crontab"] or "").splitlines():
        if " # mailer:" not in original_line:  # other installs' lines are theirs to change
            assert original_line in lines, f"a line that was there before is gone: {original_line!r}"
    assert not script.exists(), "pausing must remove the mailing's script too"
    assert len(smtp_sink.to(client_email)) == 1

    server.stop()
    served = server.log.read_text()
    assert re.search(rf'"POST /mailings/{mailing_id}/pause HTTP/1.1" 302 ', served), served  # logging works
    assert "Traceback" not in served, served
    assert "[ERROR]" not in served, served
    assert not re.search(r'" 5\d\d ', served), served
