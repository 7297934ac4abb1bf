"""The cron script's quick look, on PostgreSQL (psycopg alone) and on SQLite (SQLAlchemy Core):
the same answer for every state a mailing's occurrence can be in."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from mailer import create_app
from mailer.delivery.cron_entry import nothing_to_do
from mailer.extensions import db as _db
from mailer.models import Attempt, AttemptBatch, AttemptStatus, Mailing, MailingStatus
from tests.factories import AttemptFactory
from tests.workspace import make_mailing

NOW = datetime.now(timezone.utc).replace(microsecond=0)
DUE = NOW - timedelta(minutes=1)


def arrange(db, make_user):
    """One mailing per state; returns {state: mailing id}."""
    owner = make_user(email="owner@example.com")
    blocked = make_user(email="blocked@example.com", active=False)
    ids = {
        "not due": make_mailing(db, owner, start=NOW + timedelta(days=1)).id,
        "due, unclaimed": make_mailing(db, owner, start=DUE).id,
        "paused": make_mailing(db, owner, start=DUE, status=MailingStatus.PAUSED).id,
        "owner blocked": make_mailing(db, blocked, start=DUE).id,
        "done": make_mailing(db, owner, start=DUE).id,
        "every batch held": make_mailing(db, owner, start=DUE).id,
        "a batch lapsed": make_mailing(db, owner, start=DUE).id,
        "a batch never taken": make_mailing(db, owner, start=DUE).id,
        "handed over": make_mailing(db, owner, start=DUE).id,
    }
    # Each sending attempt has a batch done and one in the state its name says.
    for state, status, lease in (("done", AttemptStatus.SUCCESS, None),
                                 ("every batch held", AttemptStatus.SENDING, NOW + timedelta(minutes=5)),
                                 ("a batch lapsed", AttemptStatus.SENDING, NOW - timedelta(minutes=5)),
                                 ("a batch never taken", AttemptStatus.SENDING, None)):
        attempt = AttemptFactory(mailing=db.session.get(Mailing, ids[state]), occurrence_at=DUE,
                                 status=status, planned_at=NOW)
        db.session.flush()
        db.session.add_all([
            AttemptBatch(attempt_id=attempt.id, after_client_id=0, through_client_id=10, done_at=NOW),
            AttemptBatch(attempt_id=attempt.id, after_client_id=10, lease_until=lease,
                         runner=lease and "host:1:abcd", done_at=NOW if status is AttemptStatus.SUCCESS else None),
        ])
    AttemptFactory(mailing=db.session.get(Mailing, ids["handed over"]), occurrence_at=DUE)
    db.session.commit()
    return ids


EXPECTED = {
    "not due": "not due yet",
    "due, unclaimed": None,
    "paused": None,          # the full run says why and cron sync drops the line
    "owner blocked": None,
    "done": "send is already done",
    "every batch held": "another run is sending",
    "a batch lapsed": None,  # taken over by the full run
    "a batch never taken": None,  # the full run joins the send
    "handed over": None,     # a full host left it to the database: the full run plans it
    "missing": None,
}


def answers(url: str, ids: dict) -> dict:
    result = {}
    for state, mailing_id in {**ids, "missing": 424242}.items():
        reason = nothing_to_do(url, mailing_id, NOW)
        result[state] = reason
    return result


def matches(answer, expected) -> bool:
    return answer is None if expected is None else (answer is not None and expected in answer)


def test_on_postgresql_with_psycopg_alone(database_url, db, make_user):
    ids = arrange(db, make_user)
    got = answers(database_url, ids)
    assert all(matches(got[state], EXPECTED[state]) for state in EXPECTED), got


@pytest.fixture
def sqlite_db(tmp_path):
    app = create_app({"APP_ENV": "testing", "SECRET_KEY": "k", "BASE_URL": "http://mailer.test",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'mailer.db'}",
                      "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        yield app.config["SQLALCHEMY_DATABASE_URI"], _db
        _db.engine.dispose()


def test_on_sqlite_through_sqlalchemy_core(sqlite_db):
    from tests.factories import UserFactory

    url, db = sqlite_db

    def make_user(**fields):
        user = UserFactory(**fields)
        db.session.commit()
        return user

    ids = arrange(db, make_user)
    got = answers(url, ids)
    assert all(matches(got[state], EXPECTED[state]) for state in EXPECTED), got
    assert db.session.scalar(sa.select(sa.func.count(Attempt.id))) == 5


def test_the_scripts_quick_look_sends_in_the_same_statuses_as_the_app():
    from mailer.delivery import cron_entry
    from mailer.models import SENDING_STATUSES

    assert set(cron_entry.SENDING_STATUS_VALUES) == {status.value for status in SENDING_STATUSES}
