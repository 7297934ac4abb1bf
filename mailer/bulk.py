"""Many rows in one statement.

``clients`` and ``mailing_clients`` carry statement triggers that keep the tallies
(``OwnerTally``). An ``executemany`` is one statement per row to psycopg, so those
triggers would fire 100,000 times for an import of 100,000 clients (six minutes
instead of fifteen seconds), and a multi-row ``VALUES`` of thousands of rows
costs SQLAlchemy half a second to compile. On PostgreSQL the rows therefore go
as one array per column, unnested by one statement whatever their number; on
SQLite, whose triggers are per row anyway, as an ``executemany``.

Column names come from the table, never from the rows' values.
"""
from __future__ import annotations

import sqlalchemy as sa

from mailer.extensions import db


def _on_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _with_defaults(table: sa.Table, rows: list[dict]) -> list[dict]:
    """The rows with the table's Python-side defaults for the columns they leave out (one
    value for all: an import happens at one moment)."""
    missing = {}
    for column in table.c:
        default = column.default
        if column.name in rows[0] or default is None or not (default.is_scalar or default.is_callable):
            continue
        missing[column.name] = default.arg(None) if default.is_callable else default.arg
    return [{**row, **missing} for row in rows] if missing else rows


def _arrays(table: sa.Table, names: list[str]) -> str:
    dialect = db.session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    return ", ".join(f"CAST(:{name} AS {table.c[name].type.compile(dialect)}[])" for name in names), \
        ", ".join(quote(name) for name in names)


def insert_rows(table: sa.Table, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``."""
    if not rows:
        return
    if not _on_postgresql():
        db.session.execute(sa.insert(table), rows)
        return
    rows = _with_defaults(table, rows)
    names = list(rows[0])
    arrays, columns = _arrays(table, names)
    db.session.execute(
        sa.text(f"INSERT INTO {table.name} ({columns}) SELECT * FROM unnest({arrays})"),
        {name: [row[name] for row in rows] for name in names})


def update_rows(table: sa.Table, rows: list[dict], key: str = "id") -> None:
    """Set the other fields of each of ``rows`` on the row of ``table`` whose ``key`` it names."""
    if not rows:
        return
    if not _on_postgresql():
        db.session.execute(sa.update(table), rows)
        return
    names = list(rows[0])
    arrays, columns = _arrays(table, names)
    quote = db.session.get_bind().dialect.identifier_preparer.quote
    settings = ", ".join(f"{quote(name)} = given.{quote(name)}" for name in names if name != key)
    db.session.execute(
        sa.text(f"UPDATE {table.name} SET {settings} FROM unnest({arrays}) AS given({columns})"
                f" WHERE {table.name}.{quote(key)} = given.{quote(key)}"),
        {name: [row[name] for row in rows] for name in names})
