"""What every benchmark shares: a throwaway PostgreSQL database, settings, a counting SMTP sink,
bulk rows, timing, and the Figure each benchmark reports.

A benchmark module exposes ``run(ctx: Context) -> list[Figure]``; ``bench/run.py``
collects the figures, prints the table and writes ``bench/results.json``.
"""
from __future__ import annotations

import contextlib
import io
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["MAILER_ENV_FILE"] = ""  # a developer's .env never leaks into a benchmark

SERVER_URL = os.environ.get("BENCH_DATABASE_URL",
                            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench-password-1"


@dataclass
class Figure:
    """One measured figure, and what it is measured against (side by side, in the same run)."""

    bench: str
    name: str
    value: float
    unit: str
    baseline: str = ""          # what the ratio compares with
    baseline_value: float | None = None
    ratio: float | None = None  # higher is better unless ``target`` says "<="
    target: str = ""            # e.g. ">= 0.9", "<= 1.3", "<= 3 s"
    met: bool | None = None
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Context:
    """Shared by the benchmarks of one ``make bench`` run."""

    tmp: Path
    quick: bool = False         # smaller sizes, for a smoke run
    extras: dict = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A new PostgreSQL database with the project's migrations applied; dropped afterwards."""
    server = sa.make_url(SERVER_URL)
    name = f"mailer_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        app = make_app(url)
        from flask_migrate import upgrade

        with app.app_context(), contextlib.redirect_stderr(io.StringIO()):  # alembic's log lines
            upgrade(directory=str(ROOT / "migrations"))
            from mailer.extensions import db
            db.engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def settings(database_url: str, tmp: Path, smtp_port: int = 1, **extra) -> dict:
    """The app's settings for a benchmark: production mode, nothing from the developer's machine."""
    return {
        "APP_ENV": "production",
        "SECRET_KEY": "bench-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "BASE_URL": "http://127.0.0.1:5000",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_port,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_USERNAME": None,
        "MAIL_PASSWORD": None,
        "REDIS_URL": None,
        "CACHE_TYPE": "SimpleCache",
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "DEFAULT_TIMEZONE": "UTC",
        "DEFAULT_LANGUAGE": "en",
        "CRONTAB_FILE": str(tmp / "crontab"),
        "SCHEDULER": "flask",
        "SCRIPTS_DIR": str(tmp / "scripts"),
        "CRON_LOG": str(tmp / "cron.log"),
        **extra,
    }


def environment(database_url: str, tmp: Path, smtp_port: int = 1, **extra) -> dict:
    """The same settings as environment variables, for a process of the app's own."""
    env = {**os.environ, "MAILER_ENV_FILE": "", "APP_ENV": "production",
           "SECRET_KEY": "bench-secret-key", "DATABASE_URL": database_url,
           "BASE_URL": "http://127.0.0.1:5000", "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(smtp_port), "MAIL_USE_TLS": "false", "MAIL_USE_SSL": "false",
           "REDIS_URL": "", "RATELIMIT_ENABLED": "false", "DEFAULT_TIMEZONE": "UTC",
           "DEFAULT_LANGUAGE": "en", "CRONTAB_FILE": str(tmp / "crontab"), "SCHEDULER": "flask",
           "SCRIPTS_DIR": str(tmp / "scripts"), "CRON_LOG": str(tmp / "cron.log")}
    env.update({key: str(value) for key, value in extra.items()})
    return env


def make_app(database_url: str, tmp: Path | None = None, **extra):
    from mailer import create_app

    tmp = tmp or Path("/tmp")
    return create_app(settings(database_url, tmp, **extra))


# --- rows in bulk (inside an app context) -------------------------------------------------

def add_user(email: str, role: str = "user", timezone: str = "UTC"):
    from mailer.extensions import db
    from mailer.models import Role, User, utcnow

    user = User(email=email, full_name=email.split("@")[0].title(), role=Role(role),
                timezone=timezone, language="en", email_verified_at=utcnow())
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.commit()
    return user


def add_clients(owner_id: int, count: int, domain: str = "example.com") -> None:
    """``count`` clients "Client n" <client-n@domain>, made by PostgreSQL's generate_series."""
    from mailer.extensions import db

    db.session.execute(sa.text(
        "INSERT INTO clients (owner_id, email, full_name, comment, created_at)"
        " SELECT :owner, 'client-' || n || '@' || :domain, 'Client ' || n, '', now()"
        " FROM generate_series(1, :count) AS n"), {"owner": owner_id, "count": count, "domain": domain})
    db.session.commit()


def add_mailing(owner, *, start, end, subject="News for {{ client.full_name }}",
                body="Dear {{ client.full_name }},\n\nOur news of the week.\n", frequency="daily",
                status="created", all_clients=True):
    """A mailing straight into the database (no cron line), to all the owner's clients."""
    from mailer.extensions import db
    from mailer.models import Frequency, Mailing, MailingStatus, Message

    mailing = Mailing(owner=owner, message=Message(owner=owner, subject=subject, body=body),
                      start_at=start, end_at=end, timezone="UTC", frequency=Frequency(frequency),
                      status=MailingStatus(status))
    db.session.add(mailing)
    db.session.commit()
    if all_clients:
        db.session.execute(sa.text(
            "INSERT INTO mailing_clients (mailing_id, client_id)"
            " SELECT :m, id FROM clients WHERE owner_id = :o"), {"m": mailing.id, "o": owner.id})
        db.session.commit()
    return mailing


# --- measuring -----------------------------------------------------------------------------

def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def median_of(samples: list[float]) -> float:
    return statistics.median(samples)


def alternate(first: Callable[[], float], second: Callable[[], float], rounds: int) -> tuple[list, list]:
    """Measure two things turn about, so drift in the machine affects both alike."""
    a, b = [], []
    for _ in range(rounds):
        a.append(first())
        b.append(second())
    return a, b


_PEAK_RSS = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:])
_pid, status, usage = os.wait4(process.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, file=sys.stderr)
"""


def peak_rss_mb_of(command: list[str], env: dict, cwd: Path = ROOT) -> tuple[int, float, str]:
    """Run a process to its end: (exit status, its peak resident memory in MB, its output).

    It is started from a small Python of its own: a child's peak counts the memory
    of the parent it was forked from, and this benchmark's parent is large.
    """
    done = subprocess.run([sys.executable, "-c", _PEAK_RSS, *command], env=env, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    code, peak_kb = done.stderr.strip().splitlines()[-1].split()
    return int(code), int(peak_kb) / 1024, done.stdout + done.stderr


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": sys.version.split()[0],
            "platform": sys.platform}
