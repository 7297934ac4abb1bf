"""The mailing's status machine: which statuses send is said once (models), and every reader
of it, in Python or in SQL, agrees."""
import pytest
import sqlalchemy as sa

from mailer.models import Mailing, MailingStatus
from tests.workspace import make_mailing

@pytest.mark.parametrize("active", [True, False], ids=["active owner", "blocked owner"])
@pytest.mark.parametrize("status", list(MailingStatus), ids=lambda status: status.value)
def test_may_send_says_the_same_in_python_and_in_sql(db, make_user, status, active):
    owner = make_user(email="owner@example.com", active=active)
    make_user(email="other@example.com")  # a second owner: the SQL must look at the right one
    mailing = make_mailing(db, owner, status=status)

    in_sql = db.session.scalar(sa.select(Mailing.may_send).where(Mailing.id == mailing.id))
    chosen = db.session.scalars(sa.select(Mailing.id).where(Mailing.may_send)).all()

    expected = status in (MailingStatus.CREATED, MailingStatus.RUNNING) and active
    assert mailing.may_send is expected and bool(in_sql) is expected
    assert chosen == ([mailing.id] if expected else [])

