"""/api/v1/mailings: the caller's mailings, their changes of status, sending now and a test."""
from __future__ import annotations

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from mailer import lifecycle, paging, wall_clock
from mailer.api import access, schemas
from mailer.api.blueprints import api_blueprint
from mailer.api.common import own_or_404, page_body, refuse
from mailer.api.idempotency import PARAMETER as IDEMPOTENCY_KEY, idempotent
from mailer.api.problems import problem
from mailer.auth.services import valid_timezone
from mailer.errors import ServiceError
from mailer.extensions import limiter
from mailer.mailings import services
from mailer.messages import services as message_services
from mailer.models import Mailing
from mailer.ownership import owned
from mailer.scheduling.task_manager import TaskManager

blp = api_blueprint("api_mailings", __name__, "One message to many clients, on a schedule.",
                    access.workspace_only)
ONLY_SENDING = _l("Only a created or running mailing can be sent.")
PROBLEM = {"schema": schemas.ProblemSchema, "content_type": "application/problem+json"}


@blp.route("/mailings")
@blp.etag
@blp.arguments(schemas.PageArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.MailingPageSchema)
def list_mailings(after=None, limit=schemas.DEFAULT_PAGE):
    """Your mailings, newest first."""
    page = paging.keyset_page(owned(Mailing, current_user), Mailing.id, services.NEWEST_FIRST,
                              paging.Place(after=after), limit, descending=True)
    return page_body(page)


def _data(fields: dict, mailing: Mailing | None = None) -> services.MailingData:
    """The service's input from the request's fields, and the mailing's own for those not sent."""
    zone = mailing.timezone if mailing else fields.get("timezone") or current_user.timezone
    if mailing is not None:
        start, end = services.local_window(mailing)
        every = services.has_every_client(mailing) if "all_clients" not in fields and \
            "client_ids" not in fields else False
        current = {"message_id": mailing.message_id, "frequency": mailing.frequency.value,
                   "client_ids": [] if every else services.client_ids_of(mailing), "all_clients": every,
                   "start_local": start, "end_local": end}
    else:
        current = {"client_ids": [], "all_clients": False}
    local = {}
    for name in ("start_at", "end_at"):
        if name in fields:
            local[name] = wall_clock.wall_clock_in(fields[name], zone, name) if valid_timezone(zone) \
                else fields[name].replace(tzinfo=None)
    return services.MailingData(
        message_id=fields.get("message_id", current.get("message_id")),
        start_local=local.get("start_at", current.get("start_local")),
        end_local=local.get("end_at", current.get("end_local")),
        frequency=fields.get("frequency", current.get("frequency")),
        timezone=zone,
        client_ids=fields.get("client_ids", current["client_ids"]),
        all_clients=fields.get("all_clients", current["all_clients"]),
    )


@blp.route("/mailings", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@blp.arguments(schemas.MailingInput)
@blp.response(201, schemas.MailingSchema, headers={"Location": {"schema": {"type": "string"}}})
@blp.alt_response(422, **PROBLEM)
def create_mailing(fields):
    """Make a mailing: a message of yours, to some or all of your clients, from `start_at` until
    `end_at`, daily, weekly or monthly. Cron sends it from then on."""
    try:
        mailing = services.create_mailing(current_user, _data(fields))
    except ServiceError as error:
        refuse(error)
    return mailing, 201, {"Location": url_for("api_mailings.get_mailing", mailing_id=mailing.id)}


@blp.route("/mailings/<int:mailing_id>")
@blp.etag
@blp.response(200, schemas.MailingSchema)
def get_mailing(mailing_id: int):
    """One mailing."""
    return own_or_404(Mailing, mailing_id)


@blp.route("/mailings/<int:mailing_id>", methods=["PATCH"])
@blp.arguments(schemas.MailingChange, required=False)
@blp.response(200, schemas.MailingSchema)
@blp.alt_response(422, **PROBLEM)
def update_mailing(fields, mailing_id: int):
    """Change a mailing (the fields sent); a stopped one cannot be changed."""
    mailing = own_or_404(Mailing, mailing_id)
    try:
        services.update_mailing(mailing, _data(fields, mailing))
    except ServiceError as error:
        refuse(error)
    return mailing


@blp.route("/mailings/<int:mailing_id>", methods=["DELETE"])
@blp.response(204)
def delete_mailing(mailing_id: int):
    """Delete a mailing and its history."""
    services.delete_mailing(own_or_404(Mailing, mailing_id))


def _status_change(mailing_id: int, change) -> Mailing:
    mailing = own_or_404(Mailing, mailing_id)
    try:
        change(mailing)
    except ServiceError as error:
        refuse(error, status=409)
    return mailing


@blp.route("/mailings/<int:mailing_id>/pause", methods=["POST"])
@blp.response(200, schemas.MailingSchema)
@blp.alt_response(409, **PROBLEM)
def pause_mailing(mailing_id: int):
    """Pause a created or running mailing: cron no longer sends it."""
    return _status_change(mailing_id, lifecycle.pause)


@blp.route("/mailings/<int:mailing_id>/resume", methods=["POST"])
@blp.response(200, schemas.MailingSchema)
@blp.alt_response(409, **PROBLEM)
def resume_mailing(mailing_id: int):
    """Resume a paused mailing."""
    return _status_change(mailing_id, lifecycle.resume)


@blp.route("/mailings/<int:mailing_id>/next-occurrences")
@blp.etag
@blp.arguments(schemas.NextArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.NextSchema)
def next_occurrences(mailing_id: int, count=5):
    """When it sends next (none if it will not send again)."""
    return {"occurrences": services.next_send_times(own_or_404(Mailing, mailing_id), count)}


@blp.route("/mailings/<int:mailing_id>/send-now", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@blp.response(202, schemas.SendStartedSchema,
              headers={"Location": {"schema": {"type": "string"}}})
@blp.alt_response(409, **PROBLEM)
def send_now(mailing_id: int):
    """Send it now, apart from its schedule; the attempt appears in its attempts. Send an
    `Idempotency-Key` so that a retry never sends twice."""
    mailing = own_or_404(Mailing, mailing_id)
    if not mailing.status.sends:
        return problem(409, ONLY_SENDING)
    TaskManager().start_run(mailing.id, "--ignore-schedule")
    return ({"mailing_id": mailing.id, "started": True}, 202,
            {"Location": url_for("api_reports.list_attempts", mailing_id=mailing.id)})


def _test_send_limit() -> str:
    return current_app.config["RATELIMIT_TEST_SEND"]


def _per_user() -> str:
    return f"user:{current_user.get_id()}"


@blp.route("/mailings/<int:mailing_id>/test-send", methods=["POST"])
@limiter.limit(_test_send_limit, key_func=_per_user)
@blp.response(200, schemas.TestSentSchema)
@blp.alt_response(422, **PROBLEM)
def test_send(mailing_id: int):
    """Send the mailing's letter once to your own address, personalised for its first client."""
    mailing = own_or_404(Mailing, mailing_id)
    try:
        sent = message_services.send_test(mailing.message, current_user, mailing)
    except ServiceError as error:
        refuse(error)
    return {"to": current_user.email, "sent": sent.sent, "reply": sent.reply}
