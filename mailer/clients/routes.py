"""Clients: list and search, add, edit, delete, CSV import and export, JSON search."""

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from mailer import paging, tallies
from mailer.clients import csv_io as client_csv, import_progress, services
from mailer.clients.forms import ClientForm, ImportClientsForm
from mailer.downloads import csv_download
from mailer.errors import ServiceError
from mailer.form_errors import attach_error
from mailer.models import Client, named_address
from mailer.ownership import own_or_404, workspace_only

bp = Blueprint("clients", __name__)
bp.before_request(workspace_only)


@bp.route("/clients/")
def list_clients():
    q = request.args.get("q", "").strip()
    shown = request.args.get("show") if request.args.get("show") in services.SHOWN else None
    tally = tallies.of_owner(current_user.id)
    page = services.clients_page(current_user, q, paging.Place.from_args(request.args), shown, tally)
    return render_template("clients/list.html", page=page, q=q, shown=shown,
                           skipped={name: getattr(tally, name) for name in services.SHOWN})


def _data(form: ClientForm) -> services.ClientData:
    return services.ClientData(
        email=form.email.data, full_name=form.full_name.data or "", comment=form.comment.data or ""
    )


@bp.route("/clients/new", methods=["GET", "POST"])
def new_client():
    form = ClientForm()
    if form.validate_on_submit():
        try:
            client = services.create_client(current_user, _data(form))
        except ServiceError as error:
            attach_error(form, error.message, error.field)
        else:
            flash(_("Client %(email)s added.", email=client.email), "success")
            return redirect(url_for("clients.list_clients"))
    return render_template("clients/form.html", form=form, client=None)


@bp.route("/clients/<int:client_id>/edit", methods=["GET", "POST"])
def edit_client(client_id: int):
    client = own_or_404(Client, client_id, current_user)
    form = ClientForm(obj=client)
    if form.validate_on_submit():
        try:
            services.update_client(client, _data(form))
        except ServiceError as error:
            attach_error(form, error.message, error.field)
        else:
            flash(_("Client %(email)s saved.", email=client.email), "success")
            return redirect(url_for("clients.list_clients"))
    return render_template("clients/form.html", form=form, client=client,
                           bounces=services.recent_bounces(client))


@bp.route("/clients/<int:client_id>/lift-suppression", methods=["POST"])
def lift_suppression(client_id: int):
    client = own_or_404(Client, client_id, current_user)
    services.lift_suppression(client)
    flash(_("%(email)s will be mailed again.", email=client.email), "success")
    return redirect(url_for("clients.edit_client", client_id=client.id))


@bp.route("/clients/<int:client_id>/delete", methods=["POST"])
def delete_client(client_id: int):
    client = own_or_404(Client, client_id, current_user)
    email = client.email
    services.delete_client(client)
    flash(_("Client %(email)s deleted.", email=email), "success")
    return redirect(url_for("clients.list_clients"))


@bp.route("/clients/import", methods=["GET", "POST"])
def import_clients():
    form = ImportClientsForm()
    report = None
    if form.validate_on_submit():
        progress = import_progress.Progress(current_user.id, form.progress_token.data)
        try:
            report = services.import_clients(
                current_user, form.file.data.read(), skip_rejected=form.skip_rejected.data,
                progress=progress,
            )
        except ServiceError as error:
            attach_error(form, error.message, error.field)
        else:
            if report.applied and not report.rejected:
                flash(_("Import done. Added: %(added)d, updated: %(updated)d, "
                        "unchanged: %(unchanged)d.", added=report.added,
                        updated=report.updated, unchanged=report.unchanged), "success")
                return redirect(url_for("clients.list_clients"))
    # Rejected rows are shown on this page: with the file refused, or as the
    # list of what was skipped. Each showing of the form names its next upload afresh.
    form.progress_token.data = import_progress.new_token()
    return render_template(
        "clients/import.html",
        form=form,
        report=report,
        columns=client_csv.COLUMNS,
        limits={"name": client_csv.FULL_NAME_MAX, "comment": client_csv.COMMENT_MAX},
    )


@bp.route("/clients/import/progress/<token>")
def import_progress_of(token: str):
    """How far the signed-in owner's upload named ``token`` has got (JSON; 404 if unknown)."""
    found = import_progress.read(current_user.id, token)
    if found is None:
        return jsonify({"stage": "unknown"}), 404
    return jsonify(found)


@bp.route("/clients/export.csv")
def export_clients():
    lines = client_csv.export_lines(services.export_rows(current_user))
    return csv_download(lines, "clients")


@bp.route("/clients/search.json")
def search_clients():
    found = services.search_clients(
        current_user, request.args.get("q", ""), request.args.get("page", 1, type=int)
    )
    return jsonify(
        results=[
            {"id": c.id, "text": named_address(c.full_name, c.email), "unsubscribed": c.unsubscribed_at is not None}
            for c in found.clients
        ],
        more=found.more,
    )
