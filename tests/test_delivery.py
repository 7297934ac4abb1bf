"""The sending engine against a real SMTP sink: one e-mail per client, one attempt per occurrence."""
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from mailer.delivery.engine import run_mailing
from mailer.models import (Attempt, AttemptStatus, Client, Delivery, DeliveryStatus, Frequency, MailingStatus)
from tests.conftest import AuthActions, submit
from tests.smtp_servers import SevenBitSmtpServer, closed_port
from tests.workspace import make_mailing
from tests.factories import AttemptFactory, DeliveryFactory

NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)


def due_mailing(db, owner, clients=3, **kwargs):
    """A weekly mailing whose first occurrence was a minute ago."""
    kwargs.setdefault("start", NOW - timedelta(minutes=1))
    return make_mailing(db, owner, clients=clients, **kwargs)


def run(app, mailing_id, **options):
    with app.app_context():
        return run_mailing(mailing_id, sleep=lambda seconds: None, **options)


def attempts(db, mailing_id):
    return db.session.scalars(sa.select(Attempt).where(Attempt.mailing_id == mailing_id)
                              .order_by(Attempt.occurrence_at)).all()


def test_due_mailing_sends_one_personal_email_per_client_and_records_one_attempt(app, db, owner, smtp_sink):
    mailing = due_mailing(db, owner, clients=3)
    gone = db.session.scalars(sa.select(Client).order_by(Client.id)).all()[1]
    gone.unsubscribed_at = NOW
    db.session.commit()

    result = run(app, mailing.id)

    assert result.exit_code == 0, result.line
    received = smtp_sink.wait_for(2)
    assert len(received) == 2
    for caught in received:
        assert len(caught.envelope_to) == 1
        client = db.session.scalar(sa.select(Client).where(Client.email == caught.envelope_to[0]))
        assert caught.message["To"].addresses[0].addr_spec == client.email
        assert f"Hello {client.full_name}" in caught.body
        assert caught.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert caught.message["List-Unsubscribe"].startswith("<http://mailer.test/unsubscribe/")
    assert gone.email not in [c.envelope_to[0] for c in received]
    (attempt,) = attempts(db, mailing.id)
    assert (attempt.status, attempt.sent_count, attempt.failed_count) == (AttemptStatus.SUCCESS, 2, 0)
    assert attempt.occurrence_at == mailing.start_at
    assert attempt.server_response.startswith("250")
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 2
    db.session.refresh(mailing)
    assert mailing.status is MailingStatus.RUNNING


def _newsletter(pasted_link: bool) -> str:
    """A newsletter as people write them: about 20 kB, Cyrillic, emoji, paragraphs typed as
    one long line each, a list, and perhaps one unbroken 5,000-character line (a pasted link)."""
    paragraph = ("Дорогая {{ client.full_name }}, в этом выпуске 🎉 мы собрали новости месяца: "
                 "открытие второго магазина, скидки до 30 % и рецепт пирога от шефа. ") * 3
    items = "\n".join(f"- Пункт {n}: «важная новость» номер {n} ✅" for n in range(1, 21))
    sections = [f"## Раздел {n}\n\n{paragraph}\n\n{items}" for n in range(1, 13)]
    link = ["https://example.com/track?" + "x" * 5000] if pasted_link else []
    return "\n\n".join(sections[:6] + link + sections[6:])


@pytest.mark.parametrize("pasted_link", [False, True], ids=["paragraphs", "with-a-5000-character-line"])
def test_a_newsletter_of_real_size_arrives_whole_with_every_line_in_crlf(app, db, owner, smtp_sink,
                                                                         pasted_link):
    mailing = due_mailing(db, owner, clients=3)
    mailing.message.subject = "Новости месяца для {{ client.full_name }} 🎉"
    mailing.message.body = _newsletter(pasted_link)
    db.session.commit()

    result = run(app, mailing.id)

    assert result.exit_code == 0, result.line
    received = smtp_sink.wait_for(3)
    assert len(received) == 3
    for caught in received:
        name = caught.message["To"].addresses[0].display_name
        assert len(caught.raw) > 20_000
        assert b"\n" not in caught.raw.replace(b"\r\n", b""), "a bare LF on the wire"
        assert max(len(line) for line in caught.raw.split(b"\r\n")) <= 998
        assert caught.subject == f"Новости месяца для {name} 🎉"
        body = caught.body.replace("\r\n", "\n")
        assert body.startswith(_newsletter(pasted_link).replace("{{ client.full_name }}", name).rstrip())
        if not caught.raw.isascii():
            assert "BODY=8BITMIME" in caught.mail_options, "8-bit text sent without saying so (RFC 6152)"
    if not pasted_link:
        assert all(not c.raw.isascii() for c in received), "short lines of Cyrillic go as they are"


