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


@blp.route("/mailings")
@blp.etag
@blp.arguments(schemas.PageArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.MailingPageSchema)
def list_mailings(after=None, limit=schemas.DEFAULT_PAGE):
    """Your mailings, newest first."""
    page = paging.keyset_page(owned(Mailing, current_user), Mailing.id, services.NEWEST_FIRST,
                              paging.Place(after=after), limit, descending=True)
    return page_body(page)


def _wall_clock(fields: dict, name: str, zone: str):
    """A window's end as the service takes it: the wall-clock time in the mailing's zone (a time
    sent with an offset is converted; one without is taken as written)."""
    moment = fields[name]
    if not valid_timezone(zone):  # the service names the zone as the problem
        return moment.replace(tzinfo=None)
    return wall_clock.wall_clock_in(moment, zone, name)


def _new_data(fields: dict) -> services.MailingData:
    zone = fields.get("timezone") or current_user.timezone
    return services.MailingData(
        message_id=fields["message_id"], frequency=fields["frequency"], timezone=zone,
        start_local=_wall_clock(fields, "start_at", zone), end_local=_wall_clock(fields, "end_at", zone),
        client_ids=fields["client_ids"], all_clients=fields["all_clients"])


def _changed_data(fields: dict, mailing: Mailing) -> services.MailingData:
    """The mailing as it is, with the fields sent changed; its clients stay unless
    ``client_ids`` or ``all_clients: true`` says otherwise."""
    start, end = services.local_window(mailing)
    new_clients = "client_ids" in fields or fields.get("all_clients")
    return services.MailingData(
        message_id=fields.get("message_id", mailing.message_id),
        frequency=fields.get("frequency", mailing.frequency.value),
        timezone=mailing.timezone,
        start_local=_wall_clock(fields, "start_at", mailing.timezone) if "start_at" in fields else start,
        end_local=_wall_clock(fields, "end_at", mailing.timezone) if "end_at" in fields else end,
        client_ids=fields.get("client_ids", []) if new_clients else services.client_ids_of(mailing),
        all_clients=bool(fields.get("all_clients")) if new_clients else False)


@blp.route("/mailings", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@blp.arguments(schemas.MailingInput)
@blp.response(201, schemas.MailingSchema, headers={"Location": {"schema": {"type": "string"}}})
@blp.alt_response(422, **schemas.PROBLEM)
def create_mailing(fields):
    """Make a mailing: a message of yours, to some or all of your clients, from `start_at` until
    `end_at`, daily, weekly or monthly. Cron sends it from then on."""
    try:
        mailing = services.create_mailing(current_user, _new_data(fields))
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
@blp.alt_response(422, **schemas.PROBLEM)
def update_mailing(fields, mailing_id: int):
    """Change a mailing (the fields sent); a stopped one cannot be changed."""
    mailing = own_or_404(Mailing, mailing_id)
    try:
        services.update_mailing(mailing, _changed_data(fields, mailing))
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
@blp.alt_response(409, **schemas.PROBLEM)
def pause_mailing(mailing_id: int):
    """Pause a created or running mailing: cron no longer sends it."""
    return _status_change(mailing_id, lifecycle.pause)


@blp.route("/mailings/<int:mailing_id>/resume", methods=["POST"])
@blp.response(200, schemas.MailingSchema)
@blp.alt_response(409, **schemas.PROBLEM)
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
@blp.alt_response(409, **schemas.PROBLEM)
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
@blp.alt_response(422, **schemas.PROBLEM)
def test_send(mailing_id: int):
    """Send the mailing's letter once to your own address, personalised for its first client."""
    mailing = own_or_404(Mailing, mailing_id)
    try:
        sent = message_services.send_test(mailing.message, current_user, mailing)
    except ServiceError as error:
        refuse(error)
    return {"to": current_user.email, "sent": sent.sent, "reply": sent.reply}
