"""A relay's send rate holds across workers: separate processes sharing one database never
pass it together, a minute's worth may go at once, and a bad setting stops start-up."""
import json
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa

from mailer import create_app
from mailer.config import ConfigError
from mailer.delivery.send_rate import SendRate
from mailer.extensions import db as _db
from mailer.models import SendRateClock
from mailer.scheduling.detached import run_environment
from tests.processes import PROJECT_ROOT, app_environment

# One worker process: settings from its environment as a run reads them, an engine of its
# own; it says "ready", waits for a line on stdin so all start together, then prints one
# [slot on the database clock, local time it went] per letter.
WORKER = """
import json, sys, time
import sqlalchemy as sa
from mailer import config, database  # noqa: F401  (database: SQLite's busy timeout)
from mailer.delivery.send_rate import SendRate

settings = config.settings_from_env()
config.check(settings)
engine = sa.create_engine(settings["SQLALCHEMY_DATABASE_URI"])
with engine.connect():
    pass
print("ready", flush=True)
sys.stdin.readline()
with SendRate.from_config(settings, engine) as rate:
    for _ in range(int(sys.argv[1])):
        slot = rate.reserve()
        time.sleep(slot.delay)
        print(json.dumps([slot.at, time.time()]), flush=True)
"""


def run_workers(env: dict, workers: int, letters: int) -> list[tuple[int, float, float]]:
    """(worker, slot, when it went) for every letter of every worker, in slot order."""
    processes = [subprocess.Popen([sys.executable, "-c", WORKER, str(letters)], cwd=PROJECT_ROOT,
                                  env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(workers)]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready", process.communicate()[1]
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        letters_sent = []
        for number, process in enumerate(processes):
            out, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
            letters_sent += [(number, *json.loads(line)) for line in out.splitlines()]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    return sorted(letters_sent, key=lambda letter: letter[1])


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The most of ``times`` in any window (t - seconds, t]."""
    times, most, first = sorted(times), 0, 0
    for last, moment in enumerate(times):
        while times[first] <= moment - seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


def database_clock_ahead(engine) -> tuple[float, float]:
    """How far the database's clock is ahead of this host's, and give or take how much."""
    if engine.dialect.name == "sqlite":
        return 0.0, 0.0
    with engine.connect() as connection:
        before = time.time()
        database_now = connection.scalar(sa.text("SELECT extract(epoch from clock_timestamp())::float8"))
        after = time.time()
    return database_now - (before + after) / 2, (after - before) / 2


def assert_rate_held(letters_sent, engine, per_second: int, workers: int) -> None:
    slots = [slot for _worker, slot, _went in letters_sent]
    # A window a millisecond short of a second: evenly spaced slots summed as floats
    # may fall a hair short of exactly 1 / per_second apart.
    assert most_in_any_window(slots, 0.999) <= per_second
    ahead, give_or_take = database_clock_ahead(engine)
    early = [(slot, went) for _worker, slot, went in letters_sent
             if went + ahead < slot - give_or_take - 0.002]
    assert early == [], "letters went before their slot"
    switches = sum(a[0] != b[0] for a, b in zip(letters_sent, letters_sent[1:]))
    assert switches >= workers, "the workers took turns, not one after another"


def test_workers_on_separate_processes_never_pass_the_relays_rate_together(app, database_url):
    """(``app``: its fixture empties the tables afterwards.)"""
    env = app_environment(database_url, 2525, MAIL_SERVER=f"relay-{uuid.uuid4().hex[:8]}.test",
                          MAIL_RATE_PER_SECOND=20)

    letters_sent = run_workers(env, workers=4, letters=20)

    assert len(letters_sent) == 80
    engine = sa.create_engine(database_url)
    try:
        assert_rate_held(letters_sent, engine, per_second=20, workers=4)
    finally:
        engine.dispose()


def test_workers_on_sqlite_keep_the_rate_too(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'mailer.db'}"
    engine = sa.create_engine(database_url)
    SendRateClock.__table__.create(engine)
    env = app_environment(database_url, 2525, MAIL_RATE_PER_SECOND=20)

    letters_sent = run_workers(env, workers=3, letters=12)

    assert len(letters_sent) == 36
    assert_rate_held(letters_sent, engine, per_second=20, workers=3)
    engine.dispose()


@pytest.fixture
def rate_on(make_app):
    """A SendRate for a relay of the test's own, with the given MAIL_RATE_* settings."""
    rates = []

    def build(**settings):
        app = make_app(MAIL_SERVER=f"relay-{uuid.uuid4().hex[:8]}.test", **settings)
        with app.app_context():
            rate = SendRate.from_config(app.config, _db.engine)
        rates.append(rate)
        return rate

    yield build
    for rate in rates:
        rate.close()


def test_a_per_minute_limit_spaces_letters_evenly_with_no_burst(rate_on):
    """A relay counting a minute from its first letter (Postfix's anvil) must never see more
    than its limit in that minute, so no bucketful goes at once."""
    rate = rate_on(MAIL_RATE_PER_MINUTE=5)

    slots = [rate.reserve() for _ in range(6)]
    slept = []
    delay = rate.wait(sleep=slept.append)

    assert slots[0].delay == 0.0
    after_first = [slot.at - slots[0].at for slot in slots]
    assert after_first == [pytest.approx(12 * n, abs=0.01) for n in range(6)]
    assert sum(at < 59.99 for at in after_first) == 5, "five letters in the relay's first minute"
    assert delay > 0 and slept == [delay]


def test_the_latest_of_several_limits_decides_when_a_letter_goes(rate_on):
    rate = rate_on(MAIL_RATE_PER_SECOND=10, MAIL_RATE_PER_MINUTE=3)

    slots = [rate.reserve() for _ in range(5)]

    after_first = [slot.at - slots[0].at for slot in slots]
    assert after_first == [pytest.approx(expected, abs=0.01) for expected in (0, 20, 40, 60, 80)]


def test_a_reservation_is_committed_before_its_letter_goes(db, database_url):
    """Reserved on a connection of its own: the worker's open transaction holds no lock
    on the relay's row, and every other worker sees the reservation at once."""
    settings = {"MAIL_SERVER": f"relay-{uuid.uuid4().hex[:8]}.test", "MAIL_PORT": 25,
                "MAIL_RATE_PER_SECOND": 2}
    db.session.execute(sa.select(sa.func.count()).select_from(SendRateClock))

    with SendRate.from_config(settings, db.engine) as rate:
        first, second = rate.reserve(), rate.reserve()

    other_worker = sa.create_engine(database_url)
    try:
        with other_worker.connect() as connection:
            next_at = connection.scalar(
                sa.select(SendRateClock.next_at).where(SendRateClock.key == rate.limits[0].key))
    finally:
        other_worker.dispose()
    assert db.session().in_transaction()
    assert next_at == pytest.approx(second.at + 0.5, abs=1e-6)
    assert second.at == pytest.approx(first.at + 0.5, abs=0.01)


def test_no_limit_set_means_no_send_rate(make_app):
    app = make_app()

    with app.app_context():
        assert SendRate.from_config(app.config, _db.engine) is None


def test_a_database_error_is_raised_and_the_next_letter_reconnects(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'mailer.db'}")
    rate = SendRate.from_config(
        {"MAIL_SERVER": "relay.test", "MAIL_PORT": 25, "MAIL_RATE_PER_SECOND": 5}, engine)

    with rate, pytest.raises(sa.exc.OperationalError, match="no such table: send_rates"):
        rate.wait()
    SendRateClock.__table__.create(engine)
    with rate:
        assert rate.wait() == 0.0
    engine.dispose()


@pytest.mark.parametrize("value", ["fast", "0", "-2", "nan", "inf"])
def test_a_bad_rate_setting_stops_start_up_naming_it(monkeypatch, value):
    monkeypatch.setenv("MAIL_RATE_PER_MINUTE", value)

    with pytest.raises(ConfigError, match=r"MAIL_RATE_PER_MINUTE must be a positive number of "
                                          r"letters, such as 20 or 0.5 \(empty: no limit\), got") as error:
        create_app({"APP_ENV": "testing", "SECRET_KEY": "k"})
    assert value in str(error.value)


@pytest.mark.parametrize("value", [0, -1, "20", True])
def test_a_rate_given_in_code_is_checked_too(value):
    with pytest.raises(ConfigError, match="MAIL_RATE_PER_HOUR must be a positive number"):
        create_app({"APP_ENV": "testing", "SECRET_KEY": "k", "MAIL_RATE_PER_HOUR": value})


def test_rates_are_numbers_empty_is_no_limit_and_runs_from_the_web_get_them(monkeypatch, make_app):
    monkeypatch.setenv("MAIL_RATE_PER_SECOND", "0.5")
    monkeypatch.setenv("MAIL_RATE_PER_MINUTE", "")
    monkeypatch.delenv("MAIL_RATE_PER_HOUR", raising=False)
    app = make_app()

    with app.app_context():
        env = run_environment()

    assert (app.config["MAIL_RATE_PER_SECOND"], app.config["MAIL_RATE_PER_MINUTE"],
            app.config["MAIL_RATE_PER_HOUR"]) == (0.5, None, None)
    assert env["MAIL_RATE_PER_SECOND"] == "0.5"
    assert "MAIL_RATE_PER_MINUTE" not in env and "MAIL_RATE_PER_HOUR" not in env
