"""Password reset by e-mail (one hour, once) and password change."""
import pytest

from mailer.models import User
from tests.conftest import signed_long_ago, submit
from tests.smtp_servers import free_port


def reset_link(smtp_sink, address="user@example.com") -> str:
    (message,) = smtp_sink.to(address)
    (link,) = [url for url in message.links() if "/auth/reset/" in url]
    return link.removeprefix("http://mailer.test")


def ask_reset(client, email="user@example.com"):
    return submit(client, "/auth/reset", {"email": email}, follow_redirects=True)


def set_password(client, path, password="brand-new-pass", password2=None):
    return submit(client, path, {"password": password, "password2": password2 or password},
                  follow_redirects=True)


def test_reset_link_sets_a_new_password(client, make_user, smtp_sink, auth):
    make_user(email="user@example.com", language="en")

    page = ask_reset(client, "User@Example.com")
    assert "we sent it a link to reset the password" in page.get_data(as_text=True)
    (message,) = smtp_sink.to("user@example.com")
    assert message.subject == "Reset your password"
    assert "one hour" in message.body

    done = set_password(client, reset_link(smtp_sink))

    assert "Your password is changed" in done.get_data(as_text=True)
    assert "Wrong e-mail or password." in auth.login(password="password123").get_data(as_text=True)
    assert auth.login(password="brand-new-pass").location == "/"


def test_reset_link_works_only_once(client, make_user, smtp_sink):
    make_user(email="user@example.com")
    ask_reset(client)
    path = reset_link(smtp_sink)
    set_password(client, path)

    again = client.get(path, follow_redirects=True)
    reused = submit(client, path, {"password": "third-password", "password2": "third-password"},
                    form_url="/auth/reset", follow_redirects=True)

    assert "not valid or was already used" in again.get_data(as_text=True)
    assert "not valid or was already used" in reused.get_data(as_text=True)


def test_reset_link_expires_after_one_hour(app, client, db, make_user, auth):
    user = make_user(email="user@example.com")
    payload = {"uid": user.id, "fp": user.password_hash[-16:]}

    fresh = client.get(f"/auth/reset/{signed_long_ago(app, 'mailer.reset-password', payload, 0.9)}")
    assert fresh.status_code == 200
    expired_path = f"/auth/reset/{signed_long_ago(app, 'mailer.reset-password', payload, 1.1)}"

    page = submit(client, expired_path, {"password": "brand-new-pass", "password2": "brand-new-pass"},
                  form_url="/auth/reset", follow_redirects=True)

    assert "This reset link has expired" in page.get_data(as_text=True)
    assert auth.login(password="password123").location == "/"


def test_tampered_reset_link_is_refused(client, make_user, smtp_sink):
    make_user(email="user@example.com")
    ask_reset(client)
    path = reset_link(smtp_sink)

    page = client.get(path[:-2] + ("xy" if not path.endswith("xy") else "zz"), follow_redirects=True)

    assert "not valid" in page.get_data(as_text=True)


def test_verification_token_is_no_reset_token(app, client, make_user):
    user = make_user(email="user@example.com")
    from itsdangerous import URLSafeTimedSerializer

    token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="mailer.verify-email").dumps(
        {"uid": user.id, "fp": user.password_hash[-16:]})

    assert "not valid" in client.get(f"/auth/reset/{token}", follow_redirects=True).get_data(as_text=True)


def test_reset_for_unknown_email_says_the_same_and_sends_nothing(client, smtp_sink):
    page = ask_reset(client, "nobody@example.com")

    assert "If an account uses this e-mail" in page.get_data(as_text=True)
    assert smtp_sink.messages == []


def test_reset_for_an_address_account_mail_cannot_reach_is_explained(client, make_user, smtp_sink):
    """It answered 500: Flask-Mail cannot write a non-ASCII part before the @ (neither can resend)."""
    make_user(email="ünïcödé@example.com")

    reset = ask_reset(client, "ünïcödé@example.com")
    resend = submit(client, "/auth/verify", {"email": "ünïcödé@example.com"})

    for page in (reset, resend):
        assert page.status_code == 200
        assert "We cannot send e-mail to an address with characters such as" in page.get_data(as_text=True)
    assert smtp_sink.messages == []


def test_reset_with_mail_server_down_says_to_try_later(make_app, make_user):
    make_user(email="user@example.com")
    client = make_app(MAIL_PORT=free_port()).test_client()

    page = ask_reset(client)

    assert "could not be sent right now" in page.get_data(as_text=True)


def test_reset_ends_every_existing_session(app, client, make_user, smtp_sink, auth):
    make_user(email="user@example.com")
    other_device = app.test_client()
    submit(other_device, "/auth/login", {"email": "user@example.com", "password": "password123"})
    assert other_device.get("/auth/profile").status_code == 200

    ask_reset(client)
    set_password(client, reset_link(smtp_sink))

    assert other_device.get("/auth/profile").status_code == 302


def test_reset_mismatched_passwords_change_nothing(client, make_user, smtp_sink, auth):
    make_user(email="user@example.com")
    ask_reset(client)

    page = set_password(client, reset_link(smtp_sink), "brand-new-pass", "other-new-pass")

    assert "The passwords do not match." in page.get_data(as_text=True)
    assert auth.login(password="password123").location == "/"


def change(client, current="password123", new="brand-new-pass", new2=None):
    return submit(client, "/auth/profile/password",
                  {"current_password": current, "password": new, "password2": new2 or new},
                  form_url="/auth/profile", follow_redirects=True)


def test_change_password_keeps_this_session_and_ends_others(app, client, make_user, auth):
    make_user(email="user@example.com")
    auth.login()
    other_device = app.test_client()
    submit(other_device, "/auth/login", {"email": "user@example.com", "password": "password123"})

    page = change(client)

    assert "Password changed" in page.get_data(as_text=True)
    assert client.get("/auth/profile").status_code == 200
    assert other_device.get("/auth/profile").status_code == 302


@pytest.mark.parametrize("current, new, new2, message", [
    ("wrong-current", "brand-new-pass", None, "The current password is wrong."),
    ("password123", "short", None, "The password must be 8 to 128 characters long."),
    ("password123", "brand-new-pass", "different-pass", "The passwords do not match."),
])
def test_bad_password_change_is_explained_and_changes_nothing(client, db, make_user, auth,
                                                               current, new, new2, message):
    user = make_user(email="user@example.com")
    auth.login()
    before = user.password_hash

    page = change(client, current, new, new2)

    assert message in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == before


def test_the_password_policy_holds_in_the_service_whatever_the_form(app, db, make_user):
    """The forms check the length too; the accounts service is where the rule lives, so a
    reset, a change and a new account made anywhere else keep it."""
    import pytest

    from mailer.auth import services as accounts
    from mailer.errors import ServiceError

    user = make_user(email="user@example.com")
    with app.test_request_context():
        for attempt in (lambda: accounts.change_password(user, "password123", "short"),
                        lambda: accounts.create_account("new@example.com", "x" * 129)):
            with pytest.raises(ServiceError, match="8 to 128 characters"):
                attempt()
    db.session.expire_all()
    assert user.check_password("password123")
    assert accounts.find_user_by_email("new@example.com") is None
