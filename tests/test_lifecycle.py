"""The mailing's status machine: which statuses send is said once (models), and every reader
of it, in Python or in SQL, agrees."""
import ast
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailer.models import Mailing, MailingStatus
from tests.workspace import make_mailing

ROOT = Path(__file__).resolve().parent.parent


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


def test_the_sending_engine_uses_the_lifecycle_and_nothing_below_imports_a_blueprint():
    """Arrows point down: delivery and scheduling may use the lifecycle and the models, never a
    blueprint's services (the engine and the mailing services imported each other)."""
    for folder in ("delivery", "scheduling"):
        for source in (ROOT / "mailer" / folder).glob("*.py"):
            tree = ast.parse(source.read_text())
            imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
            imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                         for alias in node.names}
            assert not any(name.startswith(("mailer.clients", "mailer.messages", "mailer.mailings",
                                            "mailer.manager", "mailer.auth.routes",
                                            "mailer.main")) for name in imported), (source.name, imported)
