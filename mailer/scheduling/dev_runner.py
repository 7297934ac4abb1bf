"""Run a crontab file without a cron daemon (development: ``make run``).

python-crontab's ``run_scheduler()`` reads the tab once and a freshly read job
never fires on its first tick, so this runner re-reads the file every tick and
fires each line whose schedule has a time in (last tick, now], as cron would.
Times are server-local, like cron's.
"""
from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

from crontab import CronTab


def due_jobs(tabfile: str | Path, since: datetime, until: datetime) -> list:
    """Enabled, valid jobs of the file with a scheduled time in (since, until]."""
    if not Path(tabfile).exists():
        return []
    due = []
    for job in CronTab(tabfile=str(tabfile)):
        if not (job.is_enabled() and job.is_valid()):
            continue
        if job.schedule(date_from=since).get_next() <= until:
            due.append(job)
    return due


def start_job(job) -> subprocess.Popen:
    """Start a job's command detached, with the line's environment, as cron would."""
    env = os.environ.copy()
    env.update(job.env.all())
    return subprocess.Popen(
        ["/bin/sh", "-c", job.command],
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def heartbeat_path(tabfile: str | Path) -> Path:
    """The file the scheduler touches on every tick, beside the crontab file it runs
    (``flask doctor`` reads its age)."""
    return Path(f"{tabfile}.alive")


def run_forever(
    tabfile: str | Path,
    report: Callable[[str], None] = print,
    tick_seconds: float = 60.0,
) -> None:
    last_tick = datetime.now().replace(second=0, microsecond=0)
    running: list[subprocess.Popen] = []
    heartbeat = heartbeat_path(tabfile)
    heartbeat.parent.mkdir(parents=True, exist_ok=True)
    heartbeat.touch()
    while True:
        time.sleep(max(1.0, tick_seconds - time.time() % tick_seconds + 0.5))
        heartbeat.touch()
        now = datetime.now()
        for job in due_jobs(tabfile, last_tick, now):
            report(f"{now:%Y-%m-%d %H:%M} start: {job.comment or job.command}")
            running.append(start_job(job))
        running = [process for process in running if process.poll() is None]
        last_tick = now
