"""A blueprint of the API: every request shows a token, passes its role's guard and counts
against the token's budget."""
from __future__ import annotations

from typing import Callable

from flask import request
from flask_smorest import Blueprint

from mailer.api import access, rate_limits


def api_blueprint(name: str, import_name: str, description: str, guard: Callable[[], None]) -> Blueprint:
    blueprint = Blueprint(name, import_name, description=description)

    @blueprint.before_request
    def token_and_role():
        access.authenticate(request.headers.get("Authorization"))
        guard()

    blueprint.after_request(rate_limits.add_headers)
    rate_limits.shared_budget(blueprint)
    return blueprint