def test_a_server_without_8bitmime_gets_the_newsletter_in_7_bits_and_readers_see_the_same_text(
        make_app, db, owner):
    mailing = due_mailing(db, owner, clients=2)
    mailing.message.body = _newsletter(pasted_link=False)
    db.session.commit()

    with SevenBitSmtpServer() as server:
        result = run(make_app(MAIL_PORT=server.port), mailing.id)
        received = server.wait_for(2)

    assert result.exit_code == 0, result.line
    assert len(received) == 2
    for caught in received:
        name = caught.message["To"].addresses[0].display_name
        assert caught.raw.isascii()
        assert max(len(line) for line in caught.raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")) <= 76
        body = caught.body.replace("\r\n", "\n")
        assert body.startswith(_newsletter(pasted_link=False).replace("{{ client.full_name }}", name).rstrip())


def test_the_message_id_is_on_the_senders_domain_and_the_date_in_rfc_5322_form(make_app, db, owner, smtp_sink):
    mailing = due_mailing(db, owner, clients=1)

    result = run(make_app(MAIL_DEFAULT_SENDER="Shop news <news@shop.example>",
                          BASE_URL="http://127.0.0.1:5000"), mailing.id)

    assert result.exit_code == 0, result.line
    (caught,) = smtp_sink.wait_for(1)
    assert re.fullmatch(r"<[^@<>\s]+@shop\.example>", caught.message["Message-ID"])
    assert caught.message["Date"].datetime.tzinfo is not None
    assert re.fullmatch(rb"(?s).*\r\nDate: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n.*",
                        caught.raw.split(b"\r\n\r\n")[0] + b"\r\n")


def test_not_due_yet_sends_nothing(app, db, owner, smtp_sink):
    mailing = make_mailing(db, owner, start=NOW + timedelta(hours=2))

    result = run(app, mailing.id)

    assert result.exit_code == 0 and "not due yet" in result.line
    assert attempts(db, mailing.id) == [] and smtp_sink.messages == []


def test_a_second_run_of_the_same_occurrence_sends_nothing_more(app, db, owner, smtp_sink):
    mailing = due_mailing(db, owner, clients=3)

    run(app, mailing.id)
    second = run(app, mailing.id)

    assert "already done" in second.line and second.exit_code == 0
    assert len(smtp_sink.wait_for(3)) == 3
    assert len(attempts(db, mailing.id)) == 1


def test_after_downtime_only_the_latest_missed_occurrence_is_sent(app, db, owner, smtp_sink):
    mailing = make_mailing(db, owner, clients=2, start=NOW - timedelta(days=22), days=60,
                           frequency=Frequency.WEEKLY)

    run(app, mailing.id)

    (attempt,) = attempts(db, mailing.id)
    assert attempt.occurrence_at == NOW - timedelta(days=1)
    assert len(smtp_sink.wait_for(2)) == 2


def test_a_clock_jumping_forward_sends_once_not_a_burst(app, db, owner, smtp_sink):
    mailing = make_mailing(db, owner, clients=2, start=NOW - timedelta(days=3, minutes=1), days=30,
                           frequency=Frequency.DAILY)
    run(app, mailing.id, now=NOW)
    jumped = NOW + timedelta(days=1, hours=6)  # the clock leaps a day and a quarter

    for minute in range(0, 5):  # cron keeps firing every minute after the jump
        run(app, mailing.id, now=jumped + timedelta(minutes=minute))

    sent = [a.occurrence_at for a in attempts(db, mailing.id)]
    assert sent == [NOW - timedelta(minutes=1), NOW + timedelta(days=1) - timedelta(minutes=1)]
    assert len(smtp_sink.wait_for(4)) == 4  # two sends of two clients: one per occurrence


def test_the_last_occurrence_finishes_the_mailing(app, db, owner, smtp_sink):
    mailing = due_mailing(db, owner, clients=1, days=3, frequency=Frequency.WEEKLY)

    result = run(app, mailing.id)

    assert result.exit_code == 0
    db.session.refresh(mailing)
    assert mailing.status is MailingStatus.FINISHED


@pytest.mark.parametrize("status", [MailingStatus.PAUSED, MailingStatus.STOPPED, MailingStatus.FINISHED])
def test_a_mailing_that_must_not_send_sends_nothing_even_when_forced(app, db, owner, smtp_sink, status):
    mailing = due_mailing(db, owner, status=status)

    plain = run(app, mailing.id)
    forced = run(app, mailing.id, ignore_schedule=True)

    assert plain.exit_code == 0 and f"is {status.value}" in plain.line
    assert forced.exit_code == 1
    assert attempts(db, mailing.id) == [] and smtp_sink.messages == []


def test_a_blocked_owners_mailing_sends_nothing(app, db, owner, smtp_sink):
    mailing = due_mailing(db, owner)
    owner.active = False
    db.session.commit()

    result = run(app, mailing.id, ignore_schedule=True)

    assert result.exit_code == 1 and "blocked" in result.line
    assert smtp_sink.messages == []


def test_ignore_schedule_sends_now_as_a_manual_attempt(app, db, owner, smtp_sink):
    mailing = make_mailing(db, owner, clients=2, start=NOW + timedelta(days=3))

    result = run(app, mailing.id, ignore_schedule=True)

    assert result.exit_code == 0
    (attempt,) = attempts(db, mailing.id)
    assert attempt.manual and attempt.status is AttemptStatus.SUCCESS
    assert len(smtp_sink.wait_for(2)) == 2


def test_unknown_mailing_is_a_clear_line_and_exit_2(app):
    result = run(app, 987654)

    assert result.exit_code == 2 and result.line == "mailing 987654 does not exist"


def test_every_client_is_sent_exactly_once_across_batches(make_app, db, owner, smtp_sink):
    app = make_app(MAILING_BATCH_SIZE=7)
    mailing = due_mailing(db, owner, clients=120)

    result = run(app, mailing.id)

    assert result.exit_code == 0
    received = sorted(c.envelope_to[0] for c in smtp_sink.wait_for(120))
    expected = sorted(db.session.scalars(sa.select(Client.email)))
    assert received == expected


def test_unsubscribe_link_asks_then_unsubscribes(app, db, owner, smtp_sink, client):
    mailing = due_mailing(db, owner, clients=1)
    run(app, mailing.id)
    (caught,) = smtp_sink.wait_for(1)
    link = caught.message["List-Unsubscribe"].strip("<>").replace("http://mailer.test", "")

    page = client.get(link).get_data(as_text=True)
    client_row = db.session.scalar(sa.select(Client))
    assert client_row.unsubscribed_at is None and client_row.email in page
    done = submit(client, link, {}).get_data(as_text=True)

    db.session.refresh(client_row)
    assert client_row.unsubscribed_at is not None
    assert "will receive no more" in done


def test_one_click_unsubscribe_needs_no_session_or_csrf(make_app, db, owner, smtp_sink):
    app = make_app(WTF_CSRF_ENABLED=True)
    mailing = due_mailing(db, owner, clients=1)
    run(app, mailing.id)
    (caught,) = smtp_sink.wait_for(1)
    link = caught.message["List-Unsubscribe"].strip("<>").replace("http://mailer.test", "")

    response = app.test_client().post(link, data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 204
    assert db.session.scalar(sa.select(Client)).unsubscribed_at is not None


def test_a_tampered_unsubscribe_link_changes_nothing(client, db, owner):
    make_mailing(db, owner, clients=1)

    response = client.post("/unsubscribe/MQ.tampered.signature", data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 404
    assert db.session.scalar(sa.select(Client)).unsubscribed_at is None


def wait_for_attempt(db, mailing_id, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.expire_all()
        found = attempts(db, mailing_id)
        if found and all(a.status is not AttemptStatus.SENDING for a in found):
            return found
        time.sleep(0.1)
    raise AssertionError("no finished attempt appeared")


def test_send_now_runs_in_the_background_and_the_request_does_not_wait(client, auth, db, owner, smtp_sink):
    mailing = make_mailing(db, owner, clients=2, start=NOW + timedelta(days=2))
    auth.login("user@example.com")

    started = time.monotonic()
    response = submit(client, f"/mailings/{mailing.id}/send-now", {}, form_url=f"/mailings/{mailing.id}")
    answered_in = time.monotonic() - started

    assert response.status_code == 302 and answered_in < 5
    (attempt,) = wait_for_attempt(db, mailing.id)
    assert attempt.manual and attempt.status is AttemptStatus.SUCCESS
    assert len(smtp_sink.wait_for(2)) == 2


def test_resend_button_sends_to_the_clients_not_reached(make_app, client, auth, db, owner, smtp_sink):
    mailing = due_mailing(db, owner, clients=4)
    down = run(make_app(MAIL_PORT=closed_port(), MAILING_RETRY_DELAYS=(0.01,)), mailing.id)
    assert down.exit_code == 1
    auth.login("user@example.com")
    page = client.get(f"/mailings/{mailing.id}").get_data(as_text=True)
    assert "Send to the clients not reached" in page
    attempt_page = client.get(f"/mailings/{mailing.id}/attempts/{down.attempt_id}").get_data(as_text=True)
    assert ">4</dd>" in attempt_page.split("Not reached</dt>", 1)[1]

    submit(client, f"/mailings/{mailing.id}/resend", {}, form_url=f"/mailings/{mailing.id}")

    assert len(smtp_sink.wait_for(4, timeout=30)) == 4
    (attempt,) = wait_for_attempt(db, mailing.id)
    assert attempt.status is AttemptStatus.SUCCESS and attempt.sent_count == 4


def test_attempt_page_says_who_got_it_who_did_not_and_why(client, auth, db, owner):
    mailing = due_mailing(db, owner, clients=3)
    first, second, _third = db.session.scalars(sa.select(Client).order_by(Client.id)).all()
    attempt = AttemptFactory(mailing=mailing, status=AttemptStatus.PARTIAL, sent_count=1,
                             failed_count=1, not_reached=1, server_response="Refused: 1.")
    DeliveryFactory(attempt=attempt, client=first, status=DeliveryStatus.SENT,
                    server_reply="250 2.0.0 Ok: queued", smtp_code=250)
    DeliveryFactory(attempt=attempt, client=second, status=DeliveryStatus.FAILED,
                    server_reply="550 5.1.1 User unknown", smtp_code=550)
    db.session.commit()
    auth.login("user@example.com")

    page = client.get(f"/mailings/{mailing.id}/attempts/{attempt.id}").get_data(as_text=True)

    assert first.email in page and "250 2.0.0 Ok: queued" in page
    assert second.email in page and "550 5.1.1 User unknown" in page
    assert page.index(second.email) < page.index(first.email), "failures first"
    not_reached = page.split("Not reached</dt>", 1)[1].split("</dd>", 1)[0]
    assert ">1" in not_reached


@pytest.mark.parametrize("path", ["/mailings/{id}/send-now", "/mailings/{id}/resend"])
def test_another_users_mailing_cannot_be_sent(client, auth, db, owner, make_user, smtp_sink, path):
    mailing = due_mailing(db, owner, clients=1)
    make_user(email="stranger@example.com")
    auth.login("stranger@example.com")

    response = submit(client, path.format(id=mailing.id), {}, form_url="/mailings/")

    assert response.status_code == 404
    time.sleep(0.5)
    assert attempts(db, mailing.id) == [] and smtp_sink.messages == []


def test_another_users_attempt_page_is_404(client, auth, db, owner, make_user):
    mailing = due_mailing(db, owner, clients=1)
    attempt = AttemptFactory(mailing=mailing, occurrence_at=mailing.start_at, status=AttemptStatus.SUCCESS)
    db.session.commit()
    stranger = make_user(email="stranger@example.com")
    own = make_mailing(db, stranger)
    auth.login("stranger@example.com")

    assert client.get(f"/mailings/{mailing.id}/attempts/{attempt.id}").status_code == 404
    assert client.get(f"/mailings/{own.id}/attempts/{attempt.id}").status_code == 404


def test_send_now_starts_the_run_with_the_configured_python(make_app, db, owner, smtp_sink, tmp_path):
    """One way starts a detached run, and it uses CRON_PYTHON as cron's lines do (the web app
    used to start "send now" with its own interpreter whatever the setting said)."""
    import stat
    import sys

    used = tmp_path / "used"
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {used}\nexec {sys.executable} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    client = make_app(CRON_PYTHON=str(wrapper)).test_client()
    mailing = make_mailing(db, owner, clients=1, start=NOW + timedelta(days=2))
    AuthActions(client).login("user@example.com")

    submit(client, f"/mailings/{mailing.id}/send-now", {}, form_url=f"/mailings/{mailing.id}")

    (attempt,) = wait_for_attempt(db, mailing.id)
    assert attempt.status is AttemptStatus.SUCCESS
    assert used.read_text().split() == ["-m", "mailer.delivery.cron_entry", str(mailing.id), "--ignore-schedule"]
