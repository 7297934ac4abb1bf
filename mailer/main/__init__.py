"""The home page (figures, random articles), the language switch and /healthz."""
from mailer.main import services
from mailer.signals import mailing_changed
from mailer.main.routes import bp

__all__ = ["bp"]

# Any change of a mailing can change the home page's figures.
mailing_changed.connect(services.figures_changed)
