"""The data of the service, in SQLAlchemy 2.0 typed style.

Models hold invariants only (normalised e-mails, aware UTC times); anything
that needs the app, mail or cron lives in a service.
"""
from __future__ import annotations

import enum
import secrets
from datetime import datetime, timezone
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.ext.hybrid import hybrid_property
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from mailer.database import UTCDateTime
from mailer.extensions import db


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# Primary keys are INTEGER columns. A number outside their range names no row, and PostgreSQL
# refuses to compare such a column with it ("integer out of range"): check before querying.
MAX_ID = 2**31 - 1


def is_row_id(value) -> bool:
    """Whether ``value`` could be the id of a row: a positive INTEGER."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def named_address(name: str | None, email: str) -> str:
    """How a person is shown in a list or a picker: "Name <email>", or the address alone."""
    return f"{name} <{email}>" if name else email


def normalize_email(email: str) -> str:
    """One spelling per address, so uniqueness is case-insensitive on every database."""
    return email.strip().lower()


def _enum(enum_class: type[enum.Enum], name: str) -> sa.Enum:
    return sa.Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Role(str, enum.Enum):
    USER = "user"
    MANAGER = "manager"
    CONTENT_MANAGER = "content_manager"


class Frequency(str, enum.Enum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class MailingStatus(str, enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"

    @property
    def sends(self) -> bool:
        """Whether a mailing in this status sends (its owner must be active too: ``may_send``)."""
        return self in SENDING_STATUSES


# The one rule of which statuses send; mailer/lifecycle.py says what each change of status does.
SENDING_STATUSES = frozenset({MailingStatus.CREATED, MailingStatus.RUNNING})


class AttemptStatus(str, enum.Enum):
    SENDING = "sending"
    SUCCESS = "success"
    PARTIAL = "partial"
    FAILURE = "failure"


class DeliveryStatus(str, enum.Enum):
    SENT = "sent"
    FAILED = "failed"


class Bounce(str, enum.Enum):
    """What came back after a letter was accepted (mailer/bounces/)."""

    HARD = "hard"  # a permanent failure (5.x.x): the client is suppressed at once
    SOFT = "soft"  # a temporary one (4.x.x): suppressed after BOUNCE_SOFT_LIMIT in BOUNCE_SOFT_DAYS
    COMPLAINT = "complaint"  # an ARF report ("this is spam"): the client is unsubscribed


class BounceOutcome(str, enum.Enum):
    """What became of one message that reached the bounce address."""

    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # the same report again: counted once
    NOT_BOUNCE = "not_bounce"  # an auto-reply, a challenge, a person's reply
    UNKNOWN = "unknown"  # no token of ours, or one that names no delivery
    FORGED = "forged"  # a token whose signature does not match
    UNREADABLE = "unreadable"  # empty, too large or not a message


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    full_name: so.Mapped[str] = so.mapped_column(sa.String(200))
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64))
    language: so.Mapped[str] = so.mapped_column(sa.String(5))
    role: so.Mapped[Role] = so.mapped_column(_enum(Role, "role"), default=Role.USER)
    is_superuser: so.Mapped[bool] = so.mapped_column(default=False)
    active: so.Mapped[bool] = so.mapped_column(default=True)
    email_verified_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())
    # Their own From for mailings (mailer/senders.py): the address is used only once
    # a link sent to it was opened, so nobody sends as someone else.
    sender_name: so.Mapped[Optional[str]] = so.mapped_column(sa.String(200))
    sender_email: so.Mapped[Optional[str]] = so.mapped_column(sa.String(254))
    sender_confirmed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())
    reply_to: so.Mapped[Optional[str]] = so.mapped_column(sa.String(254))
    # Rotated on password change and reset: every other session and
    # "remember me" cookie of the user stops working.
    session_token: so.Mapped[str] = so.mapped_column(
        sa.String(64), unique=True, default=new_session_token
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    clients: so.WriteOnlyMapped[Client] = so.relationship(
        back_populates="owner", passive_deletes=True
    )
    messages: so.WriteOnlyMapped[Message] = so.relationship(
        back_populates="owner", passive_deletes=True
    )
    mailings: so.WriteOnlyMapped[Mailing] = so.relationship(
        back_populates="owner", passive_deletes=True
    )

    @so.validates("email")
    def _normalize_email(self, key: str, value: str) -> str:
        return normalize_email(value)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.session_token = new_session_token()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_manager(self) -> bool:
        return self.role is Role.MANAGER

    @property
    def is_content_manager(self) -> bool:
        return self.role is Role.CONTENT_MANAGER

    @property
    def has_workspace(self) -> bool:
        """Clients, messages, mailings and their reports are a user's: managers oversee them
        (the manager pages) and content managers work only in the admin, on the blog."""
        return self.role is Role.USER

    @property
    def is_staff(self) -> bool:
        """Staff may open the admin panel (content managers and superusers)."""
        return self.is_superuser or self.role is Role.CONTENT_MANAGER

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


mailing_clients = sa.Table(
    "mailing_clients",
    db.metadata,
    sa.Column("mailing_id", sa.ForeignKey("mailings.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("client_id", sa.ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True),
)


def _where(condition: str) -> dict:
    """A partial index's condition, the same on both databases."""
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


