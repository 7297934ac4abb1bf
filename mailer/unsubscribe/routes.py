"""Confirm, then unsubscribe. The signed token is the proof, so the POST needs no session.

Mail providers send the RFC 8058 one-click POST (body ``List-Unsubscribe=One-Click``)
without cookies or a CSRF token; the signed, expiring token in the URL is
what authorises it, and unsubscribing twice does no harm. The web app exempts
that POST from CSRF (``mailer.app``); a sending process registers this blueprint
only to build the links, and so never loads Flask-WTF.
"""
from flask import Blueprint, render_template, request

from mailer.unsubscribe.services import client_of_link, unsubscribe as unsubscribe_client

bp = Blueprint("unsubscribe", __name__)


@bp.route("/unsubscribe/<token>", methods=["GET"])
def confirm(token: str):
    client, problem = client_of_link(token)
    status = 404 if problem in ("invalid", "gone") else 410 if problem else 200
    return render_template("unsubscribe/confirm.html", client=client, problem=problem,
                           done=False), status


@bp.route("/unsubscribe/<token>", methods=["POST"])
def unsubscribe(token: str):
    client, problem = client_of_link(token)
    if client is not None:
        unsubscribe_client(client)
    status = 404 if problem in ("invalid", "gone") else 410 if problem else 200
    if request.form.get("List-Unsubscribe") == "One-Click":
        return ("", 204) if client is not None else ("", status)
    return render_template("unsubscribe/confirm.html", client=client, problem=problem,
                           done=client is not None), status
