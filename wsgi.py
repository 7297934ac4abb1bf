"""WSGI entry point in a checkout: ``gunicorn wsgi:app`` (and ``flask --app wsgi``)."""
from mailer.wsgi import app  # noqa: F401
