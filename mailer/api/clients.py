"""/api/v1/clients: the caller's recipients."""
from __future__ import annotations

from flask import url_for
from flask_login import current_user

from mailer import paging
from mailer.api import access, schemas
from mailer.api.blueprints import api_blueprint
from mailer.api.common import own_or_404, page_body, refuse
from mailer.api.idempotency import PARAMETER as IDEMPOTENCY_KEY, idempotent
from mailer.api.problems import problem
from mailer.clients import services
from mailer.errors import ServiceError
from mailer.models import Client
from mailer.unsubscribe import services as unsubscribing

blp = api_blueprint("api_clients", __name__, "The recipients of your mailings.", access.workspace_only)


@blp.route("/clients")
@blp.etag
@blp.arguments(schemas.ClientListArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.ClientPageSchema)
def list_clients(after=None, limit=schemas.DEFAULT_PAGE, **filters):
    """Your clients, by e-mail, a page at a time."""
    query = services.filtered_clients(current_user, **filters)
    page = paging.keyset_page(query, Client.id, services.LIST_ORDER, paging.Place(after=after), limit)
    return page_body(page)


def _data(fields: dict, current: Client | None = None) -> services.ClientData:
    def value(name):
        return fields[name] if name in fields else getattr(current, name)

    return services.ClientData(email=value("email"), full_name=value("full_name"), comment=value("comment"))


@blp.route("/clients", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@blp.arguments(schemas.ClientInput)
@blp.response(201, schemas.ClientSchema, headers={"Location": {"schema": {"type": "string"}}})
@blp.alt_response(422, **schemas.PROBLEM)
def create_client(fields):
    """Add a client."""
    try:
        client = services.create_client(current_user, _data(fields))
    except ServiceError as error:
        refuse(error)
    return client, 201, {"Location": url_for("api_clients.get_client", client_id=client.id)}


@blp.route("/clients/bulk", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_KEY])
@idempotent
@blp.arguments(schemas.BulkClientsInput)
@blp.response(200, schemas.BulkResultSchema)
@blp.alt_response(422, **schemas.PROBLEM)
def upsert_clients(body):
    """Add or update up to 10,000 clients by e-mail, all or nothing: a row with a problem
    saves none, and the answer names every such row (`#/clients/<row>/<field>`)."""
    rows = [_data(fields) for fields in body["clients"]]
    try:
        return services.upsert_clients(current_user, rows)
    except services.RowsRefused as refused:
        return problem(422, refused.message, errors=[
            {"detail": item.message, "pointer": f"#/clients/{item.row}/{item.field}"}
            for item in refused.problems])
    except ServiceError as error:
        refuse(error, status=409)


@blp.route("/clients/<int:client_id>")
@blp.etag
@blp.response(200, schemas.ClientSchema)
def get_client(client_id: int):
    """One client."""
    return own_or_404(Client, client_id)


@blp.route("/clients/<int:client_id>", methods=["PATCH"])
@blp.arguments(schemas.ClientChange, required=False)
@blp.response(200, schemas.ClientSchema)
@blp.alt_response(422, **schemas.PROBLEM)
def update_client(fields, client_id: int):
    """Change a client's address, name or comment (the fields sent)."""
    client = own_or_404(Client, client_id)
    try:
        services.update_client(client, _data(fields, client))
    except ServiceError as error:
        refuse(error)
    return client


@blp.route("/clients/<int:client_id>", methods=["DELETE"])
@blp.response(204)
def delete_client(client_id: int):
    """Delete a client; past deliveries keep the address they went to."""
    services.delete_client(own_or_404(Client, client_id))


@blp.route("/clients/<int:client_id>/unsubscribe", methods=["POST"])
@blp.response(200, schemas.ClientSchema)
def unsubscribe_client(client_id: int):
    """Take the client off every mailing of yours, as its unsubscribe link does."""
    client = own_or_404(Client, client_id)
    unsubscribing.unsubscribe(client)
    return client
