"""SQL statements per page: the same for 5 rows of everything as for 200 (no N+1 queries).

One database is filled with a small set of rows, every list page is requested
and its statements counted; the database is then grown to a large set (more
rows than one page, so pagination is exercised) and the same pages counted
again. Each page is requested once before it is counted, so caches are warm
and the count is that of an ordinary request.
"""
from __future__ import annotations

import re
import sys
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from bench import common
from bench.common import Context, Figure

SMALL, LARGE = 5, 200
OWNER, MANAGER = "owner@bench.example.com", "manager@bench.example.com"
EDITOR = "editor@bench.example.com"
# (page, who asks for it: None is an anonymous visitor)
PAGES = [
    ("/", None),
    ("/", OWNER),
    ("/clients/", OWNER),
    ("/messages/", OWNER),
    ("/mailings/", OWNER),
    ("/attempts/", OWNER),
    ("/blog/", None),
    ("/manager/mailings", MANAGER),
    ("/manager/users", MANAGER),
]


def seed_people() -> None:
    common.add_user(OWNER)
    common.add_user(MANAGER, role="manager")
    common.add_user(EDITOR, role="content_manager")


def grow(start: int, stop: int) -> None:
    """Rows number ``start`` to ``stop - 1`` of each kind.

    Each step adds a user, a client of the owner, a mailing (with its message and
    one attempt) of the owner and one of the new user, and a published post, so
    the manager's list shows mailings of many different owners.
    """
    from mailer.extensions import db
    from mailer.models import (Attempt, AttemptStatus, Frequency, Mailing, MailingStatus, Message,
                               Post, Role, User, utcnow)

    owner = db.session.scalar(sa.select(User).where(User.email == OWNER))
    editor = db.session.scalar(sa.select(User).where(User.email == EDITOR))
    now = utcnow().replace(microsecond=0)
    statuses = list(MailingStatus)
    results = [AttemptStatus.SUCCESS, AttemptStatus.PARTIAL, AttemptStatus.FAILURE]
    common.add_clients(owner.id, stop - start, domain=f"set{start}.example.com")
    for n in range(start, stop):
        user = User(email=f"user-{n}@bench.example.com", full_name=f"User {n}", role=Role.USER,
                    timezone="UTC", language="en", password_hash=owner.password_hash,
                    email_verified_at=now)
        for who in (owner, user):
            message = Message(owner=who, subject=f"News {n} of {who.email}",
                              body="Dear {{ client.full_name }}")
            mailing = Mailing(owner=who, message=message, start_at=now - timedelta(days=10),
                              end_at=now + timedelta(days=30), timezone="UTC",
                              frequency=Frequency.DAILY, status=statuses[n % len(statuses)])
            db.session.add(Attempt(mailing=mailing, occurrence_at=now - timedelta(days=1),
                                   started_at=now - timedelta(days=1, minutes=n), finished_at=now,
                                   status=results[n % 3], sent_count=1))
        db.session.add(Post(title=f"Article {n}", body=f"Body of article {n}.\n\nSecond paragraph.",
                            published_at=now - timedelta(hours=n + 1), author=editor))
    db.session.commit()
    db.session.execute(sa.text(
        "INSERT INTO mailing_clients (mailing_id, client_id)"
        " SELECT m.id, c.id FROM mailings m JOIN clients c ON c.owner_id = m.owner_id"
        " ON CONFLICT DO NOTHING"))
    db.session.commit()


def count_statements(url: str, tmp: Path) -> tuple[dict, set]:
    """{(page, who): [statements of one request]} on a fresh app (its caches empty),
    and the pages that showed a pagination bar (more rows than one page)."""
    from mailer.extensions import db

    app = common.make_app(url, tmp, WTF_CSRF_ENABLED=False)
    seen: list[str] | None = None

    def record(conn, cursor, statement, parameters, context, executemany):
        if seen is not None:
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    clients = {None: app.test_client()}
    for email in (OWNER, MANAGER):
        clients[email] = app.test_client()
        answer = clients[email].post("/auth/login",
                                     data={"email": email, "password": common.PASSWORD})
        assert answer.status_code == 302 and "/auth/login" not in answer.location, email
    counted, paginated = {}, set()
    for page, who in PAGES:
        assert clients[who].get(page).status_code == 200, (page, who)  # warm-up
        seen = []
        response = clients[who].get(page)
        assert response.status_code == 200, (page, who, response.status_code)
        counted[(page, who)], seen = seen, None
        if 'class="pagination' in response.get_data(as_text=True):
            paginated.add((page, who))
    sa.event.remove(engine, "before_cursor_execute", record)
    with app.app_context():
        db.engine.dispose()
    return counted, paginated


def _shape(statement: str) -> str:
    """A statement without the length of its IN lists: what runs, not for how many rows."""
    return re.sub(r"\((?:%\(\w+\)s(?:::\w+)?(?:, )?)+\)", "(…)", " ".join(statement.split()))


def differences(small: list[str], large: list[str]) -> list[str]:
    more = Counter(map(_shape, large)) - Counter(map(_shape, small))
    fewer = Counter(map(_shape, small)) - Counter(map(_shape, large))
    return ([f"  +{n} × {s[:300]}" for s, n in more.items()]
            + [f"  -{n} × {s[:300]}" for s, n in fewer.items()])


def run(ctx: Context) -> list[Figure]:
    with common.throwaway_database() as url:
        app = common.make_app(url, ctx.tmp)
        from mailer.extensions import db

        with app.app_context():
            seed_people()
            grow(0, SMALL)
        small, _ = count_statements(url, ctx.tmp)
        with app.app_context():
            grow(SMALL, LARGE)
            db.engine.dispose()
        large, paginated = count_statements(url, ctx.tmp)

    figures = []
    for key in PAGES:
        page, who = key
        name = f"SQL statements {page} ({'anonymous' if who is None else who.split('@')[0]})"
        few, many = len(small[key]), len(large[key])
        note = f"{SMALL} vs {LARGE} rows of each kind"
        if key in paginated:
            note += "; several pages"
        if many != few:
            print(f"{name}: {few} -> {many} statements; differing:")
            print("\n".join(differences(small[key], large[key])))
            note += "; N+1: see the statements printed"
        figures.append(Figure(bench="queries", name=name, value=many, unit="statements",
                              baseline=f"statements with {SMALL} rows", baseline_value=few,
                              ratio=many / max(1, few), target="constant", met=many == few,
                              note=note))
    return figures


if __name__ == "__main__":
    for figure in run(Context(tmp=Path(tempfile.mkdtemp()), quick="--quick" in sys.argv)):
        print(figure)
