"""Reports: the attempts list with its filter, and the same attempts, or their letters, as CSV."""

from flask import (Blueprint, abort, current_app, jsonify, redirect, render_template, request,
                   url_for)
from flask_login import current_user, login_required

from mailer.clients.csv_io import csv_lines
from mailer.downloads import csv_download
from mailer.form_errors import attach_error
from mailer.reports import services
from mailer.reports.forms import AttemptFilterForm

bp = Blueprint("reports", __name__)


@bp.before_request
@login_required
def signed_in_only():
    """Every report needs a viewer: what it shows depends on who is looking. Content managers
    work only in the admin, on the blog."""
    if current_user.is_content_manager:
        abort(403)


def _filter_form() -> tuple[AttemptFilterForm, services.AttemptFilter | None]:
    """The form as filled in, and the checked filter (None when it cannot be applied)."""
    form = AttemptFilterForm(formdata=request.args)
    named = services.chosen_mailing(current_user, request.args.get("mailing"))
    form.set_mailings(named and (named.id, services.mailing_label(
        named, with_owner=services.sees_all_attempts(current_user))))
    parsed = form.validate()
    try:
        chosen = services.check_filter(current_user, services.FilterInput(
            mailing=form.mailing.data or "",
            status=form.status.data or "",
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        ))
    except services.InvalidFilter as invalid:
        for problem in invalid.problems:
            attach_error(form, problem.message, problem.field)
        return form, None
    return form, chosen if parsed else None


def _filter_args() -> dict:
    return {key: value for key, value in request.args.items() if key != "page" and value}


def _mailing_url(viewer):
    """Where a row's mailing links to, for this viewer (None: no page to show it)."""
    if services.sees_all_attempts(viewer) and "manager.show_mailing" in current_app.view_functions:
        return lambda mailing: url_for("manager.show_mailing", mailing_id=mailing.id)
    if viewer.is_manager:
        return lambda mailing: None
    return lambda mailing: (url_for("mailings.show_mailing", mailing_id=mailing.id)
                            if mailing.owner_id == viewer.id else None)


@bp.route("/attempts/")
def list_attempts():
    form, chosen = _filter_form()
    page = None
    if chosen is not None:
        page = services.attempts_page(current_user, chosen, request.args.get("page", 1, type=int))
    return render_template(
        "reports/attempts.html",
        form=form,
        page=page,
        filtered=bool(_filter_args()),
        export_url=url_for("reports.export_attempts", **_filter_args()),
        deliveries_export_url=url_for("reports.export_deliveries", **_filter_args()),
        first_page_url=url_for("reports.list_attempts", **_filter_args()),
        with_owner=services.sees_all_attempts(current_user),
        mailing_url=_mailing_url(current_user),
    )


def _filtered_export(header: tuple[str, ...], rows_for, stem: str):
    """A CSV of what the report's filter selects, or back to the list when it cannot apply."""
    _form, chosen = _filter_form()
    if chosen is None:
        # The list page explains what is wrong with the filter.
        return redirect(url_for("reports.list_attempts", **_filter_args()))
    return csv_download(csv_lines(header, rows_for(current_user, chosen)), stem)


@bp.route("/attempts/mailings.json")
def mailings_json():
    """The filter's search among the viewer's mailings (``?q=`` part of a subject)."""
    with_owner = services.sees_all_attempts(current_user)
    return jsonify(results=[
        {"id": found.id, "text": services.mailing_label(found, with_owner)}
        for found in services.find_mailings(current_user, request.args.get("q", ""))])


@bp.route("/attempts/export.csv")
def export_attempts():
    return _filtered_export(services.EXPORT_HEADER, services.export_rows, "attempts")


@bp.route("/attempts/deliveries.csv")
def export_deliveries():
    """Every letter of the attempts the filter selects: one row per delivery."""
    return _filtered_export(services.DELIVERY_EXPORT_HEADER, services.delivery_export_rows,
                            "deliveries")
