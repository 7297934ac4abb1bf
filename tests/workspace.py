"""Builders for workspace objects in tests (straight into the database)."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from mailer.models import Client, Frequency, Mailing, MailingStatus, Message, mailing_clients


def make_mailing(db, owner, subject="Weekly news", clients=1, status=MailingStatus.CREATED,
                 start=None, days=30, frequency=Frequency.WEEKLY, zone="UTC"):
    message = Message(owner=owner, subject=subject, body="Hello {{ client.full_name }}")
    start = start or datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    mailing = Mailing(owner=owner, message=message, start_at=start, end_at=start + timedelta(days=days),
                      timezone=zone, frequency=frequency, status=status)
    db.session.add(mailing)
    db.session.flush()
    count = db.session.scalar(sa.select(sa.func.count(Client.id)).where(Client.owner_id == owner.id))
    new_clients = [Client(owner=owner, email=f"c{count + n}@{owner.id}.example.com",
                          full_name=f"Client {count + n}") for n in range(clients)]
    db.session.add_all(new_clients)
    db.session.flush()
    if new_clients:
        db.session.execute(sa.insert(mailing_clients),
                           [{"mailing_id": mailing.id, "client_id": c.id} for c in new_clients])
    db.session.commit()
    return mailing
