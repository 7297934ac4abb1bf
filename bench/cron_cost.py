"""How the crontab's cost grows with the number of mailings.

For 100, 1,000 and 10,000 mailings that must send (quick: 100 and 1,000):
``flask cron sync`` as a process, from an empty crontab (cold) and right after (warm);
the same ``sync()`` in-process, to show how much of it is Python start-up; and
saving one mailing through the service layer (the web form's call), crontab
rewrite included, with 10,000 lines (quick: 1,000) against 100 lines.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common
from bench.common import Context, Figure

BENCH = "cron_cost"
USERS = 5
ZONES = ["UTC", "Europe/Moscow", "America/New_York", "Asia/Tokyo"]
SAVES = 20
ROUNDS = 3  # cold and warm syncs per size; the median is reported
SYNC_TARGET_S = 3.0
SAVE_TARGET_MS = 150.0
FLASK = [str(common.ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi"]
_TAGGED = re.compile(r"\s# mailer:default:([0-9]+)$")


# --- the rows ------------------------------------------------------------------------------

def _owners() -> list[tuple[int, int]]:
    """A handful of users, each with one client and one message: [(user id, message id)]."""
    from mailer.extensions import db
    from mailer.models import Message

    owners = []
    for number in range(USERS):
        user = common.add_user(f"owner{number}@example.com", timezone=ZONES[number % len(ZONES)])
        common.add_clients(user.id, 1)
        message = Message(owner=user, subject="News for {{ client.full_name }}",
                          body="Dear {{ client.full_name }},\n\nOur news.\n")
        db.session.add(message)
        db.session.commit()
        owners.append((user.id, message.id))
    return owners


def _grow_to(count: int, owners: list[tuple[int, int]]) -> None:
    """Mailings straight into the database (no cron line) until there are ``count``: all must
    send (created or running, window in the future), daily/weekly/monthly, a few zones."""
    from mailer.extensions import db

    have = db.session.scalar(sa.text("SELECT count(*) FROM mailings"))
    db.session.execute(sa.text(
        "INSERT INTO mailings (owner_id, message_id, start_at, end_at, timezone, frequency,"
        "                      status, created_at, updated_at)"
        " SELECT (CAST(:users AS int[]))[1 + n % :u], (CAST(:messages AS int[]))[1 + n % :u], s,"
        "        s + interval '90 days', (CAST(:zones AS text[]))[1 + n % :z],"
        "        (ARRAY['daily', 'weekly', 'monthly'])[1 + n % 3],"
        "        (ARRAY['created', 'running'])[1 + n % 2], now(), now()"
        " FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS n,"
        "      LATERAL (SELECT date_trunc('minute', now()) + interval '1 day'"
        "                      + n * interval '7 minutes' AS s) AS start"),
        {"users": [user for user, _ in owners], "messages": [message for _, message in owners],
         "u": len(owners), "zones": ZONES, "z": len(ZONES), "first": have + 1, "last": count})
    db.session.execute(sa.text(
        "INSERT INTO mailing_clients (mailing_id, client_id)"
        " SELECT m.id, c.id FROM mailings m JOIN clients c ON c.owner_id = m.owner_id"
        " WHERE NOT EXISTS (SELECT 1 FROM mailing_clients x WHERE x.mailing_id = m.id)"))
    db.session.commit()


# --- the crontab ---------------------------------------------------------------------------

def _tagged_lines(crontab: Path) -> dict[int, str]:
    lines = {}
    for line in crontab.read_text().splitlines():
        match = _TAGGED.search(line)
        if match:
            lines[int(match[1])] = line
    return lines


def _check_synced(ctx: Context, count: int) -> None:
    """Exactly ``count`` tagged lines and scripts, one per mailing: a broken sync is no figure."""
    lines = _tagged_lines(ctx.tmp / "crontab")
    scripts = [p for p in (ctx.tmp / "scripts").iterdir()
               if re.fullmatch(r"[0-9]+_script\.py", p.name)]
    if len(lines) != count or set(lines) != set(range(1, count + 1)) or len(scripts) != count:
        raise RuntimeError(f"cron sync left {len(lines)} tagged lines and {len(scripts)} scripts "
                           f"for {count} mailings")


def _empty_crontab(ctx: Context) -> None:
    """An empty crontab and no scripts. The old scripts are moved aside, not deleted: ext4's inode
    allocator skips recently deleted inodes (``recently_deleted``), so deleting 10,000 files just
    before the cold sync would slow its file creation down several times over."""
    (ctx.tmp / "crontab").write_text("")
    if (ctx.tmp / "scripts").exists():
        (ctx.tmp / "scripts").rename(ctx.tmp / f"scripts.old.{uuid.uuid4().hex}")


def _cold_and_warm(ctx: Context, count: int, sync_once, rounds: int) -> tuple[float, float]:
    """Median seconds of a sync from an empty crontab and no scripts, and of one right after."""
    cold, warm = [], []
    for _ in range(rounds):
        _empty_crontab(ctx)
        cold.append(sync_once())
        _check_synced(ctx, count)
        warm.append(sync_once())
        _check_synced(ctx, count)
    return common.median_of(cold), common.median_of(warm)


def _flask(env: dict, *args: str) -> float:
    """Seconds of ``flask --app wsgi <args>`` as an operator runs it."""
    def once():
        result = subprocess.run(FLASK + list(args), env=env, cwd=common.ROOT,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return common.timed(once)


def _sync_in_process(app) -> float:
    from mailer.extensions import db
    from mailer.scheduling import cron
    from mailer.scheduling.task_manager import TaskManager

    config = cron.CronConfig.from_app(app)
    seconds = common.timed(lambda: TaskManager(config).sync())
    db.session.remove()
    return seconds


# --- one save ------------------------------------------------------------------------------

def _save_times(app, ctx: Context, ids: list[int], count: int) -> list[float]:
    """Move each mailing's start 7 minutes later as the edit form does; the save's ms each."""
    from mailer.extensions import db
    from mailer.mailings import services
    from mailer.models import Mailing
    from mailer.scheduling import cron

    config = cron.CronConfig.from_app(app)
    before = _tagged_lines(ctx.tmp / "crontab")
    samples, moved = [], {}
    for mailing_id in ids:
        mailing = db.session.get(Mailing, mailing_id)
        start, end = services.local_window(mailing)
        data = services.MailingData(
            message_id=mailing.message_id, start_local=start + timedelta(minutes=7), end_local=end,
            frequency=mailing.frequency.value, timezone=mailing.timezone, all_clients=True)
        moved[mailing_id] = (mailing.start_at + timedelta(minutes=7), mailing.frequency.value)
        samples.append(common.timed(lambda: services.update_mailing(mailing, data)) * 1000)
        db.session.remove()
    after = _tagged_lines(ctx.tmp / "crontab")
    if len(after) != count:
        raise RuntimeError(f"{len(after)} tagged lines after the saves, not {count}")
    for mailing_id, (start, frequency) in moved.items():
        local = start.astimezone()  # cron's zone: the server's
        spec = {"daily": f"{local.minute} {local.hour} * * *",
                "weekly": f"{local.minute} {local.hour} * * {local.isoweekday() % 7}",
                "monthly": f"{local.minute} {local.hour} {local.day} * *"}[frequency]
        expected = cron.cron_line(config, mailing_id, spec)
        if after.get(mailing_id) != expected or expected == before[mailing_id]:
            raise RuntimeError(f"mailing {mailing_id}: line {after.get(mailing_id)!r}, "
                               f"expected {expected!r}")
    return samples


# --- the benchmark -------------------------------------------------------------------------

def run(ctx: Context) -> list[Figure]:
    sizes = [100, 1_000] if ctx.quick else [100, 1_000, 10_000]
    largest = sizes[-1]
    ctx.tmp.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    with common.throwaway_database() as url:
        # The same lines in-process and in the flask process, tagged as _TAGGED expects.
        extra = {"CRON_PYTHON": sys.executable, "MAILER_INSTANCE": "default"}
        env = common.environment(url, ctx.tmp, **extra)
        app = common.make_app(url, ctx.tmp, **extra)
        startup = common.median_of([_flask(env, "cron", "--help") for _ in range(ROUNDS)])
        figures.append(Figure(BENCH, "flask --app wsgi start-up (cron --help)", startup, "s",
                              note=f"median of {ROUNDS}: Python, Flask, the app; no sync"))
        first: dict[str, float] = {}
        with app.app_context():
            owners = _owners()
            for count in sizes:
                _grow_to(count, owners)
                measured = {}
                measured["cron sync cold"], measured["cron sync warm"] = _cold_and_warm(
                    ctx, count, lambda: _flask(env, "cron", "sync"), ROUNDS)
                measured["sync() in-process cold"], measured["sync() in-process warm"] = (
                    _cold_and_warm(ctx, count, lambda: _sync_in_process(app), ROUNDS))
                for what, seconds in measured.items():
                    first.setdefault(what, seconds)
                    target = (f"<= {SYNC_TARGET_S:g} s"
                              if count == 10_000 and what.startswith("cron") else "")
                    figures.append(Figure(
                        BENCH, f"{what}, {count:,} mailings", seconds, "s",
                        baseline=f"{what}, {sizes[0]:,} mailings", baseline_value=first[what],
                        ratio=seconds / first[what], target=target,
                        met=seconds <= SYNC_TARGET_S if target else None,
                        note=f"median of {ROUNDS}; ratio: times the 100-mailing figure"))
                if count in (100, largest):
                    step = max(1, count // SAVES)
                    ids = list(range(1, count + 1, step))[:SAVES]
                    ms = common.median_of(_save_times(app, ctx, ids, count))
                    if count == 100:
                        save_baseline = ms
                        figures.append(Figure(BENCH, "save one mailing, 100 lines", ms, "ms",
                                              note=f"median of {len(ids)} saves: the baseline"))
                    if count == largest:
                        figures.append(Figure(
                            BENCH, f"save one mailing, {count:,} lines", ms, "ms",
                            baseline="save one mailing, 100 lines", baseline_value=save_baseline,
                            ratio=ms / save_baseline, target=f"<= {SAVE_TARGET_MS:g} ms",
                            met=ms <= SAVE_TARGET_MS,
                            note=f"median of {len(ids)} saves via update_mailing, "
                                 "crontab rewrite included"))
        from mailer.extensions import db
        with app.app_context():
            db.engine.dispose()
    for old in ctx.tmp.glob("scripts.old.*"):
        shutil.rmtree(old)
    return figures


def print_table(figures: list[Figure]) -> None:
    print(f"{'figure':<46} {'value':>10}  {'ratio':>7}  {'target':<10} met")
    for f in figures:
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else ""
        met = "" if f.met is None else ("yes" if f.met else "NO")
        print(f"{f.name:<46} {f.value:>8.3f} {f.unit:<2} {ratio:>7}  {f.target:<10} {met}")


if __name__ == "__main__":
    context = Context(tmp=Path(tempfile.mkdtemp()), quick="--quick" in sys.argv)
    try:
        print_table(run(context))
    finally:
        shutil.rmtree(context.tmp, ignore_errors=True)
