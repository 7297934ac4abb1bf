"""Every page a user or a manager opens reads the big tables through their indexes.

A business of a real shape (``tests/bulk_data.py``: the signed-in user's 20,000
clients among 60,000, 200 mailings, 150,000 deliveries among 250,000) is written
into PostgreSQL and analysed; each page is requested, every SELECT it ran is
caught as it went to the database, and PostgreSQL's own plan for it (``EXPLAIN``,
with the same parameters) must not read ``clients``, ``deliveries`` or
``mailing_clients`` from end to end: a sequential scan there costs a page time
in proportion to the whole table, whatever the page shows. The test names every
page and statement that does.

A CSV export reads its rows through a server-side cursor, which PostgreSQL plans
for the first tenth of the rows (``cursor_tuple_fraction``), so such a statement
is explained as the ``DECLARE ... CURSOR`` it was; the body is read while the
statements are caught, since a streamed export queries as it is written.
"""
from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest
import sqlalchemy as sa

from mailer.models import Role
from tests import bulk_data

BIG_TABLES = {"clients", "deliveries", "mailing_clients"}


def sequential_scans(plan: dict) -> set[str]:
    found = set()
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in BIG_TABLES:
        found.add(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found |= sequential_scans(child)
    return found


TOP_N_INPUT = 100  # rows a page's LIMIT may be picked from by sorting (a page shows 25 or 50)


def sorted_for_a_page(plan: dict, under_limit: bool = False) -> list[str]:
    """Sorts that read more rows than a page to keep its first few: a LIMIT over a sort of all
    of an owner's rows costs in proportion to them, where an index in the page's order
    would read only the page."""
    found = []
    if under_limit and plan.get("Node Type") == "Sort":
        read = sum(child.get("Plan Rows", 0) for child in plan.get("Plans", []))
        if read > TOP_N_INPUT:
            found.append(f"sorts {read} rows by {', '.join(plan.get('Sort Key', []))}")
    for child in plan.get("Plans", []):
        found += sorted_for_a_page(child, plan.get("Node Type") == "Limit")
    return found


class StatementCatcher:
    """The SELECTs an app sends while it is listening, with their parameters, and whether each
    went through a server-side cursor."""

    def __init__(self):
        self.caught: list[tuple[str, object, bool]] = []

    def _caught(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            self.caught.append((statement, parameters, isinstance(cursor, psycopg.ServerCursor)))

    def __enter__(self):
        sa.event.listen(sa.Engine, "before_cursor_execute", self._caught)
        return self

    def __exit__(self, *exc):
        sa.event.remove(sa.Engine, "before_cursor_execute", self._caught)


def plan_of(db, statement: str, parameters, server_side: bool = False) -> dict:
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        declared = "DECLARE explained NO SCROLL CURSOR FOR " if server_side else ""
        cursor.execute("EXPLAIN (FORMAT JSON) " + declared + statement, parameters)
        (plan,) = cursor.fetchone()
        return plan[0]["Plan"]
    finally:
        raw.close()


@pytest.fixture
def business(db, make_user):
    """The signed-in user's business and two others of the same size, analysed."""
    if db.engine.dialect.name != "postgresql":
        pytest.fail("the query plan test reads PostgreSQL's plans: run it on PostgreSQL")
    owner = make_user(email="user@example.com", full_name="Olivia Owner", language="en")
    others = [make_user(email=f"other{n}@example.com") for n in (1, 2)]
    make_user(email="manager@example.com", role=Role.MANAGER)
    connection = db.session.connection()
    filled = bulk_data.fill(connection, owner.id, clients=20_000, mailings=200, deliveries=150_000)
    for other in others:
        bulk_data.fill(connection, other.id, clients=20_000, mailings=100, deliveries=50_000)
    db.session.commit()
    bulk_data.analyse(db.session.connection())
    db.session.commit()
    return filled


def middle_row(db, sql: str, **params) -> int:
    """The id of a row halfway down a list: the anchor of a page deep in it."""
    return db.session.execute(sa.text(sql + " OFFSET 10000 LIMIT 1"), params).scalar_one()


def owner_pages(db, filled: bulk_data.Filled) -> list[str]:
    last_month = (date.today() - timedelta(days=30)).isoformat()
    mailing, attempt = filled.everyone_mailing_id, filled.biggest_attempt_id
    client = middle_row(db, "SELECT id FROM clients WHERE owner_id = :owner ORDER BY email, id",
                        owner=filled.owner_id)
    delivery = middle_row(db, "SELECT id FROM deliveries WHERE attempt_id = :attempt"
                              " ORDER BY status, email, id", attempt=attempt)
    return [
        "/",
        "/clients/", "/clients/?q=client1234", "/clients/?q=Клиент 99",
        "/clients/?show=suppressed", "/clients/?show=unsubscribed", "/clients/?at=last",
        f"/clients/?after={client}", f"/clients/?before={client}", f"/clients/?q=client1&after={client}",
        "/clients/search.json?q=client77",
        "/messages/",
        "/mailings/", "/mailings/?at=last",
        f"/mailings/{mailing}", f"/mailings/{filled.slice_mailing_id}",
        f"/mailings/{mailing}/attempts/{attempt}", f"/mailings/{mailing}/attempts/{attempt}?at=last",
        f"/mailings/{mailing}/attempts/{attempt}?after={delivery}",
        f"/mailings/{mailing}/attempts/{attempt}?before={delivery}",
        "/attempts/", f"/attempts/?mailing={mailing}", "/attempts/?status=failure",
        f"/attempts/?date_from={last_month}&date_to={date.today().isoformat()}",
        "/attempts/deliveries.csv", f"/attempts/deliveries.csv?mailing={mailing}",
        f"/attempts/deliveries.csv?date_from={last_month}",
        f"/mailings/{mailing}/attempts/{attempt}/deliveries.csv",
    ]


MANAGER_PAGES = [
    "/", "/manager/mailings", "/manager/mailings?status=paused",
    "/manager/mailings?owner=user@example.com", "/manager/mailings?at=last", "/manager/users", "/manager/users?q=other",
    "/attempts/", "/attempts/?status=partial", "/attempts/deliveries.csv",
]


def test_no_page_reads_a_big_table_end_to_end(db, business, client, auth):
    pages = [("user@example.com", page) for page in owner_pages(db, business)]
    pages += [("manager@example.com", page) for page in MANAGER_PAGES]
    pages.append(("manager@example.com", f"/manager/mailings/{business.everyone_mailing_id}"))
    problems, signed_in = [], None
    for email, page in pages:
        if email != signed_in:
            auth.login(email)
            signed_in = email
        with StatementCatcher() as catcher:
            response = client.get(page)
            response.get_data()
        assert response.status_code == 200, (page, response.status_code)
        assert catcher.caught, page
        for statement, parameters, server_side in catcher.caught:
            plan = plan_of(db, statement, parameters, server_side)
            scanned = sequential_scans(plan)
            if scanned:
                problems.append(f"{page}: {', '.join(sorted(scanned))} scanned by "
                                f"{' '.join(statement.split())[:300]}")
            problems += [f"{page}: {sort} for {' '.join(statement.split())[:300]}"
                         for sort in sorted_for_a_page(plan)]
    assert not problems, "\n".join(problems)
