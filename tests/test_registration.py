"""Registering, confirming the e-mail, and every way registration input can be wrong."""
import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from mailer.models import User
from tests.conftest import signed_long_ago, submit
from tests.smtp_servers import SilentSmtpServer, free_port

GOOD = {
    "email": "Anna@Example.com",
    "full_name": "Анна Петрова",
    "password": "correct horse",
    "password2": "correct horse",
    "timezone": "Asia/Vladivostok",
}


def register(client, **changes):
    return submit(client, "/auth/register", {**GOOD, **changes}, follow_redirects=True)


def user_count(db) -> int:
    return db.session.scalar(sa.select(sa.func.count(User.id)))


def verification_link(smtp_sink, address="anna@example.com") -> str:
    (message,) = smtp_sink.to(address)
    (link,) = [url for url in message.links() if "/auth/verify/" in url]
    return link


def test_the_form_carries_one_time_zone_field_for_the_browser_to_fill(client):
    # Two fields of one name would post the empty one first, and the browser's zone be lost.
    page = client.get("/auth/register").get_data(as_text=True)
    assert page.count('name="timezone"') == 1
    assert 'data-browser-timezone="1"' in page


def test_register_sends_verification_mail_and_keeps_unverified_account(client, db, smtp_sink):
    page = register(client)

    assert "We sent a confirmation link to anna@example.com" in page.get_data(as_text=True)
    user = db.session.scalar(sa.select(User))
    assert user.email == "anna@example.com"
    assert user.full_name == "Анна Петрова"
    assert user.timezone == "Asia/Vladivostok"
    assert not user.is_verified
    assert user.password_hash != GOOD["password"]
    (message,) = smtp_sink.to("anna@example.com")
    assert message.message["To"] == "anna@example.com"
    assert "Анна Петрова" in message.body
    assert verification_link(smtp_sink).startswith("http://mailer.test/auth/verify/")


def test_verification_link_confirms_and_allows_sign_in(client, db, smtp_sink, auth):
    register(client)
    path = verification_link(smtp_sink).removeprefix("http://mailer.test")

    page = client.get(path, follow_redirects=True)

    assert "Your e-mail is confirmed" in page.get_data(as_text=True)
    assert db.session.scalar(sa.select(User)).is_verified
    response = auth.login("anna@example.com", GOOD["password"])
    assert response.status_code == 302 and response.location == "/"


def test_unverified_user_cannot_sign_in_and_is_offered_a_new_link(client, db, smtp_sink, auth):
    register(client)

    page = auth.login("anna@example.com", GOOD["password"]).get_data(as_text=True)

    assert "Confirm your e-mail address first" in page
    assert "/auth/verify?email=anna@example.com" in page
    assert client.get("/auth/profile").location.startswith("/auth/login")


def test_resend_verification_sends_a_fresh_working_link(client, db, smtp_sink, auth):
    register(client)
    smtp_sink.clear()

    page = submit(client, "/auth/verify", {"email": "ANNA@example.com"}, follow_redirects=True)

    assert "we sent it a new link" in page.get_data(as_text=True)
    client.get(verification_link(smtp_sink).removeprefix("http://mailer.test"))
    assert db.session.scalar(sa.select(User)).is_verified


def test_resend_for_unknown_email_says_the_same_and_sends_nothing(client, smtp_sink):
    page = submit(client, "/auth/verify", {"email": "nobody@example.com"}, follow_redirects=True)

    assert "we sent it a new link" in page.get_data(as_text=True)
    assert smtp_sink.messages == []


def _signed_long_ago(app, payload, hours: float) -> str:
    return signed_long_ago(app, "mailer.verify-email", payload, hours)


