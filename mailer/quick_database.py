"""The database as the cron lines' quick paths reach it: without the app or its models.

A mailing's line and the sync line run every few minutes on every host, and
nearly every run only reads a row or two and exits; building the app would
cost each of them a second and 80 MB. So they talk to PostgreSQL through
psycopg alone (importing SQLAlchemy costs more than the whole look) and to any
other database (SQLite, the embedded default) through SQLAlchemy Core. Each
entry point (``delivery.cron_entry``, ``scheduling.sync_entry``) wraps the
connection given here in a class of its own queries.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator
from urllib.parse import parse_qsl, unquote, urlsplit

POSTGRESQL_SCHEMES = ("postgresql", "postgresql+psycopg", "postgres")


def is_postgresql(database_url: str) -> bool:
    return urlsplit(database_url).scheme in POSTGRESQL_SCHEMES


@contextmanager
def postgres(database_url: str) -> Iterator:
    """A psycopg connection, committed when the block ends."""
    import psycopg

    url = urlsplit(database_url)
    params = {"host": url.hostname, "port": url.port, "dbname": unquote(url.path.lstrip("/")),
              "user": unquote(url.username or ""), "password": unquote(url.password or ""),
              **dict(parse_qsl(url.query))}
    with psycopg.connect(**{key: value for key, value in params.items() if value}) as connection:
        yield connection


@contextmanager
def core(database_url: str) -> Iterator:
    """A SQLAlchemy Core connection in a transaction, committed when the block ends."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


@contextmanager
def opened(database_url: str, on_postgresql, elsewhere) -> Iterator:
    """``on_postgresql(connection)`` on a psycopg connection, or ``elsewhere(connection)`` on a
    Core one: the entry point's queries, over the connection its database needs."""
    if is_postgresql(database_url):
        with postgres(database_url) as connection:
            yield on_postgresql(connection)
    else:
        with core(database_url) as connection:
            yield elsewhere(connection)


def utc(value: datetime | None) -> datetime | None:
    """A time read back aware and in UTC (SQLite keeps no zone)."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def is_database_error(error: Exception) -> bool:
    """A driver's or SQLAlchemy's error, told apart without importing either."""
    return any(cls.__module__.split(".")[0] in ("sqlalchemy", "psycopg", "sqlite3")
               for cls in type(error).__mro__)
