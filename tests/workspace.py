"""Builders for workspace objects in tests (straight into the database) and the mailing form."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from mailer.models import Client, Frequency, MailingStatus
from tests.conftest import submit
from tests.factories import ClientFactory, MailingFactory, MessageFactory


def make_mailing(db, owner, subject="Weekly news", clients=1, status=MailingStatus.CREATED,
                 start=None, days=30, frequency=Frequency.WEEKLY, zone="UTC"):
    """A committed mailing of ``owner`` with a message of its own and ``clients`` new clients
    (addresses unique per owner, so several mailings of one owner can be made)."""
    count = db.session.scalar(sa.select(sa.func.count(Client.id)).where(Client.owner_id == owner.id))
    # Built, then written in one flush: a test's 1,500 clients are one round trip, not 1,500.
    recipients = [ClientFactory.build(owner=owner, email=f"c{count + n}@{owner.id}.example.com",
                                      full_name=f"Client {count + n}") for n in range(clients)]
    db.session.add_all(recipients)
    db.session.flush()
    start = start or datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    mailing = MailingFactory(owner=owner, message__subject=subject, start_at=start, days=days,
                             timezone=zone, frequency=frequency, status=status,
                             recipients=recipients)
    db.session.commit()
    return mailing


def make_material(db, owner, name="Client"):
    """A message and three clients of the owner (names "<name> 0" to "<name> 2")."""
    message = MessageFactory(owner=owner, subject="Spring news", body="Hi {{ client.full_name }}")
    clients = [ClientFactory(owner=owner, email=f"c{n}@example.com", full_name=f"{name} {n}")
               for n in range(3)]
    db.session.commit()
    return message, clients


def form_data(message, clients, **changes):
    """What the mailing form posts: weekly, 10 March to 1 June 2027 at 09:00 local."""
    data = {"message_id": message.id, "client_ids": [c.id for c in clients],
            "start_at": "2027-03-10T09:00", "end_at": "2027-06-01T09:00", "frequency": "weekly"}
    data.update(changes)
    return data


def create(client, data):
    return submit(client, "/mailings/new", data, follow_redirects=True)
