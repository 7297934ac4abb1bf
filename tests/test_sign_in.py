"""Signing in and out, "remember me", safe redirects, blocked users, rate limits, cookies."""
import logging

import pytest

from tests.conftest import submit
from tests.smtp_servers import free_port


def test_sign_in_and_out(client, make_user, auth):
    make_user(email="user@example.com", full_name="Ivan Petrov")

    response = auth.login()
    assert response.status_code == 302 and response.location == "/"
    assert "Ivan Petrov" in client.get("/").get_data(as_text=True)

    page = auth.logout()
    assert page.status_code == 302
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "You have signed out." in home
    assert client.get("/auth/profile").location.startswith("/auth/login")


def test_email_is_matched_in_any_case(client, make_user, auth):
    make_user(email="user@example.com")

    assert auth.login(email="USER@Example.COM").location == "/"


@pytest.mark.parametrize("email, password", [
    ("user@example.com", "wrong-password"),
    ("nobody@example.com", "password123"),
])
def test_wrong_credentials_get_one_message_that_reveals_nothing(client, make_user, auth, email, password):
    make_user(email="user@example.com")

    page = auth.login(email=email, password=password)

    assert page.status_code == 200
    assert "Wrong e-mail or password." in page.get_data(as_text=True)
    assert client.get("/auth/profile").status_code == 302


def test_logout_needs_a_post_with_csrf(client, make_user, auth):
    make_user(email="user@example.com")
    auth.login()

    assert client.get("/auth/logout").status_code == 405
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/auth/profile").status_code == 200


def test_remember_me_sets_a_lasting_httponly_cookie(client, make_user, auth):
    make_user(email="user@example.com")

    auth.login(remember="y")

    cookie = client.get_cookie("remember_token")
    assert cookie is not None and cookie.http_only and cookie.expires is not None
    assert cookie.same_site == "Lax"


def test_remember_cookie_alone_signs_the_user_back_in(app, client, make_user, auth):
    make_user(email="user@example.com")
    auth.login(remember="y")
    remember = client.get_cookie("remember_token").value

    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember)

    assert fresh.get("/auth/profile").status_code == 200


def test_without_remember_me_no_lasting_cookie(client, make_user, auth):
    make_user(email="user@example.com")
    auth.login()

    assert client.get_cookie("remember_token") is None


def test_session_cookie_is_httponly_and_samesite(client, make_user, auth):
    make_user(email="user@example.com")
    auth.login()

    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure


def test_cookies_are_secure_when_served_over_https(make_app, make_user):
    make_user(email="user@example.com")
    client = make_app(BASE_URL="https://mail.example.com", **_secure_cookie_settings()).test_client()
    submit(client, "/auth/login", {"email": "user@example.com", "password": "password123",
                                   "remember": "y"}, base_url="https://localhost",
           headers={"Referer": "https://localhost/auth/login"})

    assert client.get_cookie("session", domain="localhost").secure
    assert client.get_cookie("remember_token", domain="localhost").secure


def _secure_cookie_settings() -> dict:
    """What settings_from_env derives from an https BASE_URL."""
    from mailer.config import settings_from_env
    import os

    saved = os.environ.get("BASE_URL")
    os.environ["BASE_URL"] = "https://mail.example.com"
    try:
        values = settings_from_env()
    finally:
        if saved is None:
            del os.environ["BASE_URL"]
        else:
            os.environ["BASE_URL"] = saved
    return {key: values[key] for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE")}


@pytest.mark.parametrize("next_url, expected", [
    ("/auth/profile", "/auth/profile"),
    ("/auth/profile?tab=1", "/auth/profile?tab=1"),
    ("https://evil.example.com/", "/"),
    ("//evil.example.com/", "/"),
    ("/\\evil.example.com/", "/"),
    ("javascript:alert(1)", "/"),
    ("http:/evil.example.com", "/"),
])
def test_next_redirects_only_within_the_site(client, make_user, next_url, expected):
    make_user(email="user@example.com")

    response = submit(client, f"/auth/login?next={next_url}",
                      {"email": "user@example.com", "password": "password123"})

    assert response.status_code == 302
    assert response.location == expected


def test_protected_page_sends_to_sign_in_and_back(client, make_user):
    make_user(email="user@example.com")

    response = client.get("/auth/profile")
    assert response.location == "/auth/login?next=%2Fauth%2Fprofile"

    back = submit(client, response.location, {"email": "user@example.com", "password": "password123"})
    assert back.location == "/auth/profile"


def test_blocked_user_cannot_sign_in(client, make_user, auth):
    make_user(email="user@example.com", active=False)

    page = auth.login()

    assert "This account is blocked." in page.get_data(as_text=True)
    assert client.get("/auth/profile").status_code == 302


def test_blocked_user_session_ends(client, db, make_user, auth):
    user = make_user(email="user@example.com")
    auth.login(remember="y")
    assert client.get("/auth/profile").status_code == 200

    user.active = False
    db.session.commit()

    assert client.get("/auth/profile").status_code == 302
    assert "Sign in" in client.get("/").get_data(as_text=True)


def test_password_never_appears_in_logs(client, make_user, auth, caplog):
    caplog.set_level(logging.DEBUG)
    make_user(email="user@example.com", password="SuperSecret-123")

    submit(client, "/auth/register", {"email": "x@example.com", "full_name": "X",
                                      "password": "Register-Secret-789", "password2": "Register-Secret-789"})
    auth.login(password="Wrong-Secret-456")
    assert auth.login(password="SuperSecret-123").location == "/"

    for secret in ("SuperSecret-123", "Wrong-Secret-456", "Register-Secret-789"):
        assert secret not in caplog.text


def _fail_login(client) -> int:
    return submit(client, "/auth/login", {"email": "user@example.com", "password": "wrong-password"}).status_code


def test_sign_in_is_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN_IN="3 per minute")
    client = app.test_client()

    assert [_fail_login(client) for _ in range(3)] == [200, 200, 200]
    blocked = submit(client, "/auth/login", {"email": "user@example.com", "password": "x"})

    assert blocked.status_code == 429
    assert "You tried too often" in blocked.get_data(as_text=True)
    assert client.get("/auth/login").status_code == 200  # only POSTs count


def test_password_reset_requests_are_rate_limited(make_app, smtp_sink):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_ACCOUNT_MAIL="2 per minute")
    client = app.test_client()

    codes = [submit(client, "/auth/reset", {"email": "a@example.com"}).status_code for _ in range(3)]

    assert codes == [302, 302, 429]


def test_rate_limits_are_kept_in_redis_when_configured(make_app, private_redis):
    url, redis_db, _server = private_redis
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN_IN="2 per minute", RATELIMIT_STORAGE_URI=url)
    first, second = app.test_client(), make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_SIGN_IN="2 per minute", RATELIMIT_STORAGE_URI=url).test_client()

    assert _fail_login(first) == 200
    assert _fail_login(first) == 200

    assert any(b"auth.login" in key or b"login" in key for key in redis_db.keys("*"))
    assert _fail_login(second) == 429, "a second app process shares the limit through Redis"


def test_sign_in_works_when_redis_is_down(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_SIGN_IN="2 per minute",
                   RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0")
    client = app.test_client()

    codes = [_fail_login(client) for _ in range(3)]

    assert codes == [200, 200, 429], "limits fall back to memory and keep working"
