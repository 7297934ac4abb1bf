"""A business of a real size, written straight into PostgreSQL with ``generate_series``.

``fill`` gives one user ``clients`` clients (some unsubscribed, some suppressed,
Cyrillic names), ``mailings`` mailings in every status and frequency, each to a
contiguous slice of about 1% of the clients and a few to all of them, a few
attempts per mailing over the last 90 days, and about ``deliveries`` Delivery
rows: most in the attempts of the mailings to everyone, the rest in the slices'.
Everything is one INSERT ... SELECT per table, so 100,000 clients and a million
deliveries take seconds rather than the hours ORM objects would; the database is
analysed afterwards, as autovacuum would have done by then. Used by the query
plan test (``bench/scale.py`` builds its larger, more varied business the same way).
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

TO_EVERYONE = 5     # mailings of each user that go to all of its clients
ATTEMPTS_EACH = 3   # attempts of each mailing
STATUSES = ("running", "running", "running", "running", "paused", "stopped", "finished", "created")
FREQUENCIES = ("daily", "weekly", "monthly")
ATTEMPT_STATUSES = ("success", "success", "success", "partial", "failure")


@dataclass(frozen=True)
class Filled:
    """What ``fill`` made for one user: ids a page can be asked about."""

    owner_id: int
    everyone_mailing_id: int   # a mailing to all the user's clients
    biggest_attempt_id: int    # one of its attempts, with a delivery per client
    slice_mailing_id: int      # a mailing to a slice of the clients
    clients: int
    mailings: int
    deliveries: int


def fill(connection: sa.Connection, owner_id: int, clients: int, mailings: int,
         deliveries: int) -> Filled:
    """Give user ``owner_id`` a business of this size (see the module's docstring)."""
    run = lambda sql, **params: connection.execute(sa.text(sql), params)  # noqa: E731
    first_client = run(
        "INSERT INTO clients (owner_id, email, full_name, comment, unsubscribed_at, suppressed_at,"
        " suppressed_reason, created_at)"
        " SELECT :owner, 'client' || n || '@u' || :owner || '.example.com',"
        "  CASE WHEN n % 3 = 0 THEN 'Клиент ' || n ELSE 'Client ' || n END, '',"
        "  CASE WHEN n % 50 = 7 THEN now() - interval '3 days' END,"
        "  CASE WHEN n % 40 = 11 THEN now() - interval '5 days' END,"
        "  CASE WHEN n % 40 = 11 THEN '550 5.1.1 user unknown' END,"
        "  now() - (n % 400) * interval '1 day'"
        " FROM generate_series(1, CAST(:clients AS integer)) AS n RETURNING id",
        owner=owner_id, clients=clients).scalars().all()
    low = min(first_client)
    messages = run(
        "INSERT INTO messages (owner_id, subject, body, created_at, updated_at)"
        " SELECT :owner, 'Новости № ' || n, 'Здравствуйте, {{ client.full_name }}! Письмо ' || n,"
        "  now() - n * interval '1 hour', now() - n * interval '1 hour'"
        " FROM generate_series(1, 50) AS n RETURNING id", owner=owner_id).scalars().all()
    run("INSERT INTO mailings (owner_id, message_id, start_at, end_at, timezone, frequency, status,"
        " created_at, updated_at)"
        " SELECT :owner, (CAST(:messages AS integer[]))[1 + n % 50],"
        "  now() - (n % 90) * interval '1 day', now() + (30 + n % 300) * interval '1 day',"
        "  CASE WHEN n % 2 = 0 THEN 'Europe/Moscow' ELSE 'UTC' END,"
        "  (CAST(:frequencies AS text[]))[1 + n % 3], (CAST(:statuses AS text[]))[1 + n % 8],"
        "  now() - n * interval '1 minute', now() - n * interval '1 minute'"
        " FROM generate_series(1, CAST(:mailings AS integer)) AS n",
        owner=owner_id, messages=messages, mailings=mailings,
        frequencies=list(FREQUENCIES), statuses=list(STATUSES))
    mailing_ids = run("SELECT id FROM mailings WHERE owner_id = :owner ORDER BY id",
                      owner=owner_id).scalars().all()
    everyone, sliced = mailing_ids[:TO_EVERYONE], mailing_ids[TO_EVERYONE:]
    width = max(clients // 100, 1)
    run("INSERT INTO mailing_clients (mailing_id, client_id)"
        " SELECT m, c FROM unnest(CAST(:everyone AS integer[])) AS m,"
        "  generate_series(CAST(:low AS integer), CAST(:high AS integer)) AS c", everyone=everyone, low=low, high=low + clients - 1)
    run("INSERT INTO mailing_clients (mailing_id, client_id)"
        " SELECT m.id, :low + ((m.n * :width) % :clients) + k"
        " FROM unnest(CAST(:sliced AS integer[])) WITH ORDINALITY AS m(id, n),"
        "  generate_series(0, CAST(:width AS integer) - 1) AS k"
        " WHERE (m.n * :width) % :clients + k < :clients ON CONFLICT DO NOTHING",
        sliced=sliced, low=low, width=width, clients=clients)
    run("INSERT INTO attempts (mailing_id, occurrence_at, started_at, finished_at, status,"
        " server_response, sent_count, failed_count, manual, planned_at)"
        " SELECT m.id, date_trunc('minute', now()) - (a * 29 + m.n % 29) * interval '1 day',"
        "  date_trunc('minute', now()) - (a * 29 + m.n % 29) * interval '1 day',"
        "  date_trunc('minute', now()) - (a * 29 + m.n % 29) * interval '1 day' + interval '5 minutes',"
        "  (CAST(:statuses AS text[]))[1 + (m.n + a) % 5], '250 2.0.0 Ok', 0, 0, false, now()"
        " FROM unnest(CAST(:mailings AS integer[])) WITH ORDINALITY AS m(id, n),"
        "  generate_series(0, CAST(:each AS integer) - 1) AS a",
        mailings=mailing_ids, each=ATTEMPTS_EACH, statuses=list(ATTEMPT_STATUSES))
    # The attempts of the mailings to everyone get a delivery per client while the budget lasts;
    # the slices' attempts share what is left.
    big = run("SELECT a.id FROM attempts a WHERE a.mailing_id = ANY(:everyone) ORDER BY a.id",
              everyone=everyone).scalars().all()
    full = min(len(big), max(deliveries // clients, 1))
    _deliveries(run, big[:full])
    rest = max(deliveries - full * clients, 0)
    small = run("SELECT a.id FROM attempts a WHERE a.mailing_id = ANY(:sliced) ORDER BY a.id",
                sliced=sliced).scalars().all()
    if rest and small:
        _deliveries(run, small[: max(rest // width, 1)])
    run("UPDATE attempts a SET sent_count = d.sent, failed_count = d.failed FROM ("
        " SELECT attempt_id, count(*) FILTER (WHERE status = 'sent') AS sent,"
        "  count(*) FILTER (WHERE status = 'failed') AS failed"
        " FROM deliveries GROUP BY attempt_id) d WHERE a.id = d.attempt_id"
        " AND a.mailing_id = ANY(:mailings)", mailings=mailing_ids)
    made = run("SELECT count(*) FROM deliveries d JOIN attempts a ON a.id = d.attempt_id"
               " JOIN mailings m ON m.id = a.mailing_id WHERE m.owner_id = :owner",
               owner=owner_id).scalar()
    return Filled(owner_id=owner_id, everyone_mailing_id=everyone[0], biggest_attempt_id=big[0],
                  slice_mailing_id=sliced[0], clients=clients, mailings=mailings, deliveries=made)


def _deliveries(run, attempt_ids: list[int]) -> None:
    """A Delivery for every recipient of each attempt's mailing: one in 25 failed, one in
    200 bounced later."""
    run("INSERT INTO deliveries (attempt_id, client_id, email, status, server_reply, smtp_code,"
        " created_at, bounce, bounce_reason, bounced_at)"
        " SELECT a.id, c.id, c.email,"
        "  CASE WHEN c.id % 25 = 3 THEN 'failed' ELSE 'sent' END,"
        "  CASE WHEN c.id % 25 = 3 THEN '550 5.1.1 <' || c.email || '>: Recipient address rejected'"
        "   ELSE '250 2.0.0 Ok: queued' END,"
        "  CASE WHEN c.id % 25 = 3 THEN 550 ELSE 250 END, a.started_at,"
        "  CASE WHEN c.id % 200 = 17 THEN 'hard' END,"
        "  CASE WHEN c.id % 200 = 17 THEN '5.1.1 user unknown' END,"
        "  CASE WHEN c.id % 200 = 17 THEN a.started_at + interval '1 hour' END"
        " FROM attempts a JOIN mailing_clients mc ON mc.mailing_id = a.mailing_id"
        " JOIN clients c ON c.id = mc.client_id"
        " WHERE a.id = ANY(:attempts)", attempts=attempt_ids)


def analyse(connection: sa.Connection) -> None:
    """Statistics for the planner, as autovacuum would have gathered by now."""
    connection.execute(sa.text("ANALYZE"))
