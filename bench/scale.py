"""How each signed-in page's cost grows with the data: 1,000, 10,000 and 100,000 clients.

Data. One throwaway PostgreSQL database (the app's migrations) holds three
owners of 1,000, 10,000 and 100,000 clients (``--quick``: 100, 1,000 and
10,000), written with one ``INSERT ... SELECT FROM generate_series`` per table
and owner, never ORM objects. Each owner has 50 messages and 1,000 mailings:
mostly running, some created (starting later, never sent), paused, stopped
and finished; daily, weekly and monthly; half of them in Europe/Moscow, half
in UTC. 995 mailings each go to a contiguous range of 1% of the owner's
clients, the 5 newest to all of them. Every mailing that has sent has 3
attempts, 29 days apart, over the last 90 days (the newest mailing to
everyone, the "big" one, has 5, 20 days apart), mostly successful, some
partial or failed, one in 97 still sending. Delivery rows, about 10 per
client: a delivery per client in each of the big mailing's 5 attempts, in the
newest attempt of the other 4 mailings to everyone, and in the newest attempt
of 99 of the 1% mailings (999,000 rows for the owner of 100,000 clients); the
other attempts keep their counts but no rows, as if their history had been
pruned. One in 50 deliveries failed, some bounced later or were reported as
spam. Clients: Cyrillic and Latin
names, one in 37 suppressed, one in 53 unsubscribed. A manager (role
``manager``) signs in for the manager pages, which see every owner, so they
are measured once, on the whole database. Then ``VACUUM ANALYZE``, as
autovacuum would have done by then. The generation time is printed and
reported.

Pages. Each owner's pages, signed in as that owner, under gunicorn (2 sync
workers, as bench/web.py runs it) and wrk (2 threads, 32 connections; 3 s per
URL, ``--quick`` 1 s), each URL after a 1 s warm-up. ``?at=last`` is the last
page of a list (its "Last" link). Between runs the server is drained
(two /healthz requests asked together come back only once the workers have
served what wrk left queued) and left idle for half a second. Per page and size:

- req/s under wrk, and its ratio to /healthz (no database, no template),
  measured in the same run before each owner's pages and at the end (the
  baseline is the mean of those runs); the target, at the largest size and for
  the manager pages, is the issue's: a list serves at least 0.3 of /healthz;
- ms: the median of 5 requests sent one at a time to the idle server ("alone",
  the cost of one request; wrk's mean latency, which adds the queue of 32
  connections in front of 2 workers, is in the note).

Exports. ``/clients/export.csv`` of the largest owner; the reports' two,
``/attempts/export.csv`` (a row per attempt) and ``/attempts/deliveries.csv`` (a
row per letter: the largest owner's 999,000, ``--quick`` 99,900), as that owner
and as the manager, who exports every owner's; each on a fresh gunicorn
(``--timeout 150``, so a slow export is measured rather than killed after
gunicorn's default 30 s): time to the first body byte and to the last, read by
http.client in 64 KiB chunks and thrown away, and the peak resident memory
(VmHWM) of the gunicorn workers before and after. More than 120 s is reported
as a timeout.

Import. A CSV of 100,000 new clients (``--quick``: 10,000) through
``mailer.clients.services.import_clients`` in an app context, against a bare
PostgreSQL ``COPY`` of the same file into a scratch table without indexes, side
by side (the parse and check of the file alone is in the note).

Where the time goes. The pages of the largest owner and the manager's pages once
more in-process (Flask's test client, the same database), the median of 5 warm
requests: each statement timed by SQLAlchemy's cursor events (the page's SQL time
and its 3 slowest statements), the template's own time by Flask's render signals,
and the rest (Flask, the session, Flask-Login's user, the view, the ORM's Python).
"""
from __future__ import annotations

import http.client
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from bench import common, web
from bench.common import Context, Figure

SIZES, QUICK_SIZES = (1_000, 10_000, 100_000), (100, 1_000, 10_000)
MESSAGES, MAILINGS, TO_EVERYONE = 50, 1_000, 5
RUNS, BIG_RUNS = 3, 5            # attempts per mailing that has sent; of the big mailing
SLICES_WITH_ROWS = 10            # every 10th of the 1% mailings keeps its newest attempt's rows
OWNER_TZ = "Europe/Moscow"
MANAGER = "manager@scale.example.com"
IMPORTER = "import@scale.example.com"
RARE_NAME = "Ёлкина"             # the name of exactly 3 clients of each owner (the search)
TARGET = 0.3                     # issue 20: a list serves >= 0.3 of /healthz at 100k
WRK_TIMEOUT = 30                 # s; wrk's own 2 s would drop the slow pages' responses
ALONE = 5                        # requests one at a time, for "ms alone"
EXPORT_LIMIT = 120               # s
PAUSE = 0.5                      # s of idle server before each measured run


def owner_email(clients: int) -> str:
    return f"owner-{short(clients)}@scale.example.com"


