"""The HTTP API for integrations, /api/v1/: JSON in and out, the same services as the web
pages, a bearer token per program (mailer/api_tokens.py), errors as problem documents.

Built with flask-smorest: its marshmallow schemas check the input, shape the output and
make the OpenAPI 3.1 document (/api/v1/openapi.json) through apispec, and its ETags
answer an unchanged read with 304. The web app's error handlers answer for it
(mailer/app.py), with problem documents instead of pages.
"""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from mailer.api.problems import MEDIA_TYPE
from mailer.api.schemas import ProblemSchema

PREFIX = "/api/v1"


class MailerApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        """None: mailer.app's handlers answer every error under /api/ with a problem document."""

    def _register_responses(self):
        """The error answers of the document, as problem documents."""
        import http

        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, MEDIA_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "A problem document (RFC 9457).", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def init_api(app: Flask) -> None:
    from mailer.api import reference, resources
    from mailer.api.links import add_links
    from mailer.app_core import RowIdConverter
    from mailer.extensions import csrf
    from mailer.models import MAX_ID

    app.config.setdefault("API_TITLE", "mailer")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = MailerApi(app, spec_kwargs={
        "info": {"description": "Clients, messages, mailings and their reports, for programs. "
                               "Every request carries `Authorization: Bearer <token>`; tokens are "
                               "made in the profile."},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
    })
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.register_converter(RowIdConverter, lambda converter: {"type": "integer", "minimum": 1, "maximum": MAX_ID})
    for blueprint in resources.blueprints():
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix=PREFIX)
    add_links(api.spec._paths)  # apispec keeps them there until the document is served
    app.register_blueprint(reference.bp)
