"""factory_boy factories, one per model, on the app's session.

Each row is flushed, not committed: the test commits when its world is ready (or a builder in
``tests/workspace.py`` does). A factory makes what the row needs and nothing more: a mailing
gets an owner and a message of that owner, an attempt a mailing, a delivery an attempt and a
client of the mailing's owner. Recipients of a mailing are rows of ``mailing_clients``:
``MailingFactory(recipients=[...])``.
"""
from datetime import datetime, timedelta, timezone

import factory
from factory.alchemy import SQLAlchemyModelFactory

from mailer import bulk
from mailer.extensions import db
from mailer.models import (
    Attempt,
    Client,
    Delivery,
    DeliveryStatus,
    Frequency,
    Mailing,
    MailingStatus,
    Message,
    Post,
    Role,
    User,
    mailing_clients,
)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class _Factory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class UserFactory(_Factory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    timezone = "UTC"
    language = "en"
    role = Role.USER
    active = True
    email_verified_at = factory.LazyFunction(lambda: datetime.now(timezone.utc))

    @classmethod
    def _create(cls, model_class, *args, password="password123", **kwargs):
        user = model_class(*args, **kwargs)
        user.set_password(password)
        db.session.add(user)
        db.session.flush()
        return user


class ClientFactory(_Factory):
    class Meta:
        model = Client

    owner = factory.SubFactory(UserFactory)
    email = factory.Sequence(lambda n: f"client{n}@example.com")
    full_name = ""  # as imported from a list of bare addresses


class MessageFactory(_Factory):
    class Meta:
        model = Message

    owner = factory.SubFactory(UserFactory)
    subject = "Weekly news"
    body = "Hello {{ client.full_name }}"


class MailingFactory(_Factory):
    """A weekly mailing in UTC starting tomorrow for 30 days; ``recipients`` adds clients."""

    class Meta:
        model = Mailing
        exclude = ("days",)

    owner = factory.SubFactory(UserFactory)
    message = factory.SubFactory(MessageFactory, owner=factory.SelfAttribute("..owner"))
    days = 30
    start_at = factory.LazyFunction(lambda: _now() + timedelta(days=1))
    end_at = factory.LazyAttribute(lambda mailing: mailing.start_at + timedelta(days=mailing.days))
    timezone = "UTC"
    frequency = Frequency.WEEKLY
    status = MailingStatus.CREATED

    @factory.post_generation
    def recipients(mailing, create, clients, **kwargs):
        if create and clients:  # as the app writes them: one statement, one tally update
            bulk.insert_rows(mailing_clients,
                             [{"mailing_id": mailing.id, "client_id": c.id} for c in clients])


class AttemptFactory(_Factory):
    """A run of the mailing's first occurrence; like a new row, it is sending until told
    otherwise (``status=``, ``finished_at=``, counts)."""

    class Meta:
        model = Attempt

    mailing = factory.SubFactory(MailingFactory)
    occurrence_at = factory.SelfAttribute("mailing.start_at")


class DeliveryFactory(_Factory):
    """One letter of an attempt, sent; ``client=`` names its client (or give client_id and
    email, as a delivery whose client was deleted keeps only the address)."""

    class Meta:
        model = Delivery

    class Params:
        client = None

    attempt = factory.SubFactory(AttemptFactory)
    client_id = factory.LazyAttribute(lambda delivery: delivery.client.id if delivery.client else None)
    email = factory.LazyAttribute(lambda delivery: delivery.client.email if delivery.client
                                  else "gone@example.com")
    status = DeliveryStatus.SENT


class PostFactory(_Factory):
    """A published article."""

    class Meta:
        model = Post

    title = factory.Sequence(lambda n: f"Article {n}")
    body = "A paragraph.\n\nAnother paragraph."
    published_at = factory.LazyFunction(lambda: datetime.now(timezone.utc) - timedelta(hours=1))
    author = None
