"""End to end: a mailing saved in the web app is delivered by Debian's cron daemon.

Uses the real user crontab under an instance name of its own (only that
instance's line is ever touched, and it is removed at the end), the real
generated script, and the suite's PostgreSQL and SMTP sink. Takes one to two
minutes: cron fires on the minute.
"""
import time
import uuid
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from mailer.models import Attempt, AttemptStatus, Mailing
from mailer.scheduling import cron
from mailer.scheduling.task_manager import TaskManager
from tests.conftest import submit
from tests.factories import ClientFactory, MessageFactory


def test_a_mailing_saved_in_the_web_app_is_delivered_by_cron(cron_daemon, make_app, make_user, db,
                                                             smtp_sink, database_url, tmp_path):
    instance = f"e2e-{uuid.uuid4().hex[:8]}"
    settings = {
        "APP_ENV": "production", "SECRET_KEY": "test-secret-key", "DATABASE_URL": database_url,
        "BASE_URL": "http://mailer.test", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_sink.port,
        "MAILER_INSTANCE": instance, "SCRIPTS_DIR": tmp_path / "scripts",
        "CRON_LOG": tmp_path / "cron.log", "RATELIMIT_ENABLED": "false", "REDIS_URL": "",
    }
    env_file = tmp_path / "mailer.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    app = make_app(APP_ENV="production", CRONTAB_FILE=None, MAILER_INSTANCE=instance,
                   SCRIPTS_DIR=str(tmp_path / "scripts"), CRON_LOG=str(tmp_path / "cron.log"),
                   MAILER_ENV_FILE=str(env_file))
    config = cron.CronConfig.from_app(app)
    owner = make_user(email="owner@example.com", language="en", timezone="UTC")
    message = MessageFactory(owner=owner, subject="Hello from cron", body="Dear {{ client.full_name }}, hi.")
    clients = [ClientFactory(owner=owner, email=f"c{n}@example.com", full_name=f"Client {n}") for n in range(3)]
    db.session.commit()
    browser = app.test_client()
    submit(browser, "/auth/login", {"email": "owner@example.com", "password": "password123"})
    start = (datetime.now(timezone.utc) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    try:
        saved = submit(browser, "/mailings/new", {
            "message_id": message.id, "client_ids": [c.id for c in clients], "frequency": "daily",
            "start_at": start.strftime("%Y-%m-%dT%H:%M"),
            "end_at": (start + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        }, follow_redirects=True)
        assert "Mailing saved." in saved.get_data(as_text=True)
        mailing_id = db.session.scalar(sa.select(Mailing.id))
        (line,) = [entry for entry in TaskManager(config).lines() if entry[0] == mailing_id]
        assert line[1].startswith(f"{start.astimezone():%-M %-H} ")

        received = smtp_sink.wait_for(3, timeout=200)

        assert sorted(m.envelope_to[0] for m in received) == [c.email for c in clients]
        assert all(m.subject == "Hello from cron" for m in received)
        assert {m.body.splitlines()[0] for m in received} == {f"Dear Client {n}, hi." for n in range(3)}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            db.session.expire_all()
            attempt = db.session.scalar(sa.select(Attempt))
            if attempt is not None and attempt.status is not AttemptStatus.SENDING:
                break
            time.sleep(0.2)
        assert attempt.status is AttemptStatus.SUCCESS and attempt.occurrence_at == start
        log = tmp_path / "cron.log"
        while time.monotonic() < deadline and "success" not in (log.read_text() if log.exists() else ""):
            time.sleep(0.2)  # the run prints its line after it has closed the attempt
        assert f"mailing {mailing_id}: success, sent 3" in log.read_text()
    finally:
        with app.app_context():
            for mailing_id, _spec, _command in TaskManager(config).lines():
                TaskManager(config).remove(mailing_id)
    assert TaskManager(config).lines() == []
