"""The counts the database keeps (clients per user, unique addresses, a mailing's recipients)
always equal a recount, on both databases, whatever changes the rows, and under races."""
from __future__ import annotations

import random
import threading

import sqlalchemy as sa
from flask_migrate import upgrade

from mailer import create_app
from mailer.extensions import db as _db

RECOUNT = {
    "per_user": "SELECT owner_id, count(*), count(suppressed_at), count(unsubscribed_at)"
                " FROM clients GROUP BY owner_id",
    "unique": "SELECT count(DISTINCT email) FROM clients",
    "recipients": "SELECT m.id, (SELECT count(*) FROM mailing_clients mc WHERE mc.mailing_id = m.id)"
                  " FROM mailings m",
}
TALLIED = {
    "per_user": "SELECT owner_id, clients, suppressed, unsubscribed FROM owner_tallies"
                " WHERE clients <> 0 OR suppressed <> 0 OR unsubscribed <> 0",
    "unique": "SELECT coalesce(sum(unique_clients), 0) FROM service_tallies",
    "recipients": "SELECT id, recipient_count FROM mailings",
}


def figures(conn: sa.Connection, queries: dict) -> dict:
    return {
        "per_user": sorted(tuple(row) for row in conn.execute(sa.text(queries["per_user"]))),
        "unique": conn.execute(sa.text(queries["unique"])).scalar(),
        "recipients": sorted(tuple(row) for row in conn.execute(sa.text(queries["recipients"]))),
    }


def assert_tallies_right(conn: sa.Connection) -> None:
    assert figures(conn, TALLIED) == figures(conn, RECOUNT)


def add_user(conn, email: str) -> int:
    return conn.execute(sa.text(
        "INSERT INTO users (email, password_hash, full_name, timezone, language, role,"
        " is_superuser, active, session_token, created_at)"
        " VALUES (:email, 'x', 'U', 'UTC', 'en', 'user', false, true, :email, CURRENT_TIMESTAMP)"
        " RETURNING id"), {"email": email}).scalar()


def add_clients(conn, owner: int, emails: list[str]) -> list[int]:
    return [conn.execute(sa.text(
        "INSERT INTO clients (owner_id, email, full_name, comment, created_at)"
        " VALUES (:owner, :email, '', '', CURRENT_TIMESTAMP) RETURNING id"),
        {"owner": owner, "email": email}).scalar() for email in emails]


def add_mailing(conn, owner: int) -> int:
    message = conn.execute(sa.text(
        "INSERT INTO messages (owner_id, subject, body, created_at, updated_at)"
        " VALUES (:owner, 's', 'b', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"),
        {"owner": owner}).scalar()
    return conn.execute(sa.text(
        "INSERT INTO mailings (owner_id, message_id, start_at, end_at, timezone, frequency, status,"
        " created_at, updated_at) VALUES (:owner, :message, '2030-01-01 09:00:00+00:00',"
        " '2030-02-01 09:00:00+00:00', 'UTC', 'daily', 'created', CURRENT_TIMESTAMP,"
        " CURRENT_TIMESTAMP) RETURNING id"), {"owner": owner, "message": message}).scalar()