class Client(db.Model):
    __tablename__ = "clients"
    # The clients mailings skip are a few in a hundred: their own small indexes serve the
    # lists of them and the counts of them among a mailing's recipients.
    __table_args__ = (
        sa.UniqueConstraint("owner_id", "email"),
        sa.Index("ix_clients_suppressed", "owner_id", "email", "id",
                 **_where("suppressed_at IS NOT NULL")),
        sa.Index("ix_clients_unsubscribed", "owner_id", "email", "id",
                 **_where("unsubscribed_at IS NOT NULL")),
        # Search ("contains") by address or name: trigrams, on PostgreSQL only.
        sa.Index("ix_clients_search", "email", "full_name", postgresql_using="gin",
                 postgresql_ops={"email": "gin_trgm_ops", "full_name": "gin_trgm_ops"},
                 info={"only_on": "postgresql"}),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    owner_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    full_name: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    comment: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    unsubscribed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())
    # Set by a bounce (mailer/bounces/): no mailing of the owner sends here until lifted.
    suppressed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())
    suppressed_reason: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    owner: so.Mapped[User] = so.relationship(back_populates="clients")

    @property
    def is_suppressed(self) -> bool:
        return self.suppressed_at is not None

    @so.validates("email")
    def _normalize_email(self, key: str, value: str) -> str:
        return normalize_email(value)

    def __repr__(self) -> str:
        return f"<Client {self.id} {self.email}>"


class Message(db.Model):
    __tablename__ = "messages"
    # The list shows an owner's messages last changed first: a page reads only its rows.
    __table_args__ = (sa.Index("ix_messages_owner_changed", "owner_id", "updated_at", "id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    owner_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    subject: so.Mapped[str] = so.mapped_column(sa.String(255))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )

    owner: so.Mapped[User] = so.relationship(back_populates="messages")

    def __repr__(self) -> str:
        return f"<Message {self.id}>"


class Mailing(db.Model):
    __tablename__ = "mailings"
    __table_args__ = (
        sa.CheckConstraint("end_at > start_at", name="window"),
        # The lists show the newest first, an owner's and (for managers) everyone's: a page
        # reads only its rows instead of sorting all of them.
        sa.Index("ix_mailings_owner_newest", "owner_id", "created_at", "id"),
        sa.Index("ix_mailings_newest", "created_at", "id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    owner_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # A message used by a mailing cannot be deleted out from under it.
    message_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("messages.id", ondelete="RESTRICT"), index=True
    )
    start_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    end_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64))
    frequency: so.Mapped[Frequency] = so.mapped_column(_enum(Frequency, "frequency"))
    status: so.Mapped[MailingStatus] = so.mapped_column(
        _enum(MailingStatus, "status"), default=MailingStatus.CREATED, index=True
    )
    stop_reason: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    # Its rows in mailing_clients, counted by the database itself (see OwnerTally).
    # (Not "recipients": the admin's form has a field of that name, the clients themselves.)
    recipient_count: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )

    owner: so.Mapped[User] = so.relationship(back_populates="mailings")
    message: so.Mapped[Message] = so.relationship()
    clients: so.WriteOnlyMapped[Client] = so.relationship(secondary=mailing_clients, passive_deletes=True)
    attempts: so.WriteOnlyMapped[Attempt] = so.relationship(
        back_populates="mailing", passive_deletes=True
    )

    @hybrid_property
    def may_send(self) -> bool:
        """A created or running mailing of an active owner sends; nothing else does."""
        return self.status.sends and self.owner.active

    @may_send.inplace.expression
    @classmethod
    def _may_send_expression(cls) -> sa.ColumnElement[bool]:
        owner_active = (sa.select(User.active).where(User.id == cls.owner_id)
                        .correlate_except(User).scalar_subquery())
        return sa.and_(cls.status.in_(SENDING_STATUSES), owner_active.is_(True))

    def __repr__(self) -> str:
        return f"<Mailing {self.id} {self.status.value}>"


