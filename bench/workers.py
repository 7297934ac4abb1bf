"""Many workers, one PostgreSQL: a send shared by 1, 2 and 4 workers; a global send rate held
by 4; and a crowded minute (many mailings due at once on one host).

Against a sink that takes 5 ms over each letter (``bench/slow_sink.py``), so that
the mail server, not Python, bounds a worker, as with real relays.

- Throughput: one mailing, its due occurrence started by N cron runs at once
  (``python -m mailer.delivery.cron_entry <id>``); letters a second from the
  Attempt's start to its end, against one worker's in the same run.
- Rate: 4 workers under ``MAIL_RATE_PER_SECOND``: letters a second at the sink,
  first letter to last, against the setting (within 5%).
- Crowded minute: mailings of 100 clients, all due now, each started by a cron
  run of its own at the same moment, as cron would on a host (``MAILING_MAX_PARALLEL``
  at its default); the peak resident memory of all those processes together,
  sampled from /proc, and the time until the last letter, against the same
  letters sent by one worker in one run (one mailing to as many clients).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from bench import common
from bench.slow_sink import SlowSink

PYTHON = sys.executable
LETTER_MS = 5


def _mailings(url: str, tmp: Path, count: int, clients: int, tag: str) -> list[int]:
    """``count`` mailings of ``clients`` clients each, every one due a minute ago, each of an
    owner of its own; written in a few statements whatever the count."""
    app = common.make_app(url, tmp)
    from mailer.extensions import db
    from mailer.models import Frequency, Mailing, MailingStatus, Message, Role, User

    with app.app_context():
        now = datetime.now(timezone.utc)
        first = common.add_user(f"owner-{tag}-0@example.com")
        owners = [first] + [User(email=f"owner-{tag}-{n}@example.com", full_name=f"Owner {n}",
                                 role=Role.USER, timezone="UTC", language="en",
                                 email_verified_at=now, password_hash=first.password_hash)
                            for n in range(1, count)]
        db.session.add_all(owners[1:])
        mailings = [Mailing(owner=owner, message=Message(owner=owner, subject="News for {{ client.full_name }}",
                                                         body="Dear {{ client.full_name }},\n\nOur news.\n"),
                            start_at=now - timedelta(minutes=1), end_at=now + timedelta(days=30),
                            timezone="UTC", frequency=Frequency.DAILY, status=MailingStatus.CREATED)
                    for owner in owners]
        db.session.add_all(mailings)
        db.session.commit()
        ids = [mailing.id for mailing in mailings]
        db.session.execute(sa.text(
            "INSERT INTO clients (owner_id, email, full_name, comment, created_at)"
            " SELECT m.owner_id, 'client-' || n || '@' || m.owner_id || '.example.com', 'Client ' || n, '', now()"
            " FROM mailings m CROSS JOIN generate_series(1, :clients) AS n WHERE m.id = ANY(:ids)"),
            {"clients": clients, "ids": ids})
        db.session.execute(sa.text(
            "INSERT INTO mailing_clients (mailing_id, client_id)"
            " SELECT m.id, c.id FROM mailings m JOIN clients c ON c.owner_id = m.owner_id"
            " WHERE m.id = ANY(:ids)"), {"ids": ids})
        db.session.commit()
        db.engine.dispose()
    return ids


def _attempt_seconds(url: str, mailing_ids: list[int]) -> tuple[int, float]:
    """Letters sent by the mailings' attempts, and the seconds from the first start to the last end."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        sent, started, finished = conn.execute(sa.text(
            "SELECT sum(sent_count), min(started_at), max(finished_at) FROM attempts"
            " WHERE mailing_id = ANY(:ids) AND status = 'success'"), {"ids": mailing_ids}).one()
        unfinished = conn.execute(sa.text(
            "SELECT count(*) FROM attempts WHERE mailing_id = ANY(:ids) AND status <> 'success'"),
            {"ids": mailing_ids}).scalar()
    engine.dispose()
    if unfinished or sent is None:
        raise RuntimeError(f"{unfinished} attempt(s) did not succeed")
    return int(sent), (finished - started).total_seconds()


