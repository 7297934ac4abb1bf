"""WSGI entry point: ``gunicorn wsgi:app`` (and ``flask --app wsgi``)."""
from mailer import create_app
from mailer.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    raise SystemExit(f"mailer cannot start: {error}") from None
