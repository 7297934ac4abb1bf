"""Delivery: one mailing's run against the bare ``smtplib`` loop, and its memory at 100,000 clients.

Throughput: the engine's run (``python -m mailer.delivery.cron_entry <id>
--ignore-schedule``, the process the web app starts) sends a mailing to
10,000 clients through a counting aiosmtpd sink, with Delivery checkpoints,
unsubscribe links and headers and per-client personalisation; the bare loop
(``bench/bare_send.py``) sends the same number of messages of the same shape,
built beforehand, over one connection to the same sink. Each side is timed
over its sending only (the Attempt's start to finish; the loop's first to last
message), and as whole processes; the two alternate, best of the rounds.

Memory: the same run to 100,000 clients, as a process whose peak resident
memory the kernel reports (``wait4``).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

from bench import common
from bench.sink import CountingSink

PYTHON = sys.executable
MEMORY_TARGET_MB = 100


def _mailing(url: str, tmp: Path, clients: int) -> int:
    app = common.make_app(url, tmp)
    with app.app_context():
        owner = common.add_user(f"owner-{clients}@example.com")
        common.add_clients(owner.id, clients, domain=f"c{clients}.example.com")
        now = datetime.now(timezone.utc)
        mailing = common.add_mailing(owner, start=now + timedelta(days=1), end=now + timedelta(days=30))
        from mailer.extensions import db
        mailing_id = mailing.id
        db.engine.dispose()
    return mailing_id


def _last_attempt(url: str, mailing_id: int):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT status, sent_count, failed_count, started_at, finished_at FROM attempts"
            " WHERE mailing_id = :m ORDER BY id DESC LIMIT 1"), {"m": mailing_id}).one()
    engine.dispose()
    return row


def _engine_run(url, tmp, mailing_id, sink, clients) -> tuple[float, float]:
    """(seconds sending, seconds of the whole process) for one forced run of the mailing."""
    sink.reset()
    env = common.environment(url, tmp, sink.port, MAIL_DEFAULT_SENDER="Mailer <noreply@localhost>")
    started = time.perf_counter()
    done = subprocess.run([PYTHON, "-m", "mailer.delivery.cron_entry", str(mailing_id),
                           "--ignore-schedule"], cwd=common.ROOT, env=env,
                          capture_output=True, text=True)
    whole = time.perf_counter() - started
    attempt = _last_attempt(url, mailing_id)
    if done.returncode != 0 or attempt.sent_count != clients or sink.wait_for(clients) != clients:
        raise RuntimeError(f"the run did not deliver {clients}: exit {done.returncode}, "
                           f"{attempt.sent_count} sent, sink got {sink.messages}; {done.stdout}")
    if sink.distinct_recipients() != clients:
        raise RuntimeError("some client got two copies or none")
    return (attempt.finished_at - attempt.started_at).total_seconds(), whole


def _bare_run(sink, count) -> tuple[float, float]:
    sink.reset()
    started = time.perf_counter()
    done = subprocess.run([PYTHON, "-m", "bench.bare_send", str(sink.port), str(count)],
                          cwd=common.ROOT, capture_output=True, text=True, check=True)
    whole = time.perf_counter() - started
    if sink.wait_for(count) != count:
        raise RuntimeError(f"the bare loop delivered {sink.messages} of {count}")
    return float(done.stdout.strip()), whole


def throughput(ctx: common.Context, url: str) -> list[common.Figure]:
    clients = 2_000 if ctx.quick else 10_000
    rounds = 1 if ctx.quick else 3
    mailing_id = _mailing(url, ctx.tmp, clients)
    engine_runs, bare_runs = [], []
    with CountingSink() as sink:
        for _ in range(rounds):
            bare_runs.append(_bare_run(sink, clients))
            engine_runs.append(_engine_run(url, ctx.tmp, mailing_id, sink, clients))
    engine_send, engine_whole = min(r[0] for r in engine_runs), min(r[1] for r in engine_runs)
    bare_send, bare_whole = min(r[0] for r in bare_runs), min(r[1] for r in bare_runs)
    engine_rate, bare_rate = clients / engine_send, clients / bare_send
    ratio = engine_rate / bare_rate
    whole_ratio = (clients / engine_whole) / (clients / bare_whole)
    return [
        common.Figure("delivery", f"mailing to {clients:,} clients, sending", round(engine_rate),
                      "msg/s", "bare smtplib loop, one connection", round(bare_rate),
                      round(ratio, 3), ">= 0.9", ratio >= 0.9,
                      f"best of {rounds}; sending {engine_send:.2f} s vs {bare_send:.2f} s"),
        common.Figure("delivery", f"mailing to {clients:,} clients, whole process", round(clients / engine_whole),
                      "msg/s", "bare loop process (messages built first)", round(clients / bare_whole),
                      round(whole_ratio, 3), "", None,
                      f"{engine_whole:.2f} s vs {bare_whole:.2f} s, start-up and set-up included"),
    ]


def memory(ctx: common.Context, url: str) -> list[common.Figure]:
    clients = 20_000 if ctx.quick else 100_000
    mailing_id = _mailing(url, ctx.tmp, clients)
    with CountingSink() as sink:
        env = common.environment(url, ctx.tmp, sink.port)
        code, peak, output = common.peak_rss_mb_of(
            [PYTHON, "-m", "mailer.delivery.cron_entry", str(mailing_id), "--ignore-schedule"], env)
        if code != 0 or sink.wait_for(clients) != clients:
            raise RuntimeError(f"the run failed (exit {code}, sink got {sink.messages}): {output}")
    with CountingSink() as idle:
        env = common.environment(url, ctx.tmp, idle.port)
        _code, idle_peak, _ = common.peak_rss_mb_of(
            [PYTHON, "-c", "import mailer.app, mailer.delivery.engine; mailer.app.create_app()"], env)
    return [common.Figure(
        "delivery", f"peak memory, mailing to {clients:,} clients", round(peak, 1), "MB",
        "the app created, nothing sent", round(idle_peak, 1), None, f"< {MEMORY_TARGET_MB} MB",
        peak < MEMORY_TARGET_MB, f"{peak - idle_peak:.1f} MB above the bare app")]


def run(ctx: common.Context) -> list[common.Figure]:
    with common.throwaway_database() as url:
        return throughput(ctx, url) + memory(ctx, url)


if __name__ == "__main__":
    for figure in run(common.Context(tmp=Path(tempfile.mkdtemp()), quick="--quick" in sys.argv)):
        print(figure)
