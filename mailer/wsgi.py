"""WSGI entry point of an installed mailer: ``gunicorn mailer.wsgi:app``.

A setting that cannot work stops the start with one line naming it, not a traceback.
"""
from mailer import create_app
from mailer.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    raise SystemExit(f"mailer cannot start: {error}") from None
