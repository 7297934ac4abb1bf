"""Cron script start-up: the script of a mailing that is not due, from exec to exit,
against ``python -c "import sqlalchemy"`` (the least such a script could import).

Both are whole processes on the same Python, run turn about; the figure is the median.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench import common

TARGET = 1.3


def _time_process(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd="/", capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed: {done.stdout}{done.stderr}")
    return elapsed


def run(ctx: common.Context) -> list[common.Figure]:
    rounds = 7 if ctx.quick else 25
    with common.throwaway_database() as url:
        app = common.make_app(url, ctx.tmp)
        with app.app_context():
            from mailer.extensions import db
            from mailer.scheduling import cron
            from mailer.scheduling.task_manager import TaskManager

            owner = common.add_user("owner@example.com")
            common.add_clients(owner.id, 10)
            now = datetime.now(timezone.utc)
            mailing = common.add_mailing(owner, start=now + timedelta(days=2), end=now + timedelta(days=30))
            TaskManager().install(mailing)
            script = cron.CronConfig.from_app().script_path(mailing.id)
            db.engine.dispose()
        env = common.environment(url, ctx.tmp)
        script_run = [sys.executable, str(script)]
        floor = [sys.executable, "-c", "import sqlalchemy"]
        output = subprocess.run(script_run, env=env, capture_output=True, text=True).stdout
        if "not due yet" not in output:
            raise RuntimeError(f"the script did not take the not-due path: {output!r}")
        _time_process(floor, env)  # warm the file cache for both
        scripts, floors = common.alternate(lambda: _time_process(script_run, env),
                                           lambda: _time_process(floor, env), rounds)
    script_ms, floor_ms = common.median_of(scripts) * 1000, common.median_of(floors) * 1000
    ratio = script_ms / floor_ms
    return [common.Figure(
        "startup", "cron script of a mailing not due, exec to exit", round(script_ms, 1), "ms",
        'python -c "import sqlalchemy"', round(floor_ms, 1), round(ratio, 3), f"<= {TARGET}",
        ratio <= TARGET, f"median of {rounds} each, run turn about; it reads two rows from PostgreSQL")]


if __name__ == "__main__":
    for figure in run(common.Context(tmp=Path(tempfile.mkdtemp()), quick="--quick" in sys.argv)):
        print(figure)
