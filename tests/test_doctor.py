"""``flask doctor``: one row per check against the real database, mail server, Redis and cron."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from mailer.config import MIGRATIONS_DIR
from tests.smtp_servers import GarbageSmtpServer, ScriptedSmtpServer, SilentSmtpServer, closed_port

HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()  # the code's newest migration

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "Vq3-kR9_pL2xZ7mN4bT8wY1sD6fH0jC5gA"


def doctor(app, *args):
    """(exit code, {check: (status, the rest of its row)}, the whole output)."""
    result = app.test_cli_runner().invoke(args=["doctor", *args])
    rows = {}
    for line in result.output.splitlines():
        if line.startswith(("ok ", "warning ", "failure ")):
            status, rest = line.split(None, 1)
            check, _, seen = rest.partition("  ")
            rows[check.strip()] = (status, seen.strip())
    return result.exit_code, rows, result.output


@pytest.fixture
def scheduled_app(make_app, tmp_path):
    """An app whose mailings a `flask scheduler` runs from a crontab file."""
    def build(**settings):
        return make_app(CRONTAB_FILE=str(tmp_path / "crontab"), SCHEDULER="flask", SECRET_KEY=STRONG_KEY,
                        SCRIPTS_DIR=str(tmp_path / "scripts"), UPLOAD_FOLDER=str(tmp_path / "uploads"),
                        **settings)
    return build


@pytest.fixture
def running_scheduler(tmp_path, database_url):
    """A real `flask scheduler` on tmp_path/crontab, up once its heartbeat file appears."""
    env = {**os.environ, "MAILER_ENV_FILE": "", "FLASK_SKIP_DOTENV": "1", "APP_ENV": "testing",
           "SECRET_KEY": "k", "DATABASE_URL": database_url, "CRONTAB_FILE": str(tmp_path / "crontab")}
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    heartbeat = tmp_path / "crontab.alive"
    deadline = time.monotonic() + 30
    while not heartbeat.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the scheduler did not start"
        time.sleep(0.05)
    yield heartbeat
    process.terminate()
    process.wait(timeout=10)


def test_a_healthy_install_is_all_ok(scheduled_app, smtp_sink, private_redis, running_scheduler):
    redis_url, _client, _process = private_redis
    app = scheduled_app(MAIL_PORT=smtp_sink.port, REDIS_URL=redis_url,
                        MAIL_RETURN_PATH="bounces@mailer.test")

    code, rows, output = doctor(app)

    assert code == 0, output
    assert {status for status, _seen in rows.values()} == {"ok"}, output
    assert rows["database"][1].startswith("postgresql ") and f"migrations current ({HEAD})" in rows["database"][1]
    assert rows["scheduler"][1].startswith("flask scheduler running")
    assert "8BITMIME" in rows["mail server"][1] and "SMTPUTF8" in rows["mail server"][1]
    assert rows["Redis"] == ("ok", redis_url)
    for check in ("SECRET_KEY", "BASE_URL", "crontab", "SCRIPTS_DIR", "CRON_LOG", "UPLOAD_FOLDER"):
        assert rows[check][0] == "ok"


def test_a_scheduler_gone_quiet_is_a_failure_with_the_fix(scheduled_app, smtp_sink, tmp_path):
    app = scheduled_app(MAIL_PORT=smtp_sink.port)
    code, rows, output = doctor(app)
    assert code == 1
    assert rows["scheduler"] == ("failure", "flask scheduler is not running (never seen): no mailing sends")
    assert "fix: start it: flask scheduler" in output

    heartbeat = tmp_path / "crontab.alive"
    heartbeat.touch()
    os.utime(heartbeat, (time.time() - 600, time.time() - 600))
    assert "last seen 10 min ago" in doctor(app)[1]["scheduler"][1]


@pytest.mark.parametrize("server, words", [
    (SilentSmtpServer, "no answer within 1 s (MAIL_TIMEOUT)"),
    (lambda: GarbageSmtpServer(stage="greeting", garbage="HTTP/1.1 400 Bad Request"),
     "answered something that is not SMTP"),
    (lambda: ScriptedSmtpServer(mail_reply=None, smtputf8=False), None),
])
def test_a_mail_server_that_hangs_or_speaks_nonsense_is_named_within_its_timeout(scheduled_app, server, words,
                                                                                  running_scheduler):
    with server() as mail_server:
        app = scheduled_app(MAIL_PORT=mail_server.port, MAIL_TIMEOUT=1)
        started = time.monotonic()
        code, rows, output = doctor(app)

    assert time.monotonic() - started < 5
    if words is None:  # a plain server without SMTPUTF8: fine, and it says what it offers
        assert code == 0 and rows["mail server"][0] == "ok" and "SMTPUTF8" not in rows["mail server"][1]
    else:
        assert code == 1 and rows["mail server"][0] == "failure" and words in rows["mail server"][1], output


def test_nothing_listening_redis_down_and_an_old_schema_are_failures(app, make_app, tmp_path,
                                                                    running_scheduler):
    app = make_app(SECRET_KEY=STRONG_KEY, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'empty.db'}", MAIL_PORT=closed_port(),
                   REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0", CRONTAB_FILE=str(tmp_path / "crontab"),
                   SCHEDULER="flask")

    code, rows, output = doctor(app, "--problems-only")

    assert code == 1
    assert rows["database"] == ("failure", f"sqlite {tmp_path / 'empty.db'}: schema at nothing, code at {HEAD}")
    assert "fix: run: flask db upgrade" in output
    assert rows["mail server"][1].endswith("connection refused")
    assert rows["Redis"][0] == "failure"
    assert "SECRET_KEY" not in rows, "--problems-only leaves out what is fine"


def test_production_with_a_weak_key_plain_http_and_no_redis(make_app, smtp_sink, cron_daemon, tmp_path):
    app = make_app(APP_ENV="production", SECRET_KEY="changeme", BASE_URL="http://mail.example.com",
                   CRONTAB_FILE=None,  # this user's crontab: only read
                   MAIL_PORT=smtp_sink.port, SCRIPTS_DIR=str(tmp_path / "scripts"),
                   UPLOAD_FOLDER=str(tmp_path / "uploads"))

    code, rows, output = doctor(app)

    assert code == 1
    assert rows["SECRET_KEY"] == ("failure", "8 characters, easy to guess")
    assert rows["BASE_URL"][0] == "failure" and "unencrypted" in rows["BASE_URL"][1]
    assert rows["Redis"][0] == "warning"
    assert rows["crontab"] == ("ok", "this user's crontab (SCHEDULER=cron)")
    assert rows["cron daemon"][0] == "ok"


def test_strong_key_and_https_pass_in_production(make_app, smtp_sink, cron_daemon, tmp_path):
    app = make_app(APP_ENV="production", SECRET_KEY=STRONG_KEY, BASE_URL="https://mail.example.com",
                   CRONTAB_FILE=None,
                   MAIL_PORT=smtp_sink.port, SCRIPTS_DIR=str(tmp_path / "scripts"),
                   UPLOAD_FOLDER=str(tmp_path / "uploads"))

    _code, rows, output = doctor(app)

    assert rows["SECRET_KEY"] == ("ok", f"{len(STRONG_KEY)} characters")
    assert rows["BASE_URL"] == ("ok", "https://mail.example.com")


def test_bounces_nobody_reads_are_a_warning_and_the_bounce_mailbox_is_opened(scheduled_app, smtp_sink,
                                                                            bounce_world):
    dovecot = bounce_world.dovecot
    mailbox = {"MAIL_RETURN_PATH": "bounces@mailer.test", "BOUNCE_MAILBOX_HOST": "127.0.0.1",
               "BOUNCE_MAILBOX_PORT": dovecot.imap_port, "BOUNCE_MAILBOX_SECURITY": "none",
               "BOUNCE_MAILBOX_USER": dovecot.bounce_user,
               "BOUNCE_MAILBOX_PASSWORD": dovecot.bounce_password}

    unread = doctor(scheduled_app(MAIL_PORT=smtp_sink.port))[1]["bounces"]
    opened = doctor(scheduled_app(MAIL_PORT=smtp_sink.port, **mailbox))[1]["bounce mailbox"]
    refused = doctor(scheduled_app(MAIL_PORT=smtp_sink.port,
                                   **{**mailbox, "BOUNCE_MAILBOX_PASSWORD": "wrong"}))[1]["bounce mailbox"]

    assert unread[0] == "warning" and "nobody reads them" in unread[1]
    assert opened[0] == "ok" and opened[1].startswith(f"imap bounces@127.0.0.1:{dovecot.imap_port}: 0 message")
    assert refused[0] == "failure" and "login refused" in refused[1]
