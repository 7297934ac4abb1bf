"""/api/v1/manager: what a manager's token may do: read every mailing and user, stop a
mailing, block and unblock a user. Nothing else of anyone's can it change."""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from mailer import lifecycle, paging
from mailer.api import access, schemas
from mailer.api.blueprints import api_blueprint
from mailer.api.common import page_body, refuse
from mailer.api.problems import problem
from mailer.auth import services as accounts
from mailer.errors import ServiceError
from mailer.extensions import db
from mailer.mailings.services import NEWEST_FIRST
from mailer.manager import services
from mailer.models import Mailing, MailingStatus, User

blp = api_blueprint("api_manager", __name__, "A manager's oversight: every mailing and user.",
                    access.managers_only)


def _found_or_404(model, object_id: int):
    found = db.session.get(model, object_id)
    if found is None:
        abort(problem(404))
    return found


@blp.route("/manager/mailings")
@blp.etag
@blp.arguments(schemas.ManagerMailingArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.OverseenMailingPageSchema)
def list_mailings(after=None, limit=schemas.DEFAULT_PAGE, status=None, owner=""):
    """Every user's mailings, newest first."""
    query = services.mailings_filter(MailingStatus(status) if status else None, owner.strip())
    page = paging.keyset_page(query, Mailing.id, NEWEST_FIRST, paging.Place(after=after), limit,
                              descending=True)
    return page_body(page)


@blp.route("/manager/mailings/<int:mailing_id>")
@blp.etag
@blp.response(200, schemas.OverseenMailingSchema)
def get_mailing(mailing_id: int):
    """Anyone's mailing."""
    return _found_or_404(Mailing, mailing_id)


@blp.route("/manager/mailings/<int:mailing_id>/stop", methods=["POST"])
@blp.arguments(schemas.StopInput)
@blp.response(200, schemas.OverseenMailingSchema)
@blp.alt_response(422, **schemas.PROBLEM)
def stop_mailing(body, mailing_id: int):
    """Stop a mailing for good, with the reason its owner will read."""
    mailing = _found_or_404(Mailing, mailing_id)
    try:
        reason = services.check_stop_reason(body["reason"])
    except ServiceError as error:
        refuse(error)
    lifecycle.stop(mailing, reason)
    return mailing


@blp.route("/manager/users")
@blp.etag
@blp.arguments(schemas.UserListArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.UserPageSchema)
def list_users(after=None, limit=schemas.DEFAULT_PAGE, q=""):
    """Every user, by id."""
    page = paging.keyset_page(services.users_filter(q.strip()), User.id, (User.id,),
                              paging.Place(after=after), limit)
    return page_body(page)


@blp.route("/manager/users/<int:user_id>/block", methods=["POST"])
@blp.response(200, schemas.UserSchema)
@blp.alt_response(409, **schemas.PROBLEM)
def block_user(user_id: int):
    """Block a user: their sessions and tokens stop working and their mailings stop sending."""
    user = _found_or_404(User, user_id)
    try:
        accounts.block_user(user, by=current_user)
    except ServiceError as error:
        refuse(error, status=409)
    return user


@blp.route("/manager/users/<int:user_id>/unblock", methods=["POST"])
@blp.response(200, schemas.UserSchema)
def unblock_user(user_id: int):
    """Let a blocked user in again."""
    user = _found_or_404(User, user_id)
    accounts.unblock_user(user)
    return user
