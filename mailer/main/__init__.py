from flask import Blueprint

from mailer.signals import mailing_changed

bp = Blueprint("main", __name__)

from mailer.main import routes, services  # noqa: E402,F401

# Any change of a mailing can change the home page's figures.
mailing_changed.connect(services.figures_changed)
