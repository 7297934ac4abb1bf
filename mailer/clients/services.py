"""Clients: the recipients a user keeps. Create, change, delete, find, import, export.

Services validate, store and commit; they raise ``ServiceError`` (with the
form field it concerns) and never touch the request, flash or the session.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from mailer import bulk, paging, tallies
from mailer.extensions import db
from mailer.main.services import figures_changed
from mailer.clients import csv_io as client_csv
from mailer.errors import ServiceError
from mailer.models import Client, Delivery, User, normalize_email
from mailer.search import contains

PER_PAGE = 25
SEARCH_PER_PAGE = 50
# Existing clients are looked up with IN lists of this many e-mails.
LOOKUP_CHUNK = 1000
EXPORT_BATCH = 1000


@dataclass
class ClientData:
    email: str
    full_name: str = ""
    comment: str = ""


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    valid: int = 0  # rows that could be imported
    rejected: list[client_csv.RejectedRow] = field(default_factory=list)
    applied: bool = False  # False: nothing was written


def _clean(data: ClientData) -> client_csv.ClientFields:
    try:
        return client_csv.clean_fields(data.email, data.full_name, data.comment)
    except client_csv.FieldProblem as problem:
        raise ServiceError(problem.message, field=problem.field) from None


def _email_taken() -> ServiceError:
    return ServiceError(_l("You already have a client with this e-mail."), field="email")


def _owner_has_email(owner_id: int, email: str, except_id: int | None = None) -> bool:
    query = sa.select(Client.id).where(Client.owner_id == owner_id, Client.email == email)
    if except_id is not None:
        query = query.where(Client.id != except_id)
    return db.session.scalar(query.limit(1)) is not None


def _commit_or_email_taken() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        # Someone added the same address between our check and the write.
        db.session.rollback()
        raise _email_taken() from None


def create_client(owner: User, data: ClientData) -> Client:
    fields = _clean(data)
    if _owner_has_email(owner.id, fields.email):
        raise _email_taken()
    client = Client(
        owner_id=owner.id, email=fields.email, full_name=fields.full_name, comment=fields.comment
    )
    db.session.add(client)
    _commit_or_email_taken()
    figures_changed()
    return client


def update_client(client: Client, data: ClientData) -> None:
    fields = _clean(data)
    if fields.email != client.email and _owner_has_email(client.owner_id, fields.email, client.id):
        raise _email_taken()
    if fields.email != client.email:  # a new address: the old one's bounces say nothing of it
        client.suppressed_at = client.suppressed_reason = None
    client.email = fields.email
    client.full_name = fields.full_name
    client.comment = fields.comment
    _commit_or_email_taken()
    figures_changed()


def recent_bounces(client: Client, limit: int = 10) -> list[Delivery]:
    """The client's letters that came back (bounced or complained of), latest first."""
    return db.session.scalars(
        sa.select(Delivery).where(Delivery.client_id == client.id, Delivery.bounce.is_not(None))
        .order_by(Delivery.bounced_at.desc(), Delivery.id.desc()).limit(limit)
    ).all()


def lift_suppression(client: Client) -> None:
    """The owner's word that the address works again (a mailbox emptied, a typo fixed
    elsewhere): its mailings send to it from their next run."""
    client.suppressed_at = client.suppressed_reason = None
    db.session.commit()


def delete_client(client: Client) -> None:
    """The client leaves every mailing; past deliveries keep the address they went to."""
    db.session.delete(client)
    db.session.commit()
    figures_changed()


# Which of the owner's clients a list shows: the ones mailings skip, and why.
SHOWN = {
    "suppressed": Client.suppressed_at.is_not(None),
    "unsubscribed": Client.unsubscribed_at.is_not(None),
}


# The lists' order, and that of the owner's index on (owner_id, email) and its partial ones.
LIST_ORDER = (Client.email, Client.id)


