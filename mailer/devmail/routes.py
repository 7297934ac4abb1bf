from ipaddress import ip_address

from flask import Blueprint, abort, current_app, render_template, request

from mailer.devmail.mailbox import caught_mail, one_mail
from mailer.letter_page import letter_response

bp = Blueprint("devmail", __name__)


@bp.before_request
def only_from_this_machine():
    try:
        loopback = ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        abort(404)


@bp.route("/")
def inbox():
    return render_template(
        "dev/inbox.html",
        messages=caught_mail(current_app.config["MAIL_SINK_DIR"]),
        sink=f"{current_app.config['MAIL_SERVER']}:{current_app.config['MAIL_PORT']}",
    )


@bp.route("/<key>")
def show(key: str):
    message = one_mail(current_app.config["MAIL_SINK_DIR"], key)
    if message is None:
        abort(404)
    return render_template("dev/message.html", message=message)



@bp.route("/<key>/html")
def show_html(key: str):
    message = one_mail(current_app.config["MAIL_SINK_DIR"], key)
    if message is None or message.html is None:
        abort(404)
    return letter_response(message.html)
