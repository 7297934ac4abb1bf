"""A user's own sender: From name and address used only once confirmed by a link sent to it,
an optional Reply-To, and the domains a deployment allows."""
import re
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from mailer.delivery.engine import run_mailing
from mailer.models import User
from tests.conftest import signed_long_ago, submit
from tests.workspace import make_mailing


def save_sender(client, **fields):
    data = {"sender_name": "", "sender_email": "", "reply_to": "", **fields}
    return submit(client, "/auth/profile/sender", data, form_url="/auth/profile", follow_redirects=True)


def mailing_from(app, db, owner, smtp_sink):
    """The From, Reply-To and envelope sender of a mailing of ``owner`` sent now."""
    smtp_sink.clear()
    mailing = make_mailing(db, owner, clients=1,
                           start=datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1))
    with app.app_context():
        assert run_mailing(mailing.id, sleep=lambda seconds: None).exit_code == 0
    (caught,) = smtp_sink.wait_for(1)
    return str(caught.message["From"]), caught.message["Reply-To"], caught.envelope_from


def confirmation_link(smtp_sink, address: str) -> str:
    (letter,) = smtp_sink.to(address)
    return re.search(r"http://mailer\.test(/auth/sender/confirm/\S+)", letter.body).group(1)


def test_a_saved_address_waits_for_its_link_while_the_name_is_used_at_once(app, client, auth, db,
                                                                                  make_user, smtp_sink):
    owner = make_user(email="owner@example.com", full_name="Olga Owner", language="en")
    auth.login("owner@example.com")

    page = save_sender(client, sender_name="Bakery “Kolobok”", sender_email="News@Bakery.example",
                       reply_to="hello@bakery.example").get_data(as_text=True)

    assert "We sent a confirmation link to news@bakery.example." in page
    assert "Waiting for confirmation" in page
    (confirmation,) = smtp_sink.to("news@bakery.example")
    assert confirmation.subject == "Confirm your sender address"
    assert mailing_from(app, db, owner, smtp_sink)[0] == "Bakery “Kolobok” <noreply@localhost>"


def test_confirming_puts_the_address_in_use(app, client, auth, db, make_user, smtp_sink):
    owner = make_user(email="owner@example.com", full_name="Olga Owner", language="en")
    auth.login("owner@example.com")
    save_sender(client, sender_name="Bakery “Kolobok”", sender_email="news@bakery.example",
                reply_to="hello@bakery.example")
    link = confirmation_link(smtp_sink, "news@bakery.example")

    confirmed = client.get(link, follow_redirects=True).get_data(as_text=True)

    assert "Confirmed: mailings can now come from news@bakery.example." in confirmed
    assert "Your mailings come from news@bakery.example." in confirmed
    sender, reply_to, envelope = mailing_from(app, db, owner, smtp_sink)
    assert sender == "Bakery “Kolobok” <news@bakery.example>"
    assert reply_to == "hello@bakery.example"
    assert envelope == "news@bakery.example"


def test_until_confirmed_mailings_come_from_the_default_address_under_the_users_name(app, client, auth, db,
                                                                                     make_user, smtp_sink):
    owner = make_user(email="owner@example.com", full_name="Olga Owner", language="en")
    auth.login("owner@example.com")
    save_sender(client, sender_email="news@bakery.example")

    assert mailing_from(app, db, owner, smtp_sink)[:2] == ("Olga Owner <noreply@localhost>", None)


def test_a_new_address_needs_a_new_confirmation_and_the_old_link_no_longer_works(app, client, auth, db,
                                                                                 make_user, smtp_sink):
    owner = make_user(email="owner@example.com", full_name="Olga Owner", language="en")
    auth.login("owner@example.com")
    save_sender(client, sender_email="news@bakery.example")
    old_link = confirmation_link(smtp_sink, "news@bakery.example")
    client.get(old_link)

    save_sender(client, sender_email="other@bakery.example")
    reused = client.get(old_link, follow_redirects=True).get_data(as_text=True)

    assert "This confirmation link is not valid." in reused
    db.session.expire_all()
    user = db.session.scalar(sa.select(User))
    assert (user.sender_email, user.sender_confirmed_at) == ("other@bakery.example", None)
    assert mailing_from(app, db, owner, smtp_sink)[0] == "Olga Owner <noreply@localhost>"


def test_an_expired_link_confirms_nothing(app, client, auth, db, make_user, smtp_sink):
    owner = make_user(email="owner@example.com", language="en")
    auth.login("owner@example.com")
    save_sender(client, sender_email="news@bakery.example")
    token = signed_long_ago(app, "mailer.confirm-sender", {"uid": owner.id, "email": "news@bakery.example"}, 49)

    page = client.get(f"/auth/sender/confirm/{token}", follow_redirects=True).get_data(as_text=True)

    assert "This confirmation link has expired." in page
    db.session.expire_all()
    assert db.session.scalar(sa.select(User.sender_confirmed_at)) is None


def test_a_deployment_may_allow_only_its_own_domains(make_app, db, make_user, smtp_sink):
    make_user(email="owner@example.com", full_name="Olga Owner", language="en")
    app = make_app(MAIL_SENDER_DOMAINS="shop.example, news.shop.example")
    browser = app.test_client()
    submit(browser, "/auth/login", {"email": "owner@example.com", "password": "password123"})

    refused = save_sender(browser, sender_email="me@gmail.example").get_data(as_text=True)
    accepted = save_sender(browser, sender_email="olga@news.shop.example").get_data(as_text=True)

    assert "Mailings may come only from shop.example, news.shop.example." in refused
    assert "We sent a confirmation link to olga@news.shop.example." in accepted
    assert [m.envelope_to for m in smtp_sink.wait_for(1)] == [["olga@news.shop.example"]]


def test_a_confirmed_address_on_a_domain_no_longer_allowed_is_not_used_and_the_profile_says_why(
        make_app, app, client, auth, db, make_user, smtp_sink):
    owner = make_user(email="owner@example.com", full_name="Olga Owner", language="en")
    auth.login("owner@example.com")
    save_sender(client, sender_email="news@bakery.example")
    client.get(confirmation_link(smtp_sink, "news@bakery.example"))

    strict = make_app(MAIL_SENDER_DOMAINS="shop.example")
    browser = strict.test_client()
    submit(browser, "/auth/login", {"email": "owner@example.com", "password": "password123"})
    page = browser.get("/auth/profile").get_data(as_text=True)

    assert "news@bakery.example is not on a domain this service may send from (shop.example)" in page
    assert mailing_from(strict, db, owner, smtp_sink)[0] == "Olga Owner <noreply@localhost>"


def test_an_international_domain_goes_into_the_letter_in_ascii(app, client, auth, db, make_user, smtp_sink):
    owner = make_user(email="owner@example.com", full_name="Olga Owner", language="en")
    auth.login("owner@example.com")

    save_sender(client, reply_to="Info@Пример.рф")

    assert mailing_from(app, db, owner, smtp_sink)[1] == "info@xn--e1afmkfd.xn--p1ai"


def test_a_bad_address_is_refused_beside_its_field_and_nothing_changes(client, auth, db, make_user, smtp_sink):
    make_user(email="owner@example.com", language="ru")
    auth.login("owner@example.com")

    page = save_sender(client, sender_email="not an address", reply_to="also@bad@x")

    assert page.status_code == 400
    assert page.get_data(as_text=True).count("Введите корректный адрес электронной почты.") == 2
    assert db.session.scalar(sa.select(User.sender_email)) is None
    assert smtp_sink.wait_for(1, timeout=0.3) == []
