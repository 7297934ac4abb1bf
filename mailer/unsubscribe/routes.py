"""Confirm, then unsubscribe. The signed token is the proof, so the POST needs no session.

Mail providers send the RFC 8058 one-click POST (body ``List-Unsubscribe=One-Click``)
without cookies or a CSRF token; the signed, expiring token in the URL is
what authorises it, and unsubscribing twice does no harm.
"""
from flask import Blueprint, render_template, request

from mailer import tokens
from mailer.extensions import csrf, db
from mailer.models import Client, utcnow

bp = Blueprint("unsubscribe", __name__)


def _client_of(token: str) -> tuple[Client | None, str | None]:
    try:
        client_id = tokens.read_token(tokens.UNSUBSCRIBE, token)
    except tokens.TokenExpired:
        return None, "expired"
    except tokens.TokenInvalid:
        return None, "invalid"
    client = db.session.get(Client, client_id) if isinstance(client_id, int) else None
    return client, None if client else "gone"


@bp.route("/unsubscribe/<token>", methods=["GET"])
def confirm(token: str):
    client, problem = _client_of(token)
    status = 404 if problem in ("invalid", "gone") else 410 if problem else 200
    return render_template("unsubscribe/confirm.html", client=client, problem=problem,
                           done=False), status


@bp.route("/unsubscribe/<token>", methods=["POST"])
@csrf.exempt
def unsubscribe(token: str):
    client, problem = _client_of(token)
    if client is not None and client.unsubscribed_at is None:
        client.unsubscribed_at = utcnow()
        db.session.commit()
    status = 404 if problem in ("invalid", "gone") else 410 if problem else 200
    if request.form.get("List-Unsubscribe") == "One-Click":
        return ("", 204) if client is not None else ("", status)
    return render_template("unsubscribe/confirm.html", client=client, problem=problem,
                           done=client is not None), status
