"""Development only: read the mail the local sink caught (``flask mail-sink``).

The caught mail holds every verification and password-reset link, so the pages
answer only in development (the blueprint is not even registered otherwise)
and only to a browser on this machine.
"""
from ipaddress import ip_address

from flask import Blueprint, abort, request

bp = Blueprint("devmail", __name__)


@bp.before_request
def only_from_this_machine():
    try:
        loopback = ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        abort(404)


from mailer.devmail import routes  # noqa: E402,F401
