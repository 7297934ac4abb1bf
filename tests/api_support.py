"""Calling the API as a program does: a token of the user's, made as the profile makes it."""
from __future__ import annotations

from mailer import api_tokens


def token_for(user) -> str:
    return api_tokens.create_token(user, "tests", None).secret


class ApiCaller:
    """A test client that sends ``Authorization: Bearer <token>`` (and, if given, a language)."""

    def __init__(self, client, token: str | None, language: str | None = None):
        self.client = client
        self.token = token
        self.language = language

    def headers(self, extra: dict | None = None) -> dict:
        headers = {}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.language:
            headers["Accept-Language"] = self.language
        return {**headers, **(extra or {})}

    def open(self, method: str, path: str, headers: dict | None = None, **kwargs):
        return self.client.open("/api/v1" + path, method=method, headers=self.headers(headers), **kwargs)

    def get(self, path, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.open("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.open("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.open("DELETE", path, **kwargs)

    def follow(self, link: str, **kwargs):
        """GET a link the API gave (a ``next`` or ``Location``): already a full path."""
        return self.client.open(link, method="GET", headers=self.headers(kwargs.pop("headers", None)), **kwargs)


PROBLEM_TYPE = "application/problem+json"


def problem_of(response, status: int) -> dict:
    """The problem document (RFC 9457) of a refusal with this status."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == PROBLEM_TYPE, response.mimetype
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["type"] == "about:blank", body
    return body