def every_kind_of_change(conn: sa.Connection) -> None:
    """Inserts one and many, updates of each counted column and of others, deletes one and
    many, cascades from a deleted mailing and a deleted user: the tallies right after each."""
    run = lambda sql, **params: conn.execute(sa.text(sql), params)  # noqa: E731
    anna, boris = add_user(conn, "anna@example.com"), add_user(conn, "boris@example.com")
    shared = [f"shared{n}@example.com" for n in range(5)]
    anna_clients = add_clients(conn, anna, shared + ["anna-only@example.com"])
    boris_clients = add_clients(conn, boris, shared[:3] + ["boris-only@example.com"])
    assert_tallies_right(conn)
    assert figures(conn, TALLIED)["unique"] == 7

    run("INSERT INTO clients (owner_id, email, full_name, comment, created_at)"
        " SELECT :owner, 'bulk' || n || '@example.com', '', '', CURRENT_TIMESTAMP"
        " FROM (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3) AS numbers", owner=boris)
    assert_tallies_right(conn)

    run("UPDATE clients SET suppressed_at = CURRENT_TIMESTAMP, suppressed_reason = 'bounced'"
        " WHERE id = :id", id=anna_clients[0])
    run("UPDATE clients SET unsubscribed_at = CURRENT_TIMESTAMP WHERE id IN (:a, :b)",
        a=anna_clients[1], b=boris_clients[1])
    run("UPDATE clients SET full_name = 'Renamed' WHERE owner_id = :owner", owner=anna)
    assert_tallies_right(conn)
    # One statement renaming every row, and moving one address and resubscribing another.
    run("UPDATE clients SET full_name = 'Mixed',"
        " email = CASE WHEN id = :a THEN 'moved-too@example.com' ELSE email END,"
        " unsubscribed_at = CASE WHEN id = :b THEN NULL ELSE unsubscribed_at END WHERE owner_id = :owner",
        a=anna_clients[4], b=anna_clients[1], owner=anna)
    assert_tallies_right(conn)
    run("UPDATE clients SET email = 'moved@example.com' WHERE id = :id", id=boris_clients[0])
    run("UPDATE clients SET email = 'shared4@example.com' WHERE id = :id",
        id=boris_clients[-1])
    run("UPDATE clients SET suppressed_at = NULL, suppressed_reason = NULL WHERE id = :id",
        id=anna_clients[0])
    assert_tallies_right(conn)

    mailing = add_mailing(conn, anna)
    run("INSERT INTO mailing_clients (mailing_id, client_id) SELECT :m, id FROM clients"
        " WHERE owner_id = :owner", m=mailing, owner=anna)
    other = add_mailing(conn, anna)
    run("INSERT INTO mailing_clients (mailing_id, client_id) VALUES (:m, :c)",
        m=other, c=anna_clients[2])
    assert_tallies_right(conn)
    assert dict(figures(conn, TALLIED)["recipients"])[mailing] == 6

    run("DELETE FROM mailing_clients WHERE mailing_id = :m AND client_id = :c",
        m=mailing, c=anna_clients[3])
    run("DELETE FROM clients WHERE id = :id", id=anna_clients[2])  # cascades to mailing_clients
    assert_tallies_right(conn)
    run("DELETE FROM mailings WHERE id = :m", m=other)
    run("DELETE FROM clients WHERE owner_id = :owner AND email LIKE 'bulk%'", owner=boris)
    assert_tallies_right(conn)

    run("DELETE FROM users WHERE id = :id", id=boris)  # cascades to clients and tallies
    assert_tallies_right(conn)
    assert conn.execute(sa.text("SELECT count(*) FROM owner_tallies WHERE owner_id = :id"),
                        {"id": boris}).scalar() == 0
    assert figures(conn, TALLIED)["unique"] == 5  # anna's 4 left of shared0-4 and anna-only


def test_tallies_follow_every_kind_of_change_on_postgresql(db):
    with db.engine.begin() as conn:
        every_kind_of_change(conn)


