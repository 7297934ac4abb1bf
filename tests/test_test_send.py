"""'Send me a test' on the message and mailing pages: one letter to the owner, as a client gets it."""
import sqlalchemy as sa

from mailer.models import Attempt, Client, Delivery
from tests.conftest import submit
from tests.smtp_servers import ScriptedSmtpServer, closed_port
from tests.workspace import make_mailing
from tests.factories import ClientFactory, MessageFactory


def test_a_test_of_a_message_reaches_the_owner_personalised_for_their_first_client(client, auth, db, make_user,
                                                                                 smtp_sink):
    owner = make_user(email="owner@example.com", full_name="Olga Owner", language="en")
    message = MessageFactory(owner=owner, subject="News for {{ client.full_name }}",
                             body="Dear {{ client.full_name }} ({{ client.email }}), hello.")
    ClientFactory(owner=owner, email="anna@example.com", full_name="Anna Petrova")
    ClientFactory(owner=owner, email="bob@example.com", full_name="Bob")
    db.session.commit()
    auth.login("owner@example.com")

    page = submit(client, f"/messages/{message.id}/test", {}, form_url=f"/messages/{message.id}/preview",
                  follow_redirects=True)

    assert "A test letter is on its way to owner@example.com." in page.get_data(as_text=True)
    (caught,) = smtp_sink.wait_for(1)
    assert caught.envelope_to == ["owner@example.com"]
    assert caught.message["To"].addresses[0].addr_spec == "owner@example.com"
    assert caught.subject == "[Test] News for Anna Petrova"
    assert "Dear Anna Petrova (anna@example.com), hello." in caught.body
    assert db.session.scalar(sa.select(sa.func.count(Attempt.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 0


def test_a_test_of_a_mailing_is_personalised_for_the_mailings_own_first_client(client, auth, db, make_user,
                                                                             smtp_sink):
    owner = make_user(email="owner@example.com", language="ru")
    ClientFactory(owner=owner, email="first@example.com", full_name="Не в рассылке")
    db.session.commit()
    mailing = make_mailing(db, owner, clients=2)
    auth.login("owner@example.com")

    submit(client, f"/mailings/{mailing.id}/test", {}, form_url=f"/mailings/{mailing.id}")

    (caught,) = smtp_sink.wait_for(1)
    in_mailing = db.session.scalars(sa.select(Client).where(Client.email != "first@example.com")
                                    .order_by(Client.id)).first()
    assert caught.subject == "[Тест] Weekly news"
    assert f"Hello {in_mailing.full_name}" in caught.body
    assert db.session.scalar(sa.select(sa.func.count(Attempt.id))) == 0


def test_with_no_client_the_test_uses_the_sample_client(client, auth, db, make_user, smtp_sink):
    owner = make_user(email="owner@example.com", language="en")
    message = MessageFactory(owner=owner, subject="Hi", body="Hello {{ client.full_name }}")
    db.session.commit()
    auth.login("owner@example.com")

    submit(client, f"/messages/{message.id}/test", {}, form_url=f"/messages/{message.id}/preview")

    (caught,) = smtp_sink.wait_for(1)
    assert "Hello Анна Петрова" in caught.body


def test_a_refusing_or_absent_server_is_said_plainly_and_nothing_is_recorded(make_app, db, make_user):
    owner = make_user(email="owner@example.com", language="en")
    message = MessageFactory(owner=owner, subject="Hi", body="x")
    db.session.commit()

    with ScriptedSmtpServer(rcpt_replies={"owner@example.com": "550 5.1.1 Mailbox unavailable"}) as refusing:
        browser = make_app(MAIL_PORT=refusing.port).test_client()
        submit(browser, "/auth/login", {"email": "owner@example.com", "password": "password123"})
        refused = submit(browser, f"/messages/{message.id}/test", {}, form_url=f"/messages/{message.id}/preview",
                         follow_redirects=True).get_data(as_text=True)
    absent = make_app(MAIL_PORT=closed_port()).test_client()
    submit(absent, "/auth/login", {"email": "owner@example.com", "password": "password123"})
    unreachable = submit(absent, f"/messages/{message.id}/test", {}, form_url=f"/messages/{message.id}/preview",
                         follow_redirects=True).get_data(as_text=True)

    assert "The mail server did not take the test letter: 550 5.1.1 Mailbox unavailable" in refused
    assert "The mail server did not take the test letter:" in unreachable
    assert db.session.scalar(sa.select(sa.func.count(Attempt.id))) == 0


def test_someone_elses_message_or_mailing_cannot_be_tested(client, auth, db, make_user, smtp_sink):
    owner = make_user(email="owner@example.com")
    make_user(email="other@example.com")
    mailing = make_mailing(db, owner, clients=1)
    auth.login("other@example.com")
    token_page = "/messages/"

    assert submit(client, f"/messages/{mailing.message_id}/test", {}, form_url=token_page).status_code == 404
    assert submit(client, f"/mailings/{mailing.id}/test", {}, form_url=token_page).status_code == 404
    assert smtp_sink.wait_for(1, timeout=0.5) == []


def test_test_letters_are_rate_limited_per_user(make_app, db, make_user, smtp_sink):
    owner = make_user(email="owner@example.com")
    message = MessageFactory(owner=owner, subject="Hi", body="x")
    db.session.commit()
    browser = make_app(RATELIMIT_ENABLED=True, RATELIMIT_TEST_SEND="2 per hour").test_client()
    submit(browser, "/auth/login", {"email": "owner@example.com", "password": "password123"})

    codes = [submit(browser, f"/messages/{message.id}/test", {}, form_url=f"/messages/{message.id}/preview")
             .status_code for _ in range(3)]

    assert codes == [302, 302, 429]
    assert len(smtp_sink.wait_for(2)) == 2
