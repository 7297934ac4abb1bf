"""The base layout: menu by role, flash messages, error pages, headers, CSRF everywhere."""
import re

import pytest
from flask import abort

from mailer.models import Role


def test_anonymous_menu_invites_to_sign_in_or_register(client):
    page = client.get("/").get_data(as_text=True)

    assert 'href="/auth/login"' in page and 'href="/auth/register"' in page
    assert "Sign out" not in page and 'href="/auth/profile"' not in page


def test_signed_in_menu_shows_profile_and_sign_out(client, make_user, auth):
    make_user(email="user@example.com", full_name="Ivan Petrov")
    auth.login()

    page = client.get("/").get_data(as_text=True)

    assert re.search(r'href="/auth/profile">\s*Ivan Petrov', page)
    assert "Sign out" in page and 'href="/auth/register"' not in page


# Content managers are staff (the admin is theirs): tests/test_admin.py checks their link.
@pytest.mark.parametrize("role", [Role.USER, Role.MANAGER])
def test_no_admin_link_for_anyone_not_staff(client, make_user, auth, role):
    make_user(email="user@example.com", role=role)
    auth.login()

    assert "/admin" not in client.get("/").get_data(as_text=True)


def test_dev_mail_link_only_in_development(make_app, tmp_path):
    dev = make_app(APP_ENV="development", MAIL_SINK_DIR=str(tmp_path)).test_client()
    prod = make_app(APP_ENV="production").test_client()

    assert 'href="/dev/mail/"' in dev.get("/").get_data(as_text=True)
    assert 'href="/dev/mail/"' not in prod.get("/").get_data(as_text=True)


def test_page_assets_are_served_by_the_app_itself(client):
    page = client.get("/").get_data(as_text=True)

    assets = re.findall(r'(?:href|src)="([^"]+\.(?:css|js))"', page)
    assert assets and all(a.startswith("/static/") for a in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert client.get("/static/vendor/bootstrap/bootstrap.min.css").get_data().startswith(b"@charset")


@pytest.mark.parametrize("code, words", [
    (403, "You do not have permission to open this page."),
    (404, "There is no such page"),
    (500, "An error happened on our side."),
])
def test_error_pages_use_the_layout(make_app, code, words):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.route("/fails")
    def fails():
        if code == 500:
            raise RuntimeError("boom")
        abort(code)

    response = app.test_client().get("/fails")

    assert response.status_code == code
    page = response.get_data(as_text=True)
    assert words in page
    assert 'class="navbar' in page and "Go to the home page" in page


def test_flash_messages_are_shown_once(client, make_user, auth):
    make_user(email="user@example.com")
    auth.login()
    auth.logout()

    assert "You have signed out." in client.get("/").get_data(as_text=True)
    assert "You have signed out." not in client.get("/").get_data(as_text=True)


def test_security_headers_on_every_page(client):
    response = client.get("/auth/login")

    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_cookies_are_secure_when_served_over_https(make_app, make_user):
    from tests.conftest import AuthActions

    make_user(email="user@example.com")
    # What the settings derive from an https BASE_URL (tests/test_config.py checks the derivation).
    client = make_app(BASE_URL="https://mailer.example.com",
                      SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True).test_client()

    response = AuthActions(client).login("user@example.com", remember="y")

    cookies = response.headers.getlist("Set-Cookie")
    assert {c.split("=", 1)[0] for c in cookies} >= {"session", "remember_token"}
    assert all("Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in cookies), cookies


def test_pages_have_no_inline_script(client):
    for url in ("/", "/auth/login", "/auth/register", "/auth/reset", "/auth/verify"):
        page = client.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), url
        assert " onclick=" not in page and " onsubmit=" not in page


# RFC 8058 one-click unsubscribe comes from mail providers without a session or a
# CSRF token; the signed, expiring token in its URL authorises it.
CSRF_EXEMPT = {"/unsubscribe/x"}


# The API takes no session cookie, only a bearer token, so a forged request has nothing to ride on.
API_PREFIX = "/api/"


def _post_routes(app):
    values = {"token": "x", "code": "en", "key": "x"}
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods:
            yield rule.build({arg: values.get(arg, 1) for arg in rule.arguments})[1]


def test_every_post_route_refuses_a_missing_csrf_token(app, client, make_user, auth):
    make_user(email="user@example.com")
    auth.login()
    routes = list(_post_routes(app))
    assert len(routes) >= 8

    for url in routes:
        response = client.post(url, data={"email": "user@example.com"})
        if url in CSRF_EXEMPT:
            assert response.status_code == 404, url  # the signed token is the proof, and "x" is none
            continue
        if url.startswith(API_PREFIX):
            assert response.status_code == 401, url  # the signed-in session is not a key to the API
            continue
        assert response.status_code == 400, url
        assert "The form has expired" in response.get_data(as_text=True)

    assert client.get("/auth/profile").status_code == 200, "still signed in: nothing happened"
