"""mailer: a self-hosted service for recurring e-mail mailings.

The package itself imports nothing heavy, so the cron script's quick
"not due" path (``mailer.delivery.cron_entry``) stays cheap; the web app is
built by ``mailer.app.create_app``.
"""
from __future__ import annotations


def create_app(config: dict | None = None):
    """Build the Flask app (see ``mailer.app.create_app``)."""
    from mailer.app import create_app as build

    return build(config)