def _search(owner: User, q: str | None, shown: str | None = None) -> sa.Select:
    query = sa.select(Client).where(Client.owner_id == owner.id)
    q = (q or "").strip()
    if q:
        query = query.where(contains(q, Client.email, Client.full_name))
    if shown in SHOWN:
        query = query.where(SHOWN[shown])
    return query


def filtered_clients(owner: User, email: str | None = None, name: str | None = None,
                     unsubscribed: bool | None = None, suppressed: bool | None = None) -> sa.Select:
    """The owner's clients with this address (any spelling), whose name contains ``name``,
    and unsubscribed or suppressed (True), not (False) or either (None): the API's list."""
    query = sa.select(Client).where(Client.owner_id == owner.id)
    if email is not None:
        query = query.where(Client.email == normalize_email(email))
    if name:
        query = query.where(contains(name, Client.full_name))
    for wanted, column in ((unsubscribed, Client.unsubscribed_at), (suppressed, Client.suppressed_at)):
        if wanted is not None:
            query = query.where(column.is_not(None) if wanted else column.is_(None))
    return query


def clients_page(owner: User, q: str | None, place: paging.Place, shown: str | None = None,
                 tally: tallies.ClientTally | None = None) -> paging.KeysetPage:
    """The owner's clients matching ``q`` (e-mail or name), by e-mail, all of them or only
    those ``shown`` names (a key of SHOWN, also a field of the tally), at ``place``. Without
    a search its total is the owner's tally (read here unless given), not a count."""
    query = _search(owner, q, shown)
    if (q or "").strip():
        total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    else:
        tally = tally or tallies.of_owner(owner.id)
        total = getattr(tally, shown) if shown in SHOWN else tally.clients
    return paging.keyset_page(query, Client.id, LIST_ORDER, place, PER_PAGE, total)


@dataclass(frozen=True)
class SearchPage:
    clients: list[Client]
    more: bool


def search_clients(owner: User, q: str | None, page: int) -> SearchPage:
    """One page (of 50) of the owner's clients matching ``q``, for a remote select box."""
    page = max(page, 1)
    found = db.session.scalars(
        _search(owner, q).order_by(*LIST_ORDER)
        .offset((page - 1) * SEARCH_PER_PAGE).limit(SEARCH_PER_PAGE + 1)
    ).all()
    return SearchPage(clients=list(found[:SEARCH_PER_PAGE]), more=len(found) > SEARCH_PER_PAGE)


def _existing_clients(owner: User, emails: list[str]) -> dict[str, tuple[int, str, str]]:
    """The owner's clients with these e-mails: email → (id, full name, comment)."""
    existing: dict[str, tuple[int, str, str]] = {}
    for start in range(0, len(emails), LOOKUP_CHUNK):
        chunk = emails[start:start + LOOKUP_CHUNK]
        rows = db.session.execute(
            sa.select(Client.email, Client.id, Client.full_name, Client.comment).where(
                Client.owner_id == owner.id, Client.email.in_(chunk)
            )
        )
        for email, client_id, full_name, comment in rows:
            existing[email] = (client_id, full_name, comment)
    return existing


def import_clients(owner: User, raw: bytes, skip_rejected: bool,
                   progress: Callable[..., None] | None = None) -> ImportReport:
    """Add the file's new e-mails and update the name and comment of known ones.

    All or nothing: if a row is rejected, nothing is written unless
    ``skip_rejected``. Unsubscribed clients stay unsubscribed. Raises
    ServiceError (field ``file``) when the file cannot be read at all.
    ``progress(stage, done, total)`` hears how far it has got
    (``mailer.clients.import_progress``).
    """
    progress = progress or (lambda stage, done, total, now=True: None)
    try:
        parsed = client_csv.parse_clients(
            raw, on_line=lambda line, lines: progress("reading", line, lines, now=False))
    except client_csv.UnreadableFile as error:
        progress("refused", 0, 0)
        raise ServiceError(error.message, field="file") from None
    report = ImportReport(rejected=parsed.rejected, valid=len(parsed.rows))
    if parsed.rejected and not skip_rejected:
        progress("refused", 0, len(parsed.rows) + len(parsed.rejected))
        return report

    progress("checking", 0, len(parsed.rows))
    try:
        written = _write_clients(owner, [row.client for row in parsed.rows],
                                 on_saving=lambda count: progress("saving", 0, count))
    except ServiceError:
        progress("refused", 0, len(parsed.rows))
        raise
    progress("done", written.added + written.updated, written.added + written.updated)
    report.added, report.updated, report.unchanged = written.added, written.updated, written.unchanged
    report.applied = True
    return report