def _runs(env: dict, mailing_ids: list[int], per_mailing: int = 1) -> list[subprocess.Popen]:
    return [subprocess.Popen([PYTHON, "-m", "mailer.delivery.cron_entry", str(mailing_id)],
                             cwd=common.ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
            for mailing_id in mailing_ids for _ in range(per_mailing)]


def _finish(runs: list[subprocess.Popen]) -> None:
    for run in runs:
        output = run.communicate(timeout=1800)[0]
        if run.returncode != 0:
            raise RuntimeError(f"a run failed (exit {run.returncode}): {output}")


def _one_send(url: str, tmp: Path, clients: int, workers: int, **settings) -> tuple[float, SlowSink]:
    (mailing_id,) = _mailings(url, tmp, 1, clients, f"w{workers}-{len(settings)}")
    with SlowSink(LETTER_MS) as sink:
        env = common.environment(url, tmp, sink.port, MAILING_MAX_PARALLEL=workers, **settings)
        _finish(_runs(env, [mailing_id], per_mailing=workers))
    sent, seconds = _attempt_seconds(url, [mailing_id])
    if sink.letters != clients or sent != clients:
        raise RuntimeError(f"{workers} workers: the sink got {sink.letters}, the attempt says {sent}")
    return clients / seconds, sink


def throughput(ctx: common.Context, url: str) -> list[common.Figure]:
    clients = 1_000 if ctx.quick else 6_000
    one, _ = _one_send(url, ctx.tmp, clients, 1)
    figures = []
    for workers in (2, 4):
        rate, _ = _one_send(url, ctx.tmp, clients, workers)
        ratio = rate / one
        figures.append(common.Figure(
            "workers", f"one send to {clients:,} clients by {workers} workers ({LETTER_MS} ms a letter)",
            round(rate), "letters/s", "1 worker", round(one), round(ratio, 2),
            f">= {0.8 * workers:.1f}", ratio >= 0.8 * workers))
    return figures


def rate_held(ctx: common.Context, url: str) -> list[common.Figure]:
    limit = 150
    clients = 600 if ctx.quick else 3_000
    _rate, sink = _one_send(url, ctx.tmp, clients, 4, MAIL_RATE_PER_SECOND=limit)
    off = abs(sink.rate - limit) / limit
    return [common.Figure(
        "workers", f"MAIL_RATE_PER_SECOND={limit} held by 4 workers, at the sink", round(sink.rate, 1),
        "letters/s", "the setting", limit, round(sink.rate / limit, 3), "within 5%", off <= 0.05,
        f"{100 * off:.1f}% off over {clients:,} letters")]


class _HostMemory:
    """The summed resident memory of every live process started by this one (and theirs),
    sampled every 20 ms; ``peak`` in MB."""

    def __init__(self, *, besides: int) -> None:
        self.besides = besides  # a child that is not a sender (the sink)
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _HostMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.02):
            total = 0
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/stat") as stat:
                        parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                    if parent != me or int(pid) == self.besides:
                        continue
                    with open(f"/proc/{pid}/status") as status:
                        for line in status:
                            if line.startswith("VmRSS:"):
                                total += int(line.split()[1])
                except (OSError, ValueError, IndexError):
                    continue
            self.peak = max(self.peak, total / 1024)


def crowded_minute(ctx: common.Context, url: str) -> list[common.Figure]:
    mailings = 200 if ctx.quick else 1_000
    ids = _mailings(url, ctx.tmp, mailings, 100, "crowd")
    with SlowSink(LETTER_MS) as sink:
        env = common.environment(url, ctx.tmp, sink.port)
        started = time.time()
        with _HostMemory(besides=sink.pid) as memory:
            _finish(_runs(env, ids))
    crowd_seconds = sink.last - started
    if sink.letters != mailings * 100:
        raise RuntimeError(f"the crowd sent {sink.letters} letters of {mailings * 100}")
    (single,) = _mailings(url, ctx.tmp, 1, mailings * 100, "single")
    with SlowSink(LETTER_MS) as sink:
        env = common.environment(url, ctx.tmp, sink.port)
        started = time.time()
        with _HostMemory(besides=sink.pid) as alone:
            _finish(_runs(env, [single]))
    single_seconds = sink.last - started
    from mailer.delivery.host_slots import default_parallel

    return [
        common.Figure("workers", f"{mailings:,} mailings of 100 due in one minute: time to the last letter",
                      round(crowd_seconds, 1), "s", "one worker, one send of as many letters",
                      round(single_seconds, 1), round(single_seconds / crowd_seconds, 2),
                      note=f"MAILING_MAX_PARALLEL={default_parallel()} on this host"),
        common.Figure("workers", f"{mailings:,} mailings of 100 due in one minute: peak memory of all "
                      "their processes", round(memory.peak), "MB", "one worker's peak",
                      round(alone.peak), None),
    ]


def run(ctx: common.Context) -> list[common.Figure]:
    with common.throwaway_database() as url:
        return throughput(ctx, url) + rate_held(ctx, url) + crowded_minute(ctx, url)


if __name__ == "__main__":
    for figure in run(common.Context(tmp=Path(tempfile.mkdtemp()), quick="--quick" in sys.argv)):
        print(figure)