def test_verification_link_expires_after_48_hours(app, client, db, smtp_sink):
    register(client)
    user = db.session.scalar(sa.select(User))
    payload = {"uid": user.id, "email": user.email}

    still_fresh = client.get(f"/auth/verify/{_signed_long_ago(app, payload, 47.9)}")
    assert still_fresh.location == "/auth/login"
    user.email_verified_at = None
    db.session.commit()

    page = client.get(f"/auth/verify/{_signed_long_ago(app, payload, 48.1)}", follow_redirects=True)

    assert "This confirmation link has expired" in page.get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.scalar(sa.select(User)).is_verified


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-3] + ("AAA" if not t.endswith("AAA") else "BBB"),
    lambda t: "x" + t,
    lambda t: "not-a-token",
])
def test_tampered_verification_link_is_refused(client, db, smtp_sink, mangle):
    register(client)
    token = verification_link(smtp_sink).rsplit("/", 1)[1]

    page = client.get(f"/auth/verify/{mangle(token)}", follow_redirects=True)

    assert "This confirmation link is not valid" in page.get_data(as_text=True)
    assert not db.session.scalar(sa.select(User)).is_verified


def test_verification_link_for_another_email_is_refused(app, client, db, make_user):
    user = make_user(email="b@example.com", email_verified_at=None)
    token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="mailer.verify-email").dumps(
        {"uid": user.id, "email": "someone-else@example.com"}
    )

    page = client.get(f"/auth/verify/{token}", follow_redirects=True)

    assert "not valid" in page.get_data(as_text=True)
    db.session.expire_all()
    assert not db.session.get(User, user.id).is_verified


@pytest.mark.parametrize("changes, message", [
    ({"email": "not-an-email"}, "Enter a valid e-mail address."),
    ({"email": ""}, "Enter your e-mail."),
    ({"email": "anna@exa mple.com"}, "Enter a valid e-mail address."),
    ({"full_name": ""}, "Enter your name."),
    ({"password": "short", "password2": "short"}, "The password must be 8 to 128 characters long."),
    ({"password2": "something else"}, "The passwords do not match."),
    ({"password": "x" * 129, "password2": "x" * 129}, "The password must be 8 to 128 characters long."),
    # These answered 500: the account mail could not be addressed; PostgreSQL refused the NUL.
    ({"email": "ünïcödé@example.com"}, "We cannot send e-mail to an address with characters such as"),
    ({"full_name": "Anna\x00"}, "The text contains a NUL character"),
])
def test_bad_registration_input_is_explained_and_writes_nothing(client, db, smtp_sink, changes, message):
    page = register(client, **changes)

    assert page.status_code == 200
    assert message in page.get_data(as_text=True)
    assert user_count(db) == 0
    assert smtp_sink.messages == []


@pytest.mark.parametrize("spelling", ["anna@example.com", "ANNA@EXAMPLE.COM", " Anna@example.com "])
def test_already_registered_email_in_any_case_is_refused(client, db, smtp_sink, make_user, spelling):
    make_user(email="anna@example.com")

    page = register(client, email=spelling)

    assert "An account with this e-mail already exists." in page.get_data(as_text=True)
    assert user_count(db) == 1
    assert smtp_sink.messages == []


def test_unknown_browser_time_zone_falls_back_to_the_default(client, db):
    register(client, timezone="Mars/Olympus_Mons")

    assert db.session.scalar(sa.select(User)).timezone == "UTC"


def test_mail_server_down_keeps_account_and_says_so(make_app, db, smtp_sink):
    client = make_app(MAIL_PORT=free_port()).test_client()

    page = register(client)

    assert "the confirmation e-mail could not be sent" in page.get_data(as_text=True)
    assert user_count(db) == 1


def test_hung_mail_server_times_out_and_user_can_resend_later(make_app, db, smtp_sink):
    with SilentSmtpServer() as silent:
        client = make_app(MAIL_PORT=silent.port, MAIL_TIMEOUT=1).test_client()
        page = register(client)
        assert "the confirmation e-mail could not be sent" in page.get_data(as_text=True)
        assert user_count(db) == 1
        assert len(silent.connections) == 1

    healthy = make_app().test_client()
    submit(healthy, "/auth/verify", {"email": "anna@example.com"})
    assert len(smtp_sink.to("anna@example.com")) == 1


def test_signed_in_user_is_sent_home_from_registration(client, make_user, auth):
    make_user(email="user@example.com")
    auth.login()

    assert client.get("/auth/register").location == "/"
