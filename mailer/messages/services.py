"""Messages: validated placeholders at save time, never at send time."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from mailer import message_html, message_template
from mailer.delivery import compose
from mailer.delivery.test_letter import SentToOwner, send_test_letter
from mailer.extensions import db
from mailer.errors import ServiceError
from mailer.models import Client, Mailing, Message, User, mailing_clients


@dataclass
class MessageData:
    subject: str
    body: str


def _problem_text(problem: message_template.TemplateProblem):
    if problem.kind == "syntax":
        return _l("Template error on line %(line)s: check the {{ }} and {%% %%} pairs.",
                  line=problem.detail)
    if problem.kind == "html" and problem.detail == "link":
        return _l("A link’s address cannot begin with a placeholder: write the address, then the "
                  "placeholder, as in https://example.com/?email={{ client.email }}.")
    if problem.kind == "html":
        return _l("A {%% if %%} sits inside something the HTML version removes (a script, a style, "
                  "a form): put it on a line of its own.")
    if problem.kind == "placeholder":
        return _l("Unknown placeholder “%(name)s”. Use {{ client.full_name }} or {{ client.email }}.",
                  name=problem.detail)
    return _l("“%(what)s” is not allowed in a message: use only placeholders, "
              "simple filters and {%% if %%}.", what=problem.detail)


SUBJECT_MAX = 255
BODY_MAX_BYTES = 1_000_000  # a newsletter of any real size; a letter past 1 MB is a mistake


def _check_sizes(data: MessageData) -> None:
    """The form checks these as it is filled in; here they hold for every way in (the API)."""
    data.subject = data.subject.strip()
    if not data.subject:
        raise ServiceError(_l("Enter a subject."), field="subject")
    if len(data.subject) > SUBJECT_MAX:
        raise ServiceError(_l("The subject is at most %(max)d characters.", max=SUBJECT_MAX),
                           field="subject")
    if not data.body.strip():
        raise ServiceError(_l("Write the message."), field="body")
    if len(data.body.encode("utf-8", "surrogatepass")) > BODY_MAX_BYTES:
        raise ServiceError(_l("The message is too long: at most %(max)d kB.", max=BODY_MAX_BYTES // 1000),
                           field="body")


def _validate(data: MessageData) -> None:
    _check_sizes(data)
    if "\n" in data.subject or "\r" in data.subject:
        raise ServiceError(_l("The subject must be one line."), field="subject")
    for field in ("subject", "body"):
        try:
            message_template.check(getattr(data, field))
        except message_template.TemplateProblem as problem:
            raise ServiceError(_problem_text(problem), field=field) from None
    try:
        subject = message_template.render(data.subject, message_template.SAMPLE_RECIPIENT)
    except message_template.TemplateProblem as problem:
        raise ServiceError(_problem_text(problem), field="subject") from None
    if not compose.subject_fits(subject):
        raise ServiceError(_l("The subject is too long once encoded for mail (over 998 bytes): "
                                "shorten it, or use fewer emoji."), field="subject")
    try:
        message_html.build(data.body, lang="en", footer="", unsubscribe_label="")
    except message_template.TemplateProblem as problem:
        raise ServiceError(_problem_text(problem), field="body") from None


def create_message(owner: User, data: MessageData) -> Message:
    _validate(data)
    message = Message(owner=owner, subject=data.subject, body=data.body)
    db.session.add(message)
    db.session.commit()
    return message


def update_message(message: Message, data: MessageData) -> None:
    _validate(data)
    message.subject = data.subject
    message.body = data.body
    db.session.commit()


def mailings_using(message: Message) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Mailing.id)).where(Mailing.message_id == message.id)
    )


def delete_message(message: Message) -> None:
    """Refused while a mailing uses the message (the mailing would lose its text)."""
    used_by = mailings_using(message)
    if used_by:
        raise ServiceError(
            _l("This message is used by %(count)d mailing(s). Change or delete them first.",
               count=used_by)
        )
    db.session.delete(message)
    db.session.commit()


@dataclass
class Preview:
    subject: str
    body: str  # the text version, as the client reads it (with the footer)
    recipient: message_template.Recipient
    problem: str | None = None  # why it cannot be sent as it is (the raw text is shown)
    html: str | None = None  # the HTML version
    removed: tuple[tuple[str, int], ...] = ()  # what the HTML version leaves out


def preview(message: Message, owner: User, client: Client | None = None) -> Preview:
    """The letter as ``client`` (by default the owner's first, or a sample one) will receive it.

    A message saved before a rule was tightened (or written straight into the
    database) may no longer pass the template check: it is shown as written,
    with the reason, instead of failing the page.
    """
    recipient = _recipient(client or db.session.scalar(_first_client(owner)))
    try:
        letter = compose.prepare_message(message, owner)
        subject = letter.subject(recipient)
        link = letter.unsubscribe_link(compose.NO_CLIENT)
        return Preview(subject, letter.text_for(recipient, link), recipient,
                       html=letter.html.render(recipient, subject, link), removed=letter.html.removed)
    except message_template.TemplateProblem as problem:
        return Preview(message.subject, message.body, recipient, str(_problem_text(problem)))


def _first_client(owner: User):
    return sa.select(Client).where(Client.owner_id == owner.id).order_by(Client.id).limit(1)


def _recipient(client: Client | None) -> message_template.Recipient:
    if client is None:
        return message_template.SAMPLE_RECIPIENT
    return message_template.Recipient(email=client.email, full_name=client.full_name)


def send_test(message: Message, owner: User, mailing: Mailing | None = None) -> SentToOwner:
    """One letter of ``message`` to the owner's own (verified) address, personalised for the
    mailing's first client, else the owner's first, else the sample client."""
    query = _first_client(owner)
    if mailing is not None:
        query = query.join(mailing_clients, mailing_clients.c.client_id == Client.id).where(
            mailing_clients.c.mailing_id == mailing.id)
    try:
        return send_test_letter(message, owner, _recipient(db.session.scalar(query)))
    except message_template.TemplateProblem as problem:
        raise ServiceError(_problem_text(problem)) from None


def messages_page(owner: User, page: int):
    """The owner's messages, newest first (a Flask-SQLAlchemy Pagination)."""
    query = (
        sa.select(Message)
        .where(Message.owner_id == owner.id)
        .order_by(Message.updated_at.desc(), Message.id.desc())
    )
    return db.paginate(query, page=page, per_page=25, error_out=False)


def usage_counts(messages: list[Message]) -> dict[int, int]:
    """How many mailings use each of these messages, in one query."""
    if not messages:
        return {}
    rows = db.session.execute(
        sa.select(Mailing.message_id, sa.func.count(Mailing.id))
        .where(Mailing.message_id.in_([m.id for m in messages]))
        .group_by(Mailing.message_id)
    )
    return dict(rows.all())
