"""Environments for running the app's own processes (server, cron scripts) in tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def app_environment(database_url: str, smtp_port: int, **settings) -> dict[str, str]:
    """os.environ plus the settings a child process of the app reads (never the developer's .env)."""
    env = {
        **os.environ,
        "MAILER_ENV_FILE": "",
        "APP_ENV": "testing",
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "BASE_URL": "http://mailer.test",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        "MAIL_TIMEOUT": "5",
        "MAILING_SMTP_TIMEOUT": "5",
        "MAILING_RETRY_DELAYS": "0.2,0.5",
        "RATELIMIT_ENABLED": "false",
        "DEFAULT_LANGUAGE": "en",
        "DEFAULT_TIMEZONE": "UTC",
        "REDIS_URL": "",
        "CRONTAB_FILE": "",
    }
    env.update({key: str(value) for key, value in settings.items()})
    return env


def start_run(mailing_id, env: dict[str, str], *flags: str) -> subprocess.Popen:
    """A mailing run as its own process, the way the web app starts one in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "mailer.delivery.cron_entry", str(mailing_id), *flags],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def run_script(script: Path | str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script)], cwd="/", env=env, capture_output=True,
                          text=True, timeout=timeout)
