"""What ``scripts/bounces_script.py`` (the bounce mailbox's cron line) calls."""
from __future__ import annotations

import os
from datetime import datetime, timezone


def main(env_file: str | None = None) -> int:
    if env_file and "MAILER_ENV_FILE" not in os.environ:
        os.environ["MAILER_ENV_FILE"] = env_file
    from mailer import create_app
    from mailer.bounces.fetching import run
    from mailer.config import ConfigError

    try:
        app = create_app()
    except ConfigError as error:
        code, line = 1, f"cannot start: {error}"
    else:
        with app.app_context():
            code, line = run(app.config)
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} bounces: {line}", flush=True)
    return code