class Attempt(db.Model):
    """One run of a mailing for one scheduled occurrence; the row is the claim."""

    __tablename__ = "attempts"
    __table_args__ = (sa.UniqueConstraint("mailing_id", "occurrence_at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    mailing_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("mailings.id", ondelete="CASCADE")
    )
    occurrence_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())
    status: so.Mapped[AttemptStatus] = so.mapped_column(
        _enum(AttemptStatus, "status"), default=AttemptStatus.SENDING
    )
    server_response: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    sent_count: so.Mapped[int] = so.mapped_column(default=0)
    failed_count: so.Mapped[int] = so.mapped_column(default=0)
    # Clients still mailed that it never tried, counted when it ended (stopped early, or a
    # client added after its last batch); while it sends, they are counted live.
    not_reached: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    # True for a send asked for by hand (``force-mail --ignore-schedule``, "send now").
    manual: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    # When its clients were split into batches (delivery/batches.py); None for an attempt
    # still sending when migration 0006 ran: the next worker plans it.
    planned_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())

    mailing: so.Mapped[Mailing] = so.relationship(back_populates="attempts")
    deliveries: so.WriteOnlyMapped[Delivery] = so.relationship(
        back_populates="attempt", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Attempt {self.id} mailing={self.mailing_id} {self.status.value}>"


class AttemptBatch(db.Model):
    """A range of an attempt's clients, sent by whichever worker claims it.

    The clients with ``after_client_id < id <= through_client_id`` (no upper end when
    ``through_client_id`` is None), so a client added during the send is still
    covered. A worker holds the batch until ``lease_until`` and renews it with every
    commit of Delivery rows; a batch whose lease lapsed is taken over by another.
    """

    __tablename__ = "attempt_batches"
    __table_args__ = (sa.UniqueConstraint("attempt_id", "after_client_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    attempt_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("attempts.id", ondelete="CASCADE")
    )
    after_client_id: so.Mapped[int] = so.mapped_column(sa.Integer)
    through_client_id: so.Mapped[Optional[int]] = so.mapped_column(sa.Integer)
    runner: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64))
    lease_until: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())
    done_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return (f"<AttemptBatch {self.id} attempt={self.attempt_id} "
                f"({self.after_client_id}, {self.through_client_id}]>")


class Delivery(db.Model):
    """One recipient of one attempt: both the progress record and "who got it"."""

    __tablename__ = "deliveries"
    # What came back is rare: the counts of bounces and complaints read only those rows.
    __table_args__ = (
        sa.UniqueConstraint("attempt_id", "client_id"),
        sa.Index("ix_deliveries_bounced", "attempt_id", **_where("bounce IS NOT NULL")),
        # The attempt page lists them failures first ("failed" sorts before "sent"), by address.
        sa.Index("ix_deliveries_listed", "attempt_id", "status", "email", "id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    attempt_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("attempts.id", ondelete="CASCADE")
    )
    # Kept when the client is deleted, so the history still says who was mailed.
    client_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("clients.id", ondelete="SET NULL"), index=True
    )
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    status: so.Mapped[DeliveryStatus] = so.mapped_column(_enum(DeliveryStatus, "status"))
    server_reply: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # The SMTP reply code; None when the connection failed before a reply.
    smtp_code: so.Mapped[Optional[int]] = so.mapped_column()
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    # What came back later (a DSN or a complaint), matched by the letter's VERP token.
    bounce: so.Mapped[Optional[Bounce]] = so.mapped_column(_enum(Bounce, "bounce"))
    bounce_reason: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    bounced_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())

    attempt: so.Mapped[Attempt] = so.relationship(back_populates="deliveries")

    def __repr__(self) -> str:
        return f"<Delivery {self.id} {self.email} {self.status.value}>"


class BounceMessage(db.Model):
    """One message read from the bounce address, whatever it turned out to be: the count of
    what was recorded and of what was ignored, and the memory of what a mailbox still holds."""

    __tablename__ = "bounce_messages"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    received_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    source: so.Mapped[str] = so.mapped_column(sa.String(10))  # stdin, imap, pop3
    # Where a mailbox keeps it (IMAP UIDVALIDITY:UID, POP3 UIDL): read once, not every run.
    source_key: so.Mapped[Optional[str]] = so.mapped_column(sa.String(200), index=True)
    message_id: so.Mapped[Optional[str]] = so.mapped_column(sa.String(255))
    outcome: so.Mapped[BounceOutcome] = so.mapped_column(_enum(BounceOutcome, "outcome"))
    kind: so.Mapped[Optional[Bounce]] = so.mapped_column(_enum(Bounce, "kind"))
    delivery_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("deliveries.id", ondelete="SET NULL"), index=True
    )
    detail: so.Mapped[str] = so.mapped_column(sa.Text, default="")

    def __repr__(self) -> str:
        return f"<BounceMessage {self.id} {self.outcome.value}>"