def test_tallies_follow_every_kind_of_change_on_sqlite(tmp_path):
    app = create_app({"APP_ENV": "testing", "SECRET_KEY": "k",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'mailer.db'}"})
    with app.app_context():
        upgrade()
        with _db.engine.begin() as conn:
            every_kind_of_change(conn)
        _db.engine.dispose()


def test_the_migration_counts_what_was_there(db, make_user):
    """Rows written before the tallies existed are counted when the migration adds them."""
    from flask_migrate import downgrade

    owner = make_user(email="before@example.com")
    with db.engine.begin() as conn:
        add_clients(conn, owner.id, ["a@example.com", "b@example.com"])
        mailing = add_mailing(conn, owner.id)
        conn.execute(sa.text("INSERT INTO mailing_clients SELECT :m, id FROM clients"), {"m": mailing})
    db.session.remove()
    downgrade(revision="0006")
    try:
        with db.engine.begin() as conn:
            add_clients(conn, owner.id, ["c@example.com"])
    finally:
        upgrade()
    with db.engine.begin() as conn:
        assert_tallies_right(conn)
        assert figures(conn, TALLIED)["unique"] == 3


RACERS, ROUNDS = 6, 40
POOL = [f"racing{n}@example.com" for n in range(12)]


def test_tallies_stay_right_when_users_race_on_the_same_addresses(db, make_user):
    """Six connections at once add, change and delete clients of two users from one pool of
    addresses, put them in and out of a mailing, and roll some transactions back."""
    owners = [make_user(email=f"racer{n}@example.com").id for n in range(2)]
    with db.engine.begin() as conn:
        mailings = [add_mailing(conn, owner) for owner in owners]
    failures: list[BaseException] = []
    start = threading.Barrier(RACERS)
    engine = db.engine

    def racer(seed: int) -> None:
        chance = random.Random(seed)
        start.wait()
        for _ in range(ROUNDS):
            owner_index = chance.randrange(2)
            owner, mailing = owners[owner_index], mailings[owner_index]
            email = chance.choice(POOL)
            try:
                with engine.connect() as conn:
                    with conn.begin() as transaction:
                        step(conn, chance, owner, mailing, email)
                        if chance.random() < 0.2:
                            transaction.rollback()
            except sa.exc.IntegrityError:
                pass  # the address was taken by another racer meanwhile, as a user would see
            except BaseException as error:  # noqa: BLE001 - the test reports any
                failures.append(error)
                return

    threads = [threading.Thread(target=racer, args=(seed,)) for seed in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not failures, failures
    with db.engine.begin() as conn:
        assert_tallies_right(conn)
        assert figures(conn, RECOUNT)["unique"] > 0


def step(conn, chance: random.Random, owner: int, mailing: int, email: str) -> None:
    run = lambda sql, **params: conn.execute(sa.text(sql), params)  # noqa: E731
    found = run("SELECT id FROM clients WHERE owner_id = :o AND email = :e", o=owner, e=email).scalar()
    if found is None:
        (client,) = add_clients(conn, owner, [email])
        if chance.random() < 0.5:
            run("INSERT INTO mailing_clients (mailing_id, client_id) VALUES (:m, :c)",
                m=mailing, c=client)
        return
    action = chance.choice(["delete", "suppress", "unsubscribe", "readdress", "unlist"])
    if action == "delete":
        run("DELETE FROM clients WHERE id = :id", id=found)
    elif action == "suppress":
        run("UPDATE clients SET suppressed_at = CASE WHEN suppressed_at IS NULL"
            " THEN CURRENT_TIMESTAMP END WHERE id = :id", id=found)
    elif action == "unsubscribe":
        run("UPDATE clients SET unsubscribed_at = CURRENT_TIMESTAMP WHERE id = :id", id=found)
    elif action == "readdress":
        run("UPDATE clients SET email = :e WHERE id = :id", e=chance.choice(POOL), id=found)
    else:
        run("DELETE FROM mailing_clients WHERE client_id = :id", id=found)


class StatementCounter:
    """How many statements reach the database while it listens, by the table they write."""

    def __init__(self):
        self.writes: list[str] = []

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        words = statement.split()
        if words and words[0].upper() in ("INSERT", "UPDATE"):
            rows = len(parameters) if executemany and isinstance(parameters, (list, tuple)) else 1
            self.writes.extend([" ".join(words[:3])] * rows)

    def __enter__(self):
        sa.event.listen(sa.Engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        sa.event.remove(sa.Engine, "before_cursor_execute", self._seen)


def test_an_import_and_a_mailing_to_thousands_are_a_few_statements_and_counted(
        client, db, owner, smtp_sink):
    """An import of 3,000 clients (1,000 of them known, renamed) and a mailing to all of them
    write in a handful of statements, so the tally triggers fire a handful of times, not
    once a client; the tallies are right afterwards."""
    from tests.conftest import submit
    from tests.test_client_import import upload

    db.session.execute(sa.text(
        "INSERT INTO clients (owner_id, email, full_name, comment, created_at)"
        " SELECT :owner, 'known' || n || '@example.com', 'Old', '', now()"
        " FROM generate_series(1, 1000) AS n"), {"owner": owner.id})
    db.session.commit()
    lines = [f"known{n}@example.com,Renamed {n}," for n in range(1, 1001)]
    lines += [f"new{n}@example.com,Клиент {n}," for n in range(1, 2001)]
    with StatementCounter() as counter:
        page = upload(client, "email,full_name,comment\n" + "\n".join(lines) + "\n")
    assert page.status_code == 200
    writes_to_clients = [w for w in counter.writes if " clients" in w or "UPDATE clients" in w]
    assert 1 <= len(writes_to_clients) <= 4, writes_to_clients[:5]

    from tests.factories import MessageFactory
    message = MessageFactory(owner=owner)
    db.session.commit()
    with StatementCounter() as counter:
        submit(client, "/mailings/new", {
            "message_id": message.id, "all_clients": "y", "frequency": "daily",
            "timezone": "UTC", "start_at": "2031-01-01T09:00", "end_at": "2031-02-01T09:00"})
    recipients = [w for w in counter.writes if "mailing_clients" in w]
    assert 1 <= len(recipients) <= 2, recipients[:5]
    with db.engine.begin() as conn:
        assert_tallies_right(conn)
        figures_now = figures(conn, TALLIED)
    assert figures_now["per_user"] == [(owner.id, 3000, 0, 0)]
    assert figures_now["recipients"][0][1] == 3000
