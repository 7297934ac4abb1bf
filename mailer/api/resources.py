"""The API's blueprints, in the order the document lists them."""
from __future__ import annotations


def blueprints() -> list:
    from mailer.api import clients, mailings, manager, messages, reports

    return [clients.blp, messages.blp, mailings.blp, reports.blp, manager.blp]