class Post(db.Model):
    __tablename__ = "posts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    image: so.Mapped[Optional[str]] = so.mapped_column(sa.String(255))
    view_count: so.Mapped[int] = so.mapped_column(default=0)
    published_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime(), index=True)
    author_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    author: so.Mapped[Optional[User]] = so.relationship()

    def __repr__(self) -> str:
        return f"<Post {self.id} {self.title!r}>"


class SendRateClock(db.Model):
    """One relay's send rate, shared by every worker on every host (delivery/send_rate.py).

    A generic cell rate algorithm: ``next_at`` is the database clock's epoch second
    at which the bucket is empty again; each letter moves it on by one interval.
    """

    __tablename__ = "send_rates"

    key: so.Mapped[str] = so.mapped_column(sa.String(255), primary_key=True)
    next_at: so.Mapped[float] = so.mapped_column(sa.Float, default=0.0)


class CronHost(db.Model):
    """A host that carries this install's cron lines, and when it last brought them in step."""

    __tablename__ = "cron_hosts"
    __table_args__ = (sa.UniqueConstraint("instance", "machine"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    instance: so.Mapped[str] = so.mapped_column(sa.String(64))
    machine: so.Mapped[str] = so.mapped_column(sa.String(255))
    crontab: so.Mapped[str] = so.mapped_column(sa.String(1000))
    scripts_dir: so.Mapped[str] = so.mapped_column(sa.String(1000))
    lines: so.Mapped[int] = so.mapped_column(default=0)
    synced_version: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    synced_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())
    seen_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)


class ScheduleVersion(db.Model):
    """One row whose ``version`` goes up with every committed change of what cron must run,
    so a host's per-minute sync can tell in one read that nothing changed."""

    __tablename__ = "schedule_version"

    id: so.Mapped[int] = so.mapped_column(primary_key=True, default=1)
    version: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    changed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())


class OwnerTally(db.Model):
    """How many clients a user has, and how many of them mailings skip.

    Kept by the database itself: triggers on ``clients`` (migration 0007) add and
    take away whatever any statement inserts, deletes or changes, an import of
    100,000 rows or a cascade from a deleted user alike, in the same transaction.
    So a page reads one row instead of counting, and the figures cannot drift
    from the rows. ``ClientAddress`` and ``ServiceTally`` are kept the same way,
    as is ``Mailing.recipient_count``.
    """

    __tablename__ = "owner_tallies"

    owner_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    clients: so.Mapped[int] = so.mapped_column(default=0)
    suppressed: so.Mapped[int] = so.mapped_column(default=0)
    unsubscribed: so.Mapped[int] = so.mapped_column(default=0)


class ClientAddress(db.Model):
    """An address some user has as a client, and how many users have it (see OwnerTally)."""

    __tablename__ = "client_emails"

    email: so.Mapped[str] = so.mapped_column(sa.String(254), primary_key=True)
    owners: so.Mapped[int] = so.mapped_column(default=0)


class ServiceTally(db.Model):
    """The service's one row of figures: the addresses of ``client_emails`` (see OwnerTally)."""

    __tablename__ = "service_tallies"

    id: so.Mapped[int] = so.mapped_column(primary_key=True, default=1)
    unique_clients: so.Mapped[int] = so.mapped_column(default=0)


class ApiToken(db.Model):
    """A key a user gives a program to act as them through /api/v1/ (mailer/api/).

    Only the SHA-256 of the token is kept: the token itself is shown once, when made.
    It holds 256 random bits, so a fast hash is enough (a slow one guards guessable
    passwords, not these) and a request finds its row through a unique index.
    """

    __tablename__ = "api_tokens"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(100))
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    # The token's first characters, so its owner can tell which one a program holds.
    prefix: so.Mapped[str] = so.mapped_column(sa.String(16))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    expires_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())
    last_used_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime())

    user: so.Mapped[User] = so.relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.prefix}…>"


class IdempotentRequest(db.Model):
    """An API request sent with an ``Idempotency-Key``, and the answer it got: the same key
    again replays the answer instead of creating or sending a second time. The row is
    written before the work, so a retry arriving while the first still runs is refused."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (sa.UniqueConstraint("user_id", "key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    key: so.Mapped[str] = so.mapped_column(sa.String(255))
    # SHA-256 of the method, path and body: the same key with another request is refused.
    fingerprint: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow, index=True)
    # None while the first request still runs.
    status_code: so.Mapped[Optional[int]] = so.mapped_column()
    response_body: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    location: so.Mapped[Optional[str]] = so.mapped_column(sa.String(500))

    def __repr__(self) -> str:
        return f"<IdempotentRequest {self.id} {self.status_code}>"