@dataclass(frozen=True)
class Written:
    added: int
    updated: int
    unchanged: int


def _write_clients(owner: User, rows: list[client_csv.ClientFields],
                   on_saving: Callable[[int], None] = lambda count: None) -> Written:
    """Add the new e-mails among ``rows`` (distinct, checked) and update the name and comment of
    known ones, in one transaction; raises ServiceError (field ``file``) when another request
    added one of the addresses meanwhile."""
    existing = _existing_clients(owner, [fields.email for fields in rows])
    new_rows, changed_rows, unchanged = [], [], 0
    for fields in rows:
        known = existing.get(fields.email)
        if known is None:
            new_rows.append({
                "owner_id": owner.id,
                "email": fields.email,
                "full_name": fields.full_name,
                "comment": fields.comment,
            })
        elif (known[1], known[2]) != (fields.full_name, fields.comment):
            changed_rows.append(
                {"id": known[0], "full_name": fields.full_name, "comment": fields.comment}
            )
        else:
            unchanged += 1
    on_saving(len(new_rows) + len(changed_rows))
    try:
        bulk.insert_rows(Client.__table__, new_rows)
        bulk.update_rows(Client.__table__, changed_rows)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(
            _l("Your clients changed while the file was being imported. Upload it again."),
            field="file",
        ) from None
    figures_changed()
    return Written(len(new_rows), len(changed_rows), unchanged)


@dataclass(frozen=True)
class RowProblem:
    row: int  # its place in the request, from 0
    field: str
    message: object  # a lazy translated string


class RowsRefused(ServiceError):
    """Some rows of a bulk upsert cannot be stored: nothing was."""

    def __init__(self, problems: list[RowProblem]):
        super().__init__(_l("No client was saved: %(count)d rows have problems.", count=len(problems)))
        self.problems = problems


def upsert_clients(owner: User, rows: list[ClientData]) -> Written:
    """Add or update many clients at once (the API's bulk upsert), by e-mail, all or nothing:
    the CSV import's rules and writer, with every row's problems named (RowsRefused)."""
    checked, problems, first_row_of = [], [], {}
    for index, data in enumerate(rows):
        try:
            fields = client_csv.clean_fields(data.email, data.full_name, data.comment)
        except client_csv.FieldProblem as problem:
            problems.append(RowProblem(index, problem.field, problem.message))
            continue
        if fields.email in first_row_of:
            problems.append(RowProblem(index, "email", _l("Duplicate of row %(row)d.",
                                                          row=first_row_of[fields.email])))
            continue
        first_row_of[fields.email] = index
        checked.append(fields)
    if problems:
        raise RowsRefused(problems)
    try:
        return _write_clients(owner, checked)
    except ServiceError:
        raise ServiceError(_l("Your clients changed while these were being saved. Send them again."))


def export_rows(owner: User) -> Iterator[tuple]:
    """(email, full name, comment, unsubscribed time) of every client, by e-mail, read in batches."""
    query = (
        sa.select(Client.email, Client.full_name, Client.comment, Client.unsubscribed_at)
        .where(Client.owner_id == owner.id)
        .order_by(*LIST_ORDER)
        .execution_options(yield_per=EXPORT_BATCH)
    )

    def rows() -> Iterator[tuple]:
        for row in db.session.execute(query):
            yield tuple(row)

    return rows()
