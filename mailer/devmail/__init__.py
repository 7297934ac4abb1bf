"""Development only: read the mail the local sink caught (``flask mail-sink``)."""
from flask import Blueprint

bp = Blueprint("devmail", __name__)

from mailer.devmail import routes  # noqa: E402,F401
