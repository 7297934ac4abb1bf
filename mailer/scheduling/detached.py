"""The one way a run starts outside cron: a detached process, so a request never waits for SMTP.

Both "send at once" (a saved mailing that is due now: its own script, as cron would run it)
and the owner's "send now" and "send to those not reached" (``cron_entry`` with a flag) start
here, with the configured Python (``CRON_PYTHON``, else the one running the app), output to
the run log, and the web app's own settings handed down.
"""
from __future__ import annotations

import os
import subprocess
from typing import Mapping, Sequence

from flask import current_app

# The settings a run needs, handed down from the web app's own configuration
# (so a run started from the web sends exactly where the web app would).
_PASSED_DOWN = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI", "APP_ENV": "APP_ENV", "SECRET_KEY": "SECRET_KEY",
    "BASE_URL": "BASE_URL", "MAIL_SERVER": "MAIL_SERVER", "MAIL_PORT": "MAIL_PORT",
    "MAIL_USE_TLS": "MAIL_USE_TLS", "MAIL_USE_SSL": "MAIL_USE_SSL",
    "MAIL_USERNAME": "MAIL_USERNAME", "MAIL_PASSWORD": "MAIL_PASSWORD",
    "MAIL_DEFAULT_SENDER": "MAIL_DEFAULT_SENDER", "MAILING_SMTP_TIMEOUT": "MAILING_SMTP_TIMEOUT",
    "MAILING_BATCH_SIZE": "MAILING_BATCH_SIZE", "MAILING_LEASE_SECONDS": "MAILING_LEASE_SECONDS",
    "MAIL_RATE_PER_SECOND": "MAIL_RATE_PER_SECOND", "MAIL_RATE_PER_MINUTE": "MAIL_RATE_PER_MINUTE",
    "MAIL_RATE_PER_HOUR": "MAIL_RATE_PER_HOUR",
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


def start_detached(arguments: Sequence[str], config, env: Mapping[str, str] | None = None
                   ) -> subprocess.Popen:
    """``config.python`` (a CronConfig) with ``arguments``, in a session of its own, output to
    the run log (its folder made by the caller); returns without waiting. ``env`` replaces the
    inherited environment if given."""
    with open(config.log_file, "ab") as log:
        return subprocess.Popen(
            [config.python, *arguments], cwd=config.project_root, stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
            env=None if env is None else dict(env),
        )
