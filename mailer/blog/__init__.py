"""The public blog: ``/blog/`` (list), ``/blog/<id>`` (article) and ``/uploads/<file>`` (images)."""
from flask import Blueprint

bp = Blueprint("blog", __name__)

from mailer.blog import routes  # noqa: E402,F401
