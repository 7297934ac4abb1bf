from flask import Blueprint

bp = Blueprint("main", __name__)

from mailer.main import routes  # noqa: E402,F401
