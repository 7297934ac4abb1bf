"""The API's shapes, in marshmallow: what it takes (strict: an unknown field is refused) and
what it gives. The OpenAPI document is generated from these (flask-smorest and apispec).

They check types only; what a value may be (an e-mail, a window, a message of one's own)
is the services' rule, the same for the web forms and the API.
"""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from mailer.form_errors import NUL_MESSAGE
from mailer.models import MAX_ID, AttemptStatus, Bounce, DeliveryStatus, Frequency, MailingStatus, Role

MAX_BULK = 10_000
MAX_PAGE = 500
DEFAULT_PAGE = 100


def _no_nul(value: str) -> None:
    if "\x00" in value:
        raise ma.ValidationError(str(NUL_MESSAGE))


class Text(fields.String):
    """A string that can be stored: PostgreSQL keeps no NUL character in text."""

    def __init__(self, *args, **kwargs):
        kwargs["validate"] = [_no_nul, *_as_list(kwargs.get("validate"))]
        super().__init__(*args, **kwargs)


def _as_list(validators) -> list:
    if validators is None:
        return []
    return list(validators) if isinstance(validators, (list, tuple)) else [validators]


class WholeNumber(fields.Integer):
    """An integer as JSON Schema means it: 7 or 7.0, never "7", 7.5 or true. (marshmallow's strict
    Integer refuses 7.0, its lenient one takes "7" and cuts 7.5 down to 7.)"""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (isinstance(value, float) and not value.is_integer()):
            raise self.make_error("invalid")
        return int(value)