def short(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


# --- the data ------------------------------------------------------------------------------

@dataclass
class Owner:
    email: str
    clients: int
    id: int = 0
    big_mailing: int = 0         # the newest mailing to all clients (5 attempts with rows)
    big_attempt: int = 0         # its newest attempt: a delivery per client
    big_attempt_rows: int = 0
    deliveries: int = 0
    attempts: int = 0
    mailing_clients: int = 0


SURNAMES = [("ivanov", "Иванов"), ("petrova", "Петрова"), ("smirnov", "Смирнов"),
            ("kuznetsova", "Кузнецова"), ("popov", "Попов"), ("sokolova", "Соколова"),
            ("lebedev", "Лебедев"), ("kozlova", "Козлова"), ("smith", "Smith"),
            ("jones", "Jones"), ("novikov", "Новиков"), ("morozova", "Морозова"),
            ("fyodorov", "Фёдоров")]
FIRST_NAMES = ["Иван", "Мария", "Алексей", "Ольга", "Дмитрий", "Анна", "Сергей", "Елена",
               "John", "Emma", "Юрий"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example.ru", "shop.example.com"]
SUBJECTS = ["Новости недели", "Скидки для вас, {{ client.full_name }}", "Weekly digest",
            "Приглашение на вебинар", "Напоминание об оплате"]
# Mailing i (1-based, oldest first) of the 995 to a slice has status STATUSES[i % 20].
STATUSES = (["running"] * 14) + ["created", "created", "paused", "stopped", "finished", "finished"]


def _fill_owner(conn: sa.Connection, owner: Owner, step: dict) -> None:
    """One owner's clients, messages, mailings, recipients, attempts and deliveries."""
    def run(sql: str, **params):
        return conn.execute(sa.text(sql), {"owner": owner.id, **params})

    def timed_step(name: str, sql: str, **params):
        started = time.perf_counter()
        result = run(sql, **params)
        step[name] = step.get(name, 0.0) + time.perf_counter() - started
        return result

    n_clients = owner.clients
    width = max(n_clients // 100, 1)
    slices = MAILINGS - TO_EVERYONE
    run("SET LOCAL synchronous_commit = off")
    timed_step("clients", """
        INSERT INTO clients (owner_id, email, full_name, comment, unsubscribed_at, suppressed_at,
                             suppressed_reason, created_at)
        SELECT :owner,
               'c' || n || '.' || (CAST(:latin AS text[]))[1 + n % 13] || '@'
                   || (CAST(:domains AS text[]))[1 + n % 5],
               CASE WHEN n IN (17, 517, 917) THEN 'Дарья ' || :rare
                    ELSE (CAST(:first AS text[]))[1 + n % 11] || ' '
                         || (CAST(:cyrillic AS text[]))[1 + n % 13] END,
               CASE WHEN n % 9 = 0 THEN 'Постоянный клиент, скидка ' || n % 20 || '%' ELSE '' END,
               CASE WHEN n % 53 = 0 THEN now() - (n % 300) * interval '1 day' END,
               CASE WHEN n % 37 = 0 THEN now() - (n % 80) * interval '1 day' END,
               CASE WHEN n % 37 = 0 THEN '550 5.1.1 <c' || n
                    || '>: Recipient address rejected: User unknown in virtual mailbox table' END,
               now() - (CAST(:count AS integer) - n + 1)
                       * (interval '730 days' / CAST(:count AS integer))
        FROM generate_series(1, CAST(:count AS integer)) AS n""",
              count=n_clients, latin=[s[0] for s in SURNAMES], cyrillic=[s[1] for s in SURNAMES],
              first=FIRST_NAMES, domains=DOMAINS, rare=RARE_NAME)
    low, high, count = run(
        "SELECT min(id), max(id), count(*) FROM clients WHERE owner_id = :owner").one()
    assert high - low + 1 == count == n_clients, "clients' ids are not contiguous"
    timed_step("messages, mailings", """
        INSERT INTO messages (owner_id, subject, body, created_at, updated_at)
        SELECT :owner, (CAST(:subjects AS text[]))[1 + k % 5] || ' №' || k,
               'Здравствуйте, {{ client.full_name }}!' || E'\\n\\n'
                   || repeat('Текст письма номер ' || k || '. ', 40)
                   || E'\\n\\nС уважением,\\nКоманда',
               now() - (120 - k) * interval '1 day', now() - (120 - k) * interval '1 day'
        FROM generate_series(1, CAST(:count AS integer)) AS k""", subjects=SUBJECTS, count=MESSAGES)
    # Mailing i is the i-th oldest (created_at grows with i); the last TO_EVERYONE go to everyone.
    timed_step("messages, mailings", """
        WITH msg AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS r
                     FROM messages WHERE owner_id = :owner),
             s AS (SELECT i, CASE WHEN i > :slices THEN 'running'
                                  ELSE (CAST(:statuses AS text[]))[1 + i % 20] END AS status
                   FROM generate_series(1, CAST(:mailings AS integer)) AS i)
        INSERT INTO mailings (owner_id, message_id, start_at, end_at, timezone, frequency, status,
                              stop_reason, created_at, updated_at)
        SELECT :owner, msg.id,
               CASE s.status WHEN 'finished' THEN now() - interval '200 days'
                             WHEN 'created' THEN now() + (1 + i % 10) * interval '1 day'
                             ELSE now() - (92 + i % 30) * interval '1 day' END,
               CASE s.status WHEN 'finished' THEN now() - (1 + i % 5) * interval '1 day'
                             WHEN 'created' THEN now() + (60 + i % 300) * interval '1 day'
                             ELSE now() + (30 + i % 300) * interval '1 day' END,
               CASE WHEN i % 2 = 0 THEN 'Europe/Moscow' ELSE 'UTC' END,
               (ARRAY['daily', 'weekly', 'monthly'])[1 + i % 3], s.status,
               CASE WHEN s.status = 'stopped'
                    THEN 'Stopped by a manager: complaints about spam' END,
               now() - (CAST(:mailings AS integer) - i + 1) * interval '3 hours',
               now() - (CAST(:mailings AS integer) - i + 1) * interval '3 hours'
        FROM s JOIN msg ON msg.r = s.i % CAST(:messages AS integer)
        ORDER BY s.i""", slices=slices, statuses=STATUSES, mailings=MAILINGS, messages=MESSAGES)
    numbered = ("WITH m AS (SELECT id, status, row_number() OVER (ORDER BY created_at, id) AS i"
                " FROM mailings WHERE owner_id = :owner) ")
    timed_step("mailing_clients", numbered + """
        INSERT INTO mailing_clients (mailing_id, client_id)
        SELECT m.id, c
        FROM m, LATERAL generate_series(:low + (m.i * 7919) % :span,
                                        :low + (m.i * 7919) % :span + :width - 1) AS c
        WHERE m.i <= :slices""", low=low, span=n_clients - width + 1, width=width, slices=slices)
    timed_step("mailing_clients", numbered + """
        INSERT INTO mailing_clients (mailing_id, client_id)
        SELECT m.id, c.id FROM m JOIN clients c ON c.owner_id = :owner WHERE m.i > :slices""",
               slices=slices)
    timed_step("attempts", numbered + """,
        runs AS (
            SELECT m.id AS mailing_id, m.i, m.status, j,
                   CASE WHEN m.i > :slices THEN CAST(:clients AS integer) ELSE :width END AS size,
                   date_trunc('second', now())
                       - (1 + m.i % 7 + j * CASE WHEN m.i = :mailings THEN 20 ELSE 29 END
                          + CASE WHEN m.status = 'finished' THEN 6 ELSE 0 END) * interval '1 day'
                       - (m.i % 600) * interval '1 minute' AS started_at,
                   CASE WHEN j = 0 AND m.i % 97 = 0 AND m.status = 'running' THEN 'sending'
                        WHEN (m.i + j) % 10 = 0 THEN 'failure'
                        WHEN (m.i + j) % 10 IN (1, 2) THEN 'partial'
                        ELSE 'success' END AS outcome
            FROM m, LATERAL generate_series(0, CASE WHEN m.i = :mailings THEN :big_runs - 1
                                                    ELSE :runs - 1 END) AS j
            WHERE m.status <> 'created')
        INSERT INTO attempts (mailing_id, occurrence_at, started_at, finished_at, status,
                              server_response, sent_count, failed_count, manual, planned_at)
        SELECT mailing_id, started_at - interval '20 seconds', started_at,
               CASE WHEN outcome <> 'sending' THEN started_at + size * interval '30 ms'
                                                   + interval '2 seconds' END,
               outcome,
               CASE outcome WHEN 'success' THEN '250 2.0.0 Ok: queued'
                            WHEN 'partial' THEN '550 5.1.1 Recipient address rejected: User unknown'
                            WHEN 'failure' THEN '421 4.7.0 Too many connections, try again later'
                            ELSE '' END,
               CASE outcome WHEN 'success' THEN size WHEN 'partial' THEN size - (size / 20 + 1) / 2
                            WHEN 'sending' THEN size / 2 ELSE 0 END,
               CASE outcome WHEN 'partial' THEN (size / 20 + 1) / 2
                            WHEN 'failure' THEN size ELSE 0 END,
               i % 50 = 0 AND j = 0, started_at
        FROM runs""", slices=slices, clients=n_clients, width=width, mailings=MAILINGS,
               big_runs=BIG_RUNS, runs=RUNS)
    timed_step("deliveries", numbered + """,
        a AS (SELECT a.id, a.mailing_id, a.started_at, m.i,
                     row_number() OVER (PARTITION BY a.mailing_id
                                        ORDER BY a.started_at DESC) - 1 AS j
              FROM attempts a JOIN m ON m.id = a.mailing_id)
        INSERT INTO deliveries (attempt_id, client_id, email, status, server_reply, smtp_code,
                                created_at, bounce, bounce_reason, bounced_at)
        SELECT a.id, c.id, c.email,
               CASE WHEN (c.id + a.id) % 50 = 0 THEN 'failed' ELSE 'sent' END,
               CASE WHEN (c.id + a.id) % 50 = 0
                    THEN '550 5.1.1 <' || c.email || '>: Recipient address rejected: User unknown'
                    ELSE '250 2.0.0 Ok: queued as '
                         || upper(to_hex(CAST(a.id AS bigint) * 1000003 + c.id)) END,
               CASE WHEN (c.id + a.id) % 50 = 0 THEN 550 ELSE 250 END,
               a.started_at + (c.id - :low) * interval '30 ms',
               CASE WHEN (c.id + a.id) % 50 = 0 THEN NULL
                    WHEN c.id % 211 = 0 THEN 'hard' WHEN c.id % 1009 = 0 THEN 'complaint' END,
               CASE WHEN (c.id + a.id) % 50 = 0 THEN NULL
                    WHEN c.id % 211 = 0 THEN '5.1.1 The email account does not exist'
                    WHEN c.id % 1009 = 0 THEN 'abuse report (ARF): spam' END,
               CASE WHEN (c.id + a.id) % 50 <> 0 AND (c.id % 211 = 0 OR c.id % 1009 = 0)
                    THEN a.started_at + interval '2 hours' END
        FROM a JOIN mailing_clients mc ON mc.mailing_id = a.mailing_id
               JOIN clients c ON c.id = mc.client_id
        WHERE a.i = :mailings
           OR (a.j = 0 AND (a.i > :slices OR a.i % :every = 0))""",
               low=low, mailings=MAILINGS, slices=slices, every=SLICES_WITH_ROWS)
    # An attempt with rows says what its rows say.
    timed_step("deliveries", """
        UPDATE attempts a SET sent_count = d.sent, failed_count = d.failed,
               status = CASE WHEN a.status = 'sending' THEN 'sending'
                             WHEN d.failed > 0 THEN 'partial' ELSE 'success' END,
               server_response = CASE WHEN d.failed > 0
                                      THEN '550 5.1.1 Recipient address rejected: User unknown'
                                      ELSE '250 2.0.0 Ok: queued' END
        FROM (SELECT d.attempt_id, count(*) FILTER (WHERE d.status = 'sent') AS sent,
                     count(*) FILTER (WHERE d.status = 'failed') AS failed
              FROM deliveries d JOIN attempts a ON a.id = d.attempt_id
              JOIN mailings m ON m.id = a.mailing_id WHERE m.owner_id = :owner
              GROUP BY d.attempt_id) d
        WHERE a.id = d.attempt_id""")
    owner.big_mailing = run(numbered + "SELECT id FROM m WHERE i = :i", i=MAILINGS).scalar_one()
    owner.big_attempt, owner.big_attempt_rows = run(
        "SELECT a.id, (SELECT count(*) FROM deliveries d WHERE d.attempt_id = a.id)"
        " FROM attempts a WHERE a.mailing_id = :m ORDER BY a.started_at DESC LIMIT 1",
        m=owner.big_mailing).one()
    owner.deliveries = run(
        "SELECT count(*) FROM deliveries d JOIN attempts a ON a.id = d.attempt_id"
        " JOIN mailings m ON m.id = a.mailing_id WHERE m.owner_id = :owner").scalar_one()
    owner.attempts = run("SELECT count(*) FROM attempts a JOIN mailings m ON m.id = a.mailing_id"
                         " WHERE m.owner_id = :owner").scalar_one()
    owner.mailing_clients = run("SELECT count(*) FROM mailing_clients mc JOIN mailings m"
                                " ON m.id = mc.mailing_id WHERE m.owner_id = :owner").scalar_one()


def seed(url: str, tmp: Path, sizes: tuple[int, ...]) -> tuple[list[Owner], float, str]:
    """The owners (filled) and the manager; (owners, seconds it took, what took how long)."""
    started = time.perf_counter()
    owners = [Owner(owner_email(n), n) for n in sizes]
    app = common.make_app(url, tmp)
    with app.app_context():
        from mailer.extensions import db

        for owner in owners:
            owner.id = common.add_user(owner.email, timezone=OWNER_TZ).id
        common.add_user(MANAGER, role="manager", timezone=OWNER_TZ)
        db.engine.dispose()
    step = {"users": time.perf_counter() - started}
    engine = sa.create_engine(url)
    for owner in owners:
        with engine.begin() as conn:
            _fill_owner(conn, owner, step)
        print(f"[scale] {owner.email}: {owner.clients:,} clients, {owner.mailing_clients:,}"
              f" mailing_clients, {owner.attempts:,} attempts, {owner.deliveries:,} deliveries"
              f" ({time.perf_counter() - started:.1f} s so far)", flush=True)
    engine.dispose()
    vacuumed = time.perf_counter()
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    step["vacuum analyze"] = time.perf_counter() - vacuumed
    took = time.perf_counter() - started
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in step.items())
    print(f"[scale] data generated in {took:.1f} s ({steps})", flush=True)
    return owners, took, steps


# --- the pages -----------------------------------------------------------------------------

@dataclass
class Page:
    label: str                   # the same for every size: "/clients/?at=last"
    path: str
    who: str                     # e-mail of the user signed in
    size: str                    # "100k", or "all" for the manager's pages
    is_list: bool
    largest: bool = False        # the size the target applies to
    result: dict = field(default_factory=dict)


def _request(port: int, path: str, cookie: str, timeout: float = 120) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def owner_pages(port: int, cookie: str, owner: Owner, largest: bool) -> list[Page]:
    today = datetime.now(ZoneInfo(OWNER_TZ)).date()
    dates = {"date_from": (today - timedelta(days=30)).isoformat(), "date_to": today.isoformat()}
    big, attempt = owner.big_mailing, owner.big_attempt
    attempt_path = f"/mailings/{big}/attempts/{attempt}"
    wanted = [
        ("/", "/", False),
        ("/clients/", "/clients/", True),
        (f"/clients/?q={RARE_NAME}", f"/clients/?q={quote(RARE_NAME)}", True),
        ("/clients/?show=suppressed", "/clients/?show=suppressed", True),
        ("/clients/?at=last", "/clients/?at=last", True),
        ("/messages/", "/messages/", True),
        ("/mailings/", "/mailings/", True),
        ("/mailings/?at=last", "/mailings/?at=last", True),
        ("/mailings/<to all>", f"/mailings/{big}", False),
        ("/mailings/<to all>/attempts/<all rows>", attempt_path, True),
        ("/mailings/<to all>/attempts/<all rows>?at=last", f"{attempt_path}?at=last", True),
        ("/attempts/", "/attempts/", True),
        ("/attempts/?mailing=<to all>", f"/attempts/?mailing={big}", True),
        ("/attempts/?status=failure", "/attempts/?status=failure", True),
        ("/attempts/?date_from=-30d&date_to=today", f"/attempts/?{urlencode(dates)}", True),
        ("/attempts/?all four filters",
         f"/attempts/?{urlencode({'mailing': big, 'status': 'partial', **dates})}", True),
    ]
    return [Page(label, path, owner.email, short(owner.clients), is_list, largest)
            for label, path, is_list in wanted]


def manager_pages(port: int, cookie: str, largest_owner: Owner) -> list[Page]:
    who = largest_owner.email.split("@")[0]
    wanted = [
        ("/manager/mailings", "/manager/mailings"),
        ("/manager/mailings?status=paused", "/manager/mailings?status=paused"),
        (f"/manager/mailings?owner={who}", f"/manager/mailings?owner={who}"),
        (f"/manager/mailings?status=running&owner={who}",
         f"/manager/mailings?status=running&owner={who}"),
        ("/manager/mailings?at=last", "/manager/mailings?at=last"),
        ("/manager/users", "/manager/users"),
        ("/attempts/ (manager)", "/attempts/"),
    ]
    return [Page(label, path, MANAGER, "all", True, True) for label, path in wanted]


def drain(port: int) -> None:
    """Wait until the workers have served what the last wrk run left queued: two /healthz
    asked together come back only after the connections in front of them."""
    def ask():
        try:
            _request(port, "/healthz", "", timeout=300)
        except OSError:
            pass

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def alone_ms(port: int, path: str, cookie: str, times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        _request(port, path, cookie)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(port: int, page_path: str, cookie: str, seconds: int, times: int) -> dict:
    web.wrk(port, page_path, 1, cookie, timeout=WRK_TIMEOUT)  # warm-up
    drain(port)
    time.sleep(PAUSE)
    result = web.wrk(port, page_path, seconds, cookie, timeout=WRK_TIMEOUT)
    drain(port)
    result["alone_ms"] = alone_ms(port, page_path, cookie, times) if times else None
    return result


def server_error(log: Path) -> str:
    """The last exception the server logged (why a page answered 500), or ""."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    found = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b", line)]
    return found[-1][:300] if found else ""


def run_pages(url: str, tmp: Path, owners: list[Owner],
              seconds: int) -> tuple[list[Page], list[dict]]:
    pages, healthz = [], []
    tmp = tmp / "pages"
    tmp.mkdir(exist_ok=True)
    with web.gunicorn(url, tmp) as port:
        cookies = {o.email: web.sign_in(port, o.email) for o in owners}
        cookies[MANAGER] = web.sign_in(port, MANAGER)
        groups = [owner_pages(port, cookies[o.email], o, o is owners[-1]) for o in owners]
        groups.append(manager_pages(port, cookies[MANAGER], owners[-1]))
        for group in groups:
            time.sleep(PAUSE)
            healthz.append(measure(port, "/healthz", "", seconds, 0))
            for page in group:
                cookie = cookies[page.who]
                status, _ = _request(port, page.path, cookie)
                if status != 200:
                    page.result = {"status": status, "error": server_error(tmp / "gunicorn.log")}
                    print(f"[scale] {page.label} @{page.size}: answered {status}"
                          f" {page.result['error']}", flush=True)
                    continue
                page.result = measure(port, page.path, cookie, seconds, ALONE)
                print(f"[scale] {page.label} @{page.size}: {page.result['rps']:.1f} req/s,"
                      f" alone {page.result['alone_ms']:.1f} ms,"
                      f" wrk mean {page.result['mean_ms']:.0f} ms,"
                      f" errors {page.result['errors']}", flush=True)
            pages.extend(group)
        time.sleep(PAUSE)
        healthz.append(measure(port, "/healthz", "", seconds, 0))
    return pages, healthz


# --- exports -------------------------------------------------------------------------------

def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def gunicorn_workers(port: int) -> list[int]:
    """The worker processes of the gunicorn this process started on ``port``."""
    bind = f"127.0.0.1:{port}".encode()
    masters = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if bind in command and _ppid(int(entry.name)) == os.getpid():
            masters.append(int(entry.name))
    return [int(e.name) for e in Path("/proc").iterdir()
            if e.name.isdigit() and _ppid(int(e.name)) in masters]


def vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def stream(port: int, path: str, cookie: str) -> dict:
    """Read a download in 64 KiB chunks without keeping it: status, first byte, total, size."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=EXPORT_LIMIT)
    try:
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        if response.status != 200:
            return {"error": f"answered {response.status}"}
        first = None
        size = lines = 0
        while True:
            chunk = response.read1(65536)
            if not chunk:
                break
            if first is None:
                first = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\n")
            if time.perf_counter() - started > EXPORT_LIMIT:
                return {"error": f"timed out: over {EXPORT_LIMIT} s, {size:,} bytes read"}
        total = time.perf_counter() - started
        return {"first_byte_s": first if first is not None else total, "total_s": total,
                "bytes": size, "rows": max(lines - 1, 0)}
    except (OSError, http.client.HTTPException) as error:
        took = time.perf_counter() - started
        return {"error": f"{type(error).__name__}: {error} after {took:.1f} s"}
    finally:
        conn.close()


def run_export(url: str, tmp: Path, path: str, who: str) -> dict:
    tmp = tmp / f"export-{path.strip('/').replace('/', '-')}-{who.split('@')[0]}"
    tmp.mkdir(exist_ok=True)
    with web.gunicorn(url, tmp, args=("--timeout", str(EXPORT_LIMIT + 30))) as port:
        cookie = web.sign_in(port, who)
        _request(port, "/clients/" if who != MANAGER else "/manager/users", cookie)
        workers = gunicorn_workers(port)
        before = {pid: vm_hwm_mb(pid) for pid in workers}
        result = stream(port, path, cookie)
        after = {pid: vm_hwm_mb(pid) for pid in workers}
    if "error" in result and server_error(tmp / "gunicorn.log"):
        result["error"] += f"; the server logged: {server_error(tmp / 'gunicorn.log')}"
    grown = {pid: (after[pid] or 0) - (before[pid] or 0) for pid in workers}
    served_by = max(grown, key=grown.get) if grown else None
    result["rss_before_mb"] = before.get(served_by)
    result["rss_after_mb"] = after.get(served_by)
    result["workers"] = len(workers)
    return result


# --- the import ----------------------------------------------------------------------------

def import_csv(count: int) -> bytes:
    lines = ["email,full_name,comment"]
    for n in range(1, count + 1):
        latin, cyrillic = SURNAMES[n % len(SURNAMES)]
        comment = f"\"Из выставки, стенд {n % 40}\"" if n % 7 == 0 else ""
        lines.append(f"i{n}.{latin}@{DOMAINS[n % len(DOMAINS)]},"
                     f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {cyrillic},{comment}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def run_import(url: str, tmp: Path, count: int) -> dict:
    import psycopg

    raw = import_csv(count)
    app = common.make_app(url, tmp)
    with app.app_context():
        from mailer.clients import csv_io, services
        from mailer.extensions import db

        user = common.add_user(IMPORTER, timezone=OWNER_TZ)
        limit = app.config.get("MAX_CONTENT_LENGTH")
        with app.test_request_context():
            parse_s = common.timed(lambda: csv_io.parse_clients(raw))
            report = []
            import_s = common.timed(lambda: report.append(
                services.import_clients(user, raw, skip_rejected=False)))
        added, rejected = report[0].added, len(report[0].rejected)
        db.engine.dispose()
    conninfo = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    copies = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for n in range(3):
            conn.execute(f"CREATE TABLE scale_copy_{n} (email varchar(254), full_name varchar(200),"
                         " comment text)")
            started = time.perf_counter()
            with conn.cursor() as cursor:
                command = f"COPY scale_copy_{n} FROM STDIN (FORMAT csv, HEADER true)"
                with cursor.copy(command) as copy:
                    copy.write(raw)
            copies.append(time.perf_counter() - started)
            conn.execute(f"DROP TABLE scale_copy_{n}")
    return {"rows": count, "bytes": len(raw), "import_s": import_s, "parse_s": parse_s,
            "added": added, "rejected": rejected, "copy_s": statistics.median(copies),
            "upload_limit": limit}


# --- statements per page -------------------------------------------------------------------

def profile_sql(url: str, tmp: Path, pages: list[Page], times: int = 5) -> dict[str, dict]:
    """{label: {request_ms, sql_ms, render_ms, statements, top: [(ms, text)]}}: the median
    of ``times`` warm requests each. ``render_ms`` is the template's own time (SQL it
    triggers is counted as SQL); what is left of ``request_ms`` is Flask, the session,
    Flask-Login's user, the view's own Python and the ORM's work outside the database."""
    from flask import before_render_template, template_rendered

    from mailer.extensions import db

    app = common.make_app(url, tmp, WTF_CSRF_ENABLED=False)
    seen: list | None = None
    rendering: dict = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("scale_started", []).append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):
        took = time.perf_counter() - conn.info["scale_started"].pop()
        if seen is not None:
            seen.append((took * 1000, " ".join(statement.split())))
        if "started" in rendering:
            rendering["sql"] += took

    def render_started(sender, template, context, **extra):
        rendering.update(started=time.perf_counter(), sql=0.0)

    def render_ended(sender, template, context, **extra):
        if "started" in rendering:
            took = time.perf_counter() - rendering.pop("started") - rendering["sql"]
            rendering["total"] = rendering.get("total", 0.0) + took

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    before_render_template.connect(render_started, app)
    template_rendered.connect(render_ended, app)
    clients = {}
    found = {}
    try:
        for page in pages:
            if page.who not in clients:
                clients[page.who] = app.test_client()
                answer = clients[page.who].post(
                    "/auth/login", data={"email": page.who, "password": common.PASSWORD})
                assert answer.status_code == 302, (page.who, answer.status_code)
            client = clients[page.who]
            client.get(page.path)  # warm-up
            runs = []
            for _ in range(times):
                seen, rendering["total"] = [], 0.0
                started = time.perf_counter()
                response = client.get(page.path)
                request_ms = (time.perf_counter() - started) * 1000
                statements, seen = seen, None
                runs.append({"status": response.status_code, "request_ms": request_ms,
                             "sql_ms": sum(ms for ms, _ in statements),
                             "render_ms": rendering["total"] * 1000,
                             "statements": len(statements),
                             "top": sorted(statements, reverse=True)[:3]})
            middle = sorted(runs, key=lambda run: run["request_ms"])[len(runs) // 2]
            found[page.label] = middle
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)
        before_render_template.disconnect(render_started, app)
        template_rendered.disconnect(render_ended, app)
        with app.app_context():
            db.engine.dispose()
    return found


# --- the benchmark -------------------------------------------------------------------------

def page_figures(pages: list[Page], healthz_runs: list[dict], seconds: int) -> list[Figure]:
    healthz = statistics.mean(r["rps"] for r in healthz_runs)
    baseline = "/healthz rps (mean of the runs before each owner's pages and at the end)"
    figures = [Figure(
        bench="scale", name="rps /healthz", value=round(healthz, 1), unit="req/s",
        note=f"runs: {', '.join(str(round(r['rps'])) for r in healthz_runs)} req/s; "
             f"gunicorn 2 sync workers, wrk -t{web.THREADS} -c{web.CONNECTIONS} -d{seconds}s"
             f" --timeout {WRK_TIMEOUT}s; machine shared with other work")]
    for page in pages:
        name, result = f"{page.label} @{page.size}", page.result
        target = f">= {TARGET}" if page.largest and page.is_list else ""
        if "status" in result:
            figures.append(Figure(bench="scale", name=f"rps {name}", value=0, unit="req/s",
                                  target=target or "200", met=False,
                                  note=f"answered {result['status']}: not measured;"
                                       f" the server logged: {result['error'] or '?'}"))
            continue
        ratio = result["rps"] / healthz
        met = (ratio >= TARGET and result["errors"] == 0) if target else None
        note = (f"wrk mean {result['mean_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms,"
                f" {result['requests']} requests, errors {result['errors']}")
        figures.append(Figure(bench="scale", name=f"rps {name}", value=round(result["rps"], 1),
                              unit="req/s", baseline=baseline, baseline_value=round(healthz, 1),
                              ratio=round(ratio, 3), target=target, met=met, note=note))
        figures.append(Figure(bench="scale", name=f"ms {name}",
                              value=round(result["alone_ms"], 1), unit="ms",
                              note=f"median of {ALONE} requests one at a time; "
                                   f"under wrk: mean {result['mean_ms']:.0f} ms"))
    return figures


def export_figures(url: str, tmp: Path, owners: list[Owner]) -> list[Figure]:
    largest, figures = owners[-1], []
    exports = [("/clients/export.csv", largest.email, f"{largest.clients:,} clients"),
               ("/attempts/export.csv", largest.email, f"{largest.attempts:,} attempts"),
               ("/attempts/export.csv", MANAGER,
                f"{sum(o.attempts for o in owners):,} attempts of every owner"),
               ("/attempts/deliveries.csv", largest.email, f"{largest.deliveries:,} deliveries"),
               ("/attempts/deliveries.csv", MANAGER,
                f"{sum(o.deliveries for o in owners):,} deliveries of every owner")]
    for path, who, what in exports:
        print(f"[scale] export {path} as {who} ...", flush=True)
        result = run_export(url, tmp, path, who)
        name = f"export {path} @{short(largest.clients) if who != MANAGER else 'all (manager)'}"
        if "error" in result:
            figures.append(Figure(bench="scale", name=name, value=0, unit="s",
                                  target=f"<= {EXPORT_LIMIT} s", met=False,
                                  note=f"{what}: {result['error']}"))
            continue
        before, after = result["rss_before_mb"], result["rss_after_mb"]
        rss = (f"worker peak RSS {before:.1f} -> {after:.1f} MB" if after is not None
               else "worker peak RSS unknown")
        figures.append(Figure(
            bench="scale", name=f"{name} total", value=round(result["total_s"], 2), unit="s",
            target=f"<= {EXPORT_LIMIT} s", met=result["total_s"] <= EXPORT_LIMIT,
            note=f"{what}: {result['rows']:,} rows, {result['bytes'] / 1e6:.1f} MB; {rss}"))
        figures.append(Figure(bench="scale", name=f"{name} first byte",
                              value=round(result["first_byte_s"] * 1000, 1), unit="ms"))
        if after is not None:
            figures.append(Figure(
                bench="scale", name=f"{name} worker peak RSS", value=round(after, 1), unit="MB",
                baseline="the worker's peak before the export", baseline_value=round(before, 1),
                ratio=round(after / before, 3), note="VmHWM of the gunicorn worker that grew most"))
    return figures


def sql_figures(url: str, tmp: Path, pages: list[Page]) -> list[Figure]:
    print("[scale] where each page's time goes, in-process ...", flush=True)
    profiled = [p for p in pages if p.largest and "status" not in p.result]
    statements = profile_sql(url, tmp, profiled)
    figures = []
    for page in profiled:
        found = statements[page.label]
        rest = found["request_ms"] - found["sql_ms"] - found["render_ms"]
        top = "; ".join(f"{ms:.1f} ms: {text[:200]}" for ms, text in found["top"])
        figures.append(Figure(
            bench="scale", name=f"SQL {page.label} @{page.size}", value=round(found["sql_ms"], 1),
            unit="ms", note=f"in-process request {found['request_ms']:.1f} ms = SQL "
                            f"{found['sql_ms']:.1f} + template {found['render_ms']:.1f} + the rest "
                            f"(Flask, session, user, view, ORM) {rest:.1f}; "
                            f"{found['statements']} statements; slowest: {top}"))
    return figures


def import_figure(url: str, tmp: Path, count: int) -> Figure:
    print(f"[scale] import of {count:,} clients ...", flush=True)
    result = run_import(url, tmp, count)
    limit = result["upload_limit"]
    over = (f"; the file ({result['bytes'] / 2**20:.1f} MiB) is over the upload limit"
            f" ({limit / 2**20:.0f} MiB): the web form would refuse it"
            if limit and result["bytes"] > limit else "")
    return Figure(
        bench="scale", name=f"import {count:,} clients", value=round(result["import_s"], 2),
        unit="s", baseline="bare COPY of the same file into a table without indexes",
        baseline_value=round(result["copy_s"], 3),
        ratio=round(result["import_s"] / result["copy_s"], 1),
        note=f"import_clients: {result['added']:,} added, {result['rejected']} rejected; "
             f"parsing and checking the file alone {result['parse_s']:.2f} s; "
             f"COPY median of 3{over}")


def run(ctx: Context) -> list[Figure]:
    sizes = QUICK_SIZES if ctx.quick else SIZES
    seconds = 1 if ctx.quick else 3
    if web.ensure_wrk() is None:
        raise RuntimeError("wrk is missing (apt-get install wrk)")
    with common.throwaway_database() as url:
        owners, took, steps = seed(url, ctx.tmp, sizes)
        made = ", ".join(f"{short(o.clients)}: {o.deliveries:,} deliveries" for o in owners)
        figures = [Figure(
            bench="scale", name="data generation", value=round(took, 1), unit="s",
            target="" if ctx.quick else "<= 120 s", met=None if ctx.quick else took <= 120,
            note=f"{made} ({sum(o.deliveries for o in owners):,} in all), {MAILINGS} mailings"
                 f" and {MESSAGES} messages each; {steps}")]
        pages, healthz_runs = run_pages(url, ctx.tmp, owners, seconds)
        figures += page_figures(pages, healthz_runs, seconds)
        figures += export_figures(url, ctx.tmp, owners)
        figures += sql_figures(url, ctx.tmp, pages)
        figures.append(import_figure(url, ctx.tmp, sizes[-1]))
    return figures


if __name__ == "__main__":
    for figure in run(Context(tmp=Path(tempfile.mkdtemp()), quick="--quick" in sys.argv)):
        print(figure)
