"""Start a mailing run as a detached process, so a web request never waits for SMTP."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask import current_app

from mailer.config import PROJECT_ROOT

# The settings a run needs, handed down from the web app's own configuration
# (so a run started from the web sends exactly where the web app would).
_PASSED_DOWN = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI", "APP_ENV": "APP_ENV", "SECRET_KEY": "SECRET_KEY",
    "BASE_URL": "BASE_URL", "MAIL_SERVER": "MAIL_SERVER", "MAIL_PORT": "MAIL_PORT",
    "MAIL_USE_TLS": "MAIL_USE_TLS", "MAIL_USE_SSL": "MAIL_USE_SSL",
    "MAIL_USERNAME": "MAIL_USERNAME", "MAIL_PASSWORD": "MAIL_PASSWORD",
    "MAIL_DEFAULT_SENDER": "MAIL_DEFAULT_SENDER", "MAILING_SMTP_TIMEOUT": "MAILING_SMTP_TIMEOUT",
    "MAILING_BATCH_SIZE": "MAILING_BATCH_SIZE", "MAILING_LEASE_SECONDS": "MAILING_LEASE_SECONDS",
}


def run_environment() -> dict[str, str]:
    """The environment of a run started by the web app: its own settings, no .env lookup."""
    config = current_app.config
    env = dict(os.environ)
    for variable, key in _PASSED_DOWN.items():
        value = config.get(key)
        if value is None:
            env.pop(variable, None)
        else:
            env[variable] = str(value).lower() if isinstance(value, bool) else str(value)
    env["MAILING_RETRY_DELAYS"] = ",".join(str(d) for d in config["MAILING_RETRY_DELAYS"])
    env["MAILER_ENV_FILE"] = ""  # everything needed is passed above
    return env


def start_run(mailing_id: int, *flags: str) -> subprocess.Popen:
    """``python -m mailer.delivery.cron_entry <id> [flags]`` in the background, output to the run log."""
    log_path = Path(current_app.config.get("CRON_LOG") or Path(current_app.instance_path) / "logs" / "cron.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "mailer.delivery.cron_entry", str(int(mailing_id)), *flags],
            cwd=PROJECT_ROOT, env=run_environment(), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