def RowId(**kwargs) -> fields.Integer:  # noqa: N802 (a field, named like one)
    """The id of a row, in a body."""
    return WholeNumber(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def RowIdArg(**kwargs) -> fields.Integer:  # noqa: N802
    """The id of a row, in a query string (where every value is text)."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _choice(enum_class) -> fields.Enum:
    return fields.Enum(enum_class, by_value=True, required=True)


# What a refusal looks like (RFC 9457); flask-smorest documents every error answer with it.
class ProblemItemSchema(ma.Schema):
    detail = fields.String(required=True)
    pointer = fields.String(metadata={"description": "A JSON Pointer into the request body."})
    parameter = fields.String(metadata={"description": "The query parameter concerned."})
    header = fields.String(metadata={"description": "The request header concerned."})


class ProblemSchema(ma.Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.List(fields.Nested(ProblemItemSchema))


# An error answer in the document: alt_response(409, **PROBLEM).
PROBLEM = {"schema": ProblemSchema, "content_type": "application/problem+json"}


class PageArgs(ma.Schema):
    after = RowIdArg(metadata={"description": "The id of the last item of the previous page "
                                           "(the `next` link holds it)."})
    limit = fields.Integer(load_default=DEFAULT_PAGE, validate=validate.Range(min=1, max=MAX_PAGE))


def _page_of(item_schema) -> type[ma.Schema]:
    return ma.Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "next": fields.String(required=True, allow_none=True,
                              metadata={"description": "The next page's address; null on the last."}),
    }, name=item_schema.__name__.replace("Schema", "PageSchema"))


# Clients
class ClientSchema(ma.Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    full_name = fields.String(required=True)
    comment = fields.String(required=True)
    unsubscribed_at = fields.DateTime(required=True, allow_none=True)
    suppressed_at = fields.DateTime(required=True, allow_none=True)
    suppressed_reason = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


FILLED = {"minLength": 1, "pattern": "\\S"}  # documented; the services say why an empty one is refused


class ClientInput(ma.Schema):
    email = Text(required=True, metadata={**FILLED, "maxLength": 254})
    full_name = Text(load_default="")
    comment = Text(load_default="")


class ClientChange(ma.Schema):
    email = Text()
    full_name = Text()
    comment = Text()


class ClientListArgs(PageArgs):
    email = Text(metadata={"description": "Only the client with this address."})
    name = Text(metadata={"description": "Only clients whose name contains this."})
    unsubscribed = fields.Boolean()
    suppressed = fields.Boolean()


class BulkClientsInput(ma.Schema):
    # Nested(many=True) rather than List(Nested): the same shape and errors, a third faster.
    clients = fields.Nested(ClientInput, many=True, required=True,
                            validate=validate.Length(min=1, max=MAX_BULK))


class BulkResultSchema(ma.Schema):
    added = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)


ClientPageSchema = _page_of(ClientSchema)


# Messages
class MessageSchema(ma.Schema):
    id = fields.Integer(required=True)
    subject = fields.String(required=True)
    body = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class MessageInput(ma.Schema):
    subject = Text(required=True, metadata={**FILLED, "maxLength": 255})
    body = Text(required=True, metadata=FILLED)


class MessageChange(ma.Schema):
    subject = Text()
    body = Text()


class PreviewArgs(ma.Schema):
    client_id = RowIdArg(metadata={"description": "Personalise for this client of yours "
                                               "(default: your first client, or a sample one)."})


class RecipientSchema(ma.Schema):
    email = fields.String(required=True)
    full_name = fields.String(required=True)


class PreviewSchema(ma.Schema):
    subject = fields.String(required=True)
    text = fields.String(required=True)
    html = fields.String(required=True, allow_none=True)
    problem = fields.String(required=True, allow_none=True,
                            metadata={"description": "Why it cannot be sent as written."})
    recipient = fields.Nested(RecipientSchema, required=True)


MessagePageSchema = _page_of(MessageSchema)


# Mailings
class MailingSchema(ma.Schema):
    id = fields.Integer(required=True)
    message_id = fields.Integer(required=True)
    status = _choice(MailingStatus)
    frequency = _choice(Frequency)
    timezone = fields.String(required=True)
    start_at = fields.DateTime(required=True)
    end_at = fields.DateTime(required=True)
    recipient_count = fields.Integer(required=True)
    stop_reason = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


WINDOW_TIME = ("An ISO 8601 time; without an offset it is a wall-clock time in the mailing's "
               "time zone.")


class MailingInput(ma.Schema):
    message_id = RowId(required=True)
    start_at = fields.DateTime(required=True, metadata={"description": WINDOW_TIME})
    end_at = fields.DateTime(required=True, metadata={"description": WINDOW_TIME})
    frequency = fields.String(required=True, validate=validate.OneOf([f.value for f in Frequency]))
    timezone = Text(metadata={"description": "An IANA zone; default: your profile's."})
    client_ids = fields.List(RowId(), load_default=list)
    all_clients = fields.Boolean(load_default=False)


class MailingChange(ma.Schema):
    message_id = RowId()
    start_at = fields.DateTime(metadata={"description": WINDOW_TIME})
    end_at = fields.DateTime(metadata={"description": WINDOW_TIME})
    frequency = fields.String(validate=validate.OneOf([f.value for f in Frequency]))
    client_ids = fields.List(RowId())
    all_clients = fields.Boolean()


class NextArgs(ma.Schema):
    count = fields.Integer(load_default=5, validate=validate.Range(min=1, max=50))


class NextSchema(ma.Schema):
    occurrences = fields.List(fields.DateTime(), required=True)


class SendStartedSchema(ma.Schema):
    mailing_id = fields.Integer(required=True)
    started = fields.Boolean(required=True)


class TestSentSchema(ma.Schema):
    to = fields.String(required=True)
    sent = fields.Boolean(required=True, metadata={"description": "Whether the mail server took it."})
    reply = fields.String(required=True, metadata={"description": "The mail server's words."})


MailingPageSchema = _page_of(MailingSchema)


# Attempts and deliveries
class AttemptSchema(ma.Schema):
    id = fields.Integer(required=True)
    mailing_id = fields.Integer(required=True)
    occurrence_at = fields.DateTime(required=True)
    started_at = fields.DateTime(required=True)
    finished_at = fields.DateTime(required=True, allow_none=True)
    status = _choice(AttemptStatus)
    manual = fields.Boolean(required=True)
    sent_count = fields.Integer(required=True)
    failed_count = fields.Integer(required=True)
    not_reached = fields.Integer(required=True)
    server_response = fields.String(required=True)


class AttemptListArgs(PageArgs):
    mailing_id = RowIdArg()
    status = fields.String(validate=validate.OneOf([s.value for s in AttemptStatus]))
    date_from = fields.Date()
    date_to = fields.Date()


class DeliverySchema(ma.Schema):
    id = fields.Integer(required=True)
    client_id = fields.Integer(required=True, allow_none=True)
    email = fields.String(required=True)
    status = _choice(DeliveryStatus)
    smtp_code = fields.Integer(required=True, allow_none=True)
    server_reply = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    bounce = fields.Enum(Bounce, by_value=True, required=True, allow_none=True)
    bounce_reason = fields.String(required=True, allow_none=True)
    bounced_at = fields.DateTime(required=True, allow_none=True)


AttemptPageSchema = _page_of(AttemptSchema)
DeliveryPageSchema = _page_of(DeliverySchema)


# The manager's views
class UserSchema(ma.Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    full_name = fields.String(required=True)
    role = _choice(Role)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class OverseenMailingSchema(MailingSchema):
    owner_id = fields.Integer(required=True)


class ManagerMailingArgs(PageArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in MailingStatus]))
    owner = Text(metadata={"description": "Only mailings whose owner's address contains this."})


class UserListArgs(PageArgs):
    q = Text(metadata={"description": "Only users whose address or name contains this."})


class StopInput(ma.Schema):
    reason = Text(required=True)


UserPageSchema = _page_of(UserSchema)
OverseenMailingPageSchema = _page_of(OverseenMailingSchema)
