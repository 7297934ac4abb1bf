"""A blueprint of the API: every request shows a token, passes its role's guard and counts
against the token's budget."""
from __future__ import annotations

from typing import Callable

from flask import Response, abort, request
from flask_smorest import Blueprint

from mailer.api import access, rate_limits


class ApiBlueprint(Blueprint):
    def _check_not_modified(self, etag):
        """A 304 that names the ETag it confirms (RFC 9110 § 15.4.5); flask-smorest's has none."""
        if request.method in self.METHODS_CHECKING_NOT_MODIFIED and etag in request.if_none_match:
            not_modified = Response(status=304)
            not_modified.set_etag(etag)
            abort(not_modified)


def api_blueprint(name: str, import_name: str, description: str, guard: Callable[[], None]) -> Blueprint:
    blueprint = ApiBlueprint(name, import_name, description=description)

    @blueprint.before_request
    def token_and_role():
        access.authenticate(request.headers.get("Authorization"))
        guard()

    blueprint.after_request(rate_limits.add_headers)
    rate_limits.shared_budget(blueprint)
    return blueprint
