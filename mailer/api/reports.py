"""/api/v1/attempts: each run of a mailing and its letters, with the report's filters and CSVs.
A user sees their own mailings' attempts; a manager's token sees everyone's, as on the web."""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from mailer import paging
from mailer.api import access, schemas
from mailer.api.blueprints import api_blueprint
from mailer.api.common import page_body
from mailer.api.problems import problem
from mailer.clients.csv_io import csv_lines
from mailer.downloads import csv_download
from mailer.mailings import services as mailing_services
from mailer.models import Attempt
from mailer.reports import services

blp = api_blueprint("api_reports", __name__, "What each run of a mailing sent, and to whom.",
                    access.workspace_or_oversight)
NEWEST_FIRST = (Attempt.started_at, Attempt.id)
CSV = {"content_type": "text/csv", "description": "A CSV file, as the reports page exports it."}


def _chosen(filters: dict) -> services.AttemptFilter:
    mailing_id = filters.get("mailing_id")
    given = services.FilterInput(mailing="" if mailing_id is None else str(mailing_id),
                                 status=filters.get("status", ""),
                                 date_from=filters.get("date_from"), date_to=filters.get("date_to"))
    try:
        return services.check_filter(current_user, given)
    except services.InvalidFilter as invalid:
        names = {"mailing": "mailing_id"}
        abort(problem(422, invalid.problems[0].message, errors=[
            {"detail": item.message, "parameter": names.get(item.field, item.field)}
            for item in invalid.problems]))


@blp.route("/attempts")
@blp.etag
@blp.arguments(schemas.AttemptListArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.AttemptPageSchema)
def list_attempts(after=None, limit=schemas.DEFAULT_PAGE, **filters):
    """Attempts, newest first: of one mailing, with a status, or started between two days
    (in your time zone)."""
    query = services.attempts_query(current_user, _chosen(filters))
    page = paging.keyset_page(query, Attempt.id, NEWEST_FIRST, paging.Place(after=after), limit,
                              descending=True)
    return page_body(page)


def _visible_or_404(attempt_id: int) -> Attempt:
    attempt = services.visible_attempt(current_user, attempt_id)
    if attempt is None:
        abort(problem(404))
    return attempt


@blp.route("/attempts/<int:attempt_id>")
@blp.etag
@blp.response(200, schemas.AttemptSchema)
def get_attempt(attempt_id: int):
    """One attempt."""
    return _visible_or_404(attempt_id)


@blp.route("/attempts/<int:attempt_id>/deliveries")
@blp.etag
@blp.arguments(schemas.PageArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.DeliveryPageSchema)
def list_deliveries(attempt_id: int, after=None, limit=schemas.DEFAULT_PAGE):
    """Who got the attempt's letter and who did not (failures first), with the server's reply
    and what came back later."""
    page = mailing_services.deliveries_page(_visible_or_404(attempt_id), paging.Place(after=after), limit)
    return page_body(page)


@blp.route("/attempts/export.csv")
@blp.arguments(schemas.AttemptListArgs, location="query", as_kwargs=True)
@blp.response(200, **CSV)
def export_attempts(after=None, limit=None, **filters):
    """The attempts the filter selects, as CSV (the paging arguments are ignored)."""
    chosen = _chosen(filters)
    return csv_download(csv_lines(services.EXPORT_HEADER, services.export_rows(current_user, chosen)),
                        "attempts")


@blp.route("/attempts/deliveries.csv")
@blp.arguments(schemas.AttemptListArgs, location="query", as_kwargs=True)
@blp.response(200, **CSV)
def export_deliveries(after=None, limit=None, **filters):
    """Every letter of the attempts the filter selects, as CSV."""
    chosen = _chosen(filters)
    return csv_download(csv_lines(services.DELIVERY_EXPORT_HEADER,
                                  services.delivery_export_rows(current_user, chosen)), "deliveries")


@blp.route("/attempts/<int:attempt_id>/deliveries.csv")
@blp.response(200, **CSV)
def export_attempt_deliveries(attempt_id: int):
    """The attempt's letters, as CSV."""
    attempt = _visible_or_404(attempt_id)
    return csv_download(csv_lines(services.DELIVERY_EXPORT_HEADER,
                                  services.attempt_delivery_rows(attempt, current_user.timezone)),
                        f"attempt-{attempt.id}-deliveries")
