"""/api/v1/messages: the caller's letters (Markdown with placeholders)."""
from __future__ import annotations

from flask import url_for
from flask_login import current_user

from mailer import paging
from mailer.api import access, schemas
from mailer.api.blueprints import api_blueprint
from mailer.api.common import own_or_404, page_body, refuse
from mailer.api.idempotency import PARAMETER as IDEMPOTENCY_KEY, idempotent
from mailer.errors import ServiceError
from mailer.messages import services
from mailer.models import Client, Message
from mailer.ownership import owned

blp = api_blueprint("api_messages", __name__, "The letters your mailings send.", access.workspace_only)
NEWEST_FIRST = (Message.updated_at, Message.id)


@blp.route("/messages")
@blp.etag
@blp.arguments(schemas.PageArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.MessagePageSchema)
def list_messages(after=None, limit=schemas.DEFAULT_PAGE):
    """Your messages, last changed first."""
    page = paging.keyset_page(owned(Message, current_user), Message.id, NEWEST_FIRST,
                              paging.Place(after=after), limit, descending=True)
    return page_body(page)


def _data(fields: dict, current: Message | None = None) -> services.MessageData:
    return services.MessageData(subject=fields.get("subject", getattr(current, "subject", "")),
                                body=fields.get("body", getattr(current, "body", "")))


@blp.route("/messages", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@blp.arguments(schemas.MessageInput)
@blp.response(201, schemas.MessageSchema, headers={"Location": {"schema": {"type": "string"}}})
@blp.alt_response(422, **schemas.PROBLEM)
def create_message(fields):
    """Write a message."""
    try:
        message = services.create_message(current_user, _data(fields))
    except ServiceError as error:
        refuse(error)
    return message, 201, {"Location": url_for("api_messages.get_message", message_id=message.id)}


@blp.route("/messages/<int:message_id>")
@blp.etag
@blp.response(200, schemas.MessageSchema)
def get_message(message_id: int):
    """One message."""
    return own_or_404(Message, message_id)


@blp.route("/messages/<int:message_id>", methods=["PATCH"])
@blp.arguments(schemas.MessageChange, required=False)
@blp.response(200, schemas.MessageSchema)
@blp.alt_response(422, **schemas.PROBLEM)
def update_message(fields, message_id: int):
    """Change a message's subject or body (the fields sent)."""
    message = own_or_404(Message, message_id)
    try:
        services.update_message(message, _data(fields, message))
    except ServiceError as error:
        refuse(error)
    return message


@blp.route("/messages/<int:message_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(409, **schemas.PROBLEM)
def delete_message(message_id: int):
    """Delete a message no mailing uses."""
    message = own_or_404(Message, message_id)
    try:
        services.delete_message(message)
    except ServiceError as error:
        refuse(error, status=409)


@blp.route("/messages/<int:message_id>/preview")
@blp.etag
@blp.arguments(schemas.PreviewArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.PreviewSchema)
def preview_message(message_id: int, client_id=None):
    """The letter as a client of yours will read it: subject, text and HTML."""
    message = own_or_404(Message, message_id)
    client = own_or_404(Client, client_id) if client_id is not None else None
    shown = services.preview(message, current_user, client)
    return {"subject": shown.subject, "text": shown.body, "html": shown.html, "problem": shown.problem,
            "recipient": {"email": shown.recipient.email, "full_name": shown.recipient.full_name}}


