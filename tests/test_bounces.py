"""Bounces and complaints read back: matched to their letter by its token, never by guessing.

Every sample of tests/data/bounces (real DSNs, complaints and replies from many mail systems,
with the verdict tests/bounce_corpus.py states for it) is fed to the intake as it would
arrive: at the letter's own VERP address. A bounce acts on its client; anything else changes
nothing. Tokens that are forged, unknown, or name another owner's client change nothing and
are counted.
"""
from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailer.bounces import intake, verp
from mailer.delivery.engine import run_mailing
from mailer.models import (
    Bounce,
    BounceMessage,
    BounceOutcome,
    Client,
    Delivery,
    MailingStatus,
    utcnow,
)
from tests.bounce_corpus import SAMPLES, Sample, read
from tests.factories import AttemptFactory, ClientFactory, DeliveryFactory, MailingFactory
from tests.workspace import make_mailing

RETURN_PATH = "bounces@mailer.test"
POSTFIX_DSN = """\
Return-Path: <>
Delivered-To: {recipient}
From: MAILER-DAEMON@postfix.test (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {recipient}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"
Message-Id: <{message_id}@postfix.test>

--B
Content-Type: text/plain; charset=us-ascii

<{address}>: {diagnostic}

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; postfix.test

Final-Recipient: rfc822; {address}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--B--
"""


def dsn(recipient: str, address: str, status="5.1.1", action="failed",
        diagnostic="550 5.1.1 User unknown", message_id="dsn1") -> bytes:
    """The shape of Postfix's own DSN (the real ones are in the corpus and test_bounce_mail)."""
    return POSTFIX_DSN.format(recipient=recipient, address=address, status=status, action=action,
                              diagnostic=diagnostic, message_id=message_id).replace("\n", "\r\n").encode()


@pytest.fixture
def bounce_app(make_app, db):
    """An app sending with VERP, whose context (over the test's ``db``) the test runs in."""
    app = make_app(MAIL_RETURN_PATH=RETURN_PATH)
    with app.app_context():
        yield app


def letter(db, owner, email="someone@example.com"):
    """A delivery of ``owner``'s mailing to a client at ``email``: (delivery, VERP address)."""
    client = ClientFactory(owner=owner, email=email)
    delivery = DeliveryFactory(client=client, attempt=AttemptFactory(
        mailing=MailingFactory(owner=owner, recipients=[client])))
    db.session.commit()
    return delivery, verp_address(delivery.attempt_id, client.id)


def verp_address(attempt_id: int, client_id: int, secret="test-secret-key") -> str:
    return verp.address(RETURN_PATH, verp.token(secret, attempt_id, client_id))


def fresh(db, model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def counted(db) -> list[BounceOutcome]:
    return db.session.scalars(sa.select(BounceMessage.outcome).order_by(BounceMessage.id)).all()


def what_became_of(db, sample: Sample, delivery: Delivery, result) -> str | None:
    """None when the sample acted on its client as its kind says, else what went wrong."""
    delivery, client = fresh(db, Delivery, delivery.id), fresh(db, Client, delivery.client_id)
    seen = (result.outcome, delivery.bounce, client.suppressed_at is not None,
            client.unsubscribed_at is not None)
    expected = {  # one temporary failure is not enough to suppress (BOUNCE_SOFT_LIMIT 3)
        "none": (BounceOutcome.NOT_BOUNCE, None, False, False),
        "hard": (BounceOutcome.RECORDED, Bounce.HARD, True, False),
        "soft": (BounceOutcome.RECORDED, Bounce.SOFT, False, False),
        "complaint": (BounceOutcome.RECORDED, Bounce.COMPLAINT, False, True),
    }[sample.kind]
    if seen == expected and (sample.kind != "hard" or client.suppressed_reason):
        return None
    return f"{sample.path} ({sample.mta}, {sample.kind}): {seen} — {result.line}"


def test_each_real_sample_acts_on_its_client_as_its_kind_says(bounce_app, db, make_user):
    """All 124 in one test (one app, one database): each arrives at its own letter's VERP
    address, a letter to the sample's first address (a client of an owner who has no client
    at that address yet: samples share addresses)."""
    wrong, owners, used = [], [], Counter()
    for sample in SAMPLES:
        email = (sample.addresses or ("redacted@example.com",))[0]
        if used[email] == len(owners):
            owners.append(make_user(email=f"owner{len(owners)}@example.com"))
        delivery, address = letter(db, owners[used[email]], email=email)
        used[email] += 1
        result = intake.take(read(sample), source="stdin", recipient=address)
        wrong.append(what_became_of(db, sample, delivery, result))
    wrong = [line for line in wrong if line]
    assert wrong == [], "\n".join(wrong)


def test_the_corpus_covers_every_kind_from_several_mail_systems():
    for kind in ("hard", "soft", "complaint", "none"):
        systems = {sample.mta for sample in SAMPLES if sample.kind == kind}
        assert len(systems) >= 3, (kind, systems)


def test_a_hard_bounce_says_why_and_every_mailing_of_the_owner_skips_the_client(
        bounce_app, db, owner, smtp_sink):
    mailing = make_mailing(db, owner, clients=3, start=utcnow() - timedelta(minutes=1))
    first = run_mailing(mailing.id)
    assert "sent 3" in first.line
    dead = db.session.scalars(sa.select(Delivery).order_by(Delivery.id)).first()
    letters = {message.envelope_to[0]: message for message in smtp_sink.wait_for(3)}
    address = letters[dead.email].envelope_from  # the VERP address the letter really left with

    result = intake.take(dsn(address, dead.email), source="stdin")

    assert result.outcome is BounceOutcome.RECORDED and "suppressed" in result.line
    client = fresh(db, Client, dead.client_id)
    assert client.suppressed_reason == "5.1.1 550 5.1.1 User unknown"
    assert fresh(db, Delivery, dead.id).bounce_reason == "5.1.1 550 5.1.1 User unknown"
    smtp_sink.clear()
    second = make_mailing(db, owner, clients=0, start=utcnow() - timedelta(minutes=1))
    db.session.execute(sa.text("INSERT INTO mailing_clients SELECT :m, id FROM clients"),
                       {"m": second.id})
    db.session.commit()
    assert "sent 2" in run_mailing(second.id).line
    assert dead.email not in {message.envelope_to[0] for message in smtp_sink.wait_for(2)}


def test_each_letter_leaves_with_its_own_signed_envelope_sender_and_message_id(
        bounce_app, db, owner, smtp_sink):
    mailing = make_mailing(db, owner, clients=2, start=utcnow() - timedelta(minutes=1))
    run_mailing(mailing.id)
    letters = smtp_sink.wait_for(2)
    for delivery in db.session.scalars(sa.select(Delivery)):
        (message,) = [m for m in letters if m.envelope_to == [delivery.email]]
        token = verp.token("test-secret-key", delivery.attempt_id, delivery.client_id)
        assert message.envelope_from == f"bounces+{token}@mailer.test"
        assert token in message.message["Message-ID"]


def test_a_complaint_quoting_the_letter_is_matched_by_its_message_id(bounce_app, db, owner, smtp_sink):
    """Feedback loops report to one address of the sender's, not the VERP one: the quoted
    letter's Message-ID names it (the RFC 5965 example, around our own letter's Message-ID)."""
    mailing = make_mailing(db, owner, clients=1, start=utcnow() - timedelta(minutes=1))
    run_mailing(mailing.id)
    (sent,) = smtp_sink.wait_for(1)
    example = next(s for s in SAMPLES if s.path.endswith("rfc5965-appendix-b2.eml"))
    report = read(example).replace(b"8787KJKJ3K4J3K4J3K4J3.mail@example.net",
                                   sent.message["Message-ID"].strip("<>").encode())

    result = intake.take(report, source="stdin")

    assert result.outcome is BounceOutcome.RECORDED, result.line
    client = db.session.scalars(sa.select(Client)).one()
    assert client.unsubscribed_at is not None


@pytest.mark.parametrize("make_address, outcome", [
    (lambda delivery: verp_address(delivery.attempt_id, delivery.client_id, "another key"),
     BounceOutcome.FORGED),
    (lambda delivery: verp_address(delivery.attempt_id + 1000, delivery.client_id),
     BounceOutcome.UNKNOWN),
    (lambda delivery: "bounces@mailer.test", BounceOutcome.UNKNOWN),
], ids=["forged signature", "no such letter", "no token"])
def test_a_bounce_naming_no_letter_of_ours_changes_nothing_and_is_counted(
        bounce_app, db, owner, make_address, outcome):
    delivery, _address = letter(db, owner)

    result = intake.take(dsn(make_address(delivery), delivery.email), source="stdin")

    assert result.outcome is outcome and result.line.startswith("ignored")
    assert fresh(db, Client, delivery.client_id).suppressed_at is None
    assert fresh(db, Delivery, delivery.id).bounce is None
    assert counted(db) == [outcome]


def test_a_genuine_token_that_pairs_one_owners_letter_with_another_owners_client_changes_nothing(
        bounce_app, db, owner, make_user):
    delivery, _address = letter(db, owner)
    stranger = ClientFactory(owner=make_user(email="other@example.com"), email="victim@example.com")
    db.session.commit()
    address = verp_address(delivery.attempt_id, stranger.id)  # signed with the real key

    result = intake.take(dsn(address, "victim@example.com"), source="stdin")

    assert result.outcome is BounceOutcome.UNKNOWN
    assert fresh(db, Client, stranger.id).suppressed_at is None


def test_the_same_report_read_twice_counts_once(bounce_app, db, owner):
    delivery, address = letter(db, owner)
    report = dsn(address, delivery.email, status="4.2.2", action="delayed",
                 diagnostic="452 4.2.2 Mailbox full")

    assert intake.take(report, source="stdin").outcome is BounceOutcome.RECORDED
    assert intake.take(report, source="stdin").outcome is BounceOutcome.DUPLICATE
    assert counted(db) == [BounceOutcome.RECORDED, BounceOutcome.DUPLICATE]


def test_temporary_failures_suppress_only_past_the_limit_within_the_window(make_app, db, owner):
    app = make_app(MAIL_RETURN_PATH=RETURN_PATH, BOUNCE_SOFT_LIMIT=3, BOUNCE_SOFT_DAYS=10)
    client = ClientFactory(owner=owner, email="full@example.com")
    mailing = MailingFactory(owner=owner, recipients=[client])
    old = DeliveryFactory(client=client, attempt=AttemptFactory(mailing=mailing),
                          bounce=Bounce.SOFT, bounced_at=utcnow() - timedelta(days=11))
    letters = [DeliveryFactory(client=client, attempt=AttemptFactory(
        mailing=mailing, occurrence_at=mailing.start_at + timedelta(weeks=n))) for n in (1, 2, 3)]
    db.session.commit()
    assert old.bounce is Bounce.SOFT

    lines = []
    with app.app_context():
        for n, delivery in enumerate(letters):
            report = dsn(verp_address(delivery.attempt_id, client.id), client.email, status="4.2.2",
                         action="delayed", diagnostic="452 4.2.2 Mailbox full", message_id=f"d{n}")
            lines.append(intake.take(report, source="stdin").line)
            if n < 2:
                assert fresh(db, Client, client.id).suppressed_at is None, lines

    suppressed = fresh(db, Client, client.id)
    assert suppressed.suppressed_at is not None, lines
    assert suppressed.suppressed_reason.startswith("3 temporary failures in 10 days")
    assert lines[0].endswith("1 of 3 temporary failures")


@pytest.mark.parametrize("raw, says", [
    (b"", "refused: empty"),
    (b"\x00\x01\x02 not a message at all \xff", "refused: not an e-mail message"),
    (b"From: a@example.com\r\nContent-Type: multipart/report; boundary=\"x\"\r\n\r\n--y\r\nbroken",
     "ignored: not a bounce"),
], ids=["empty", "binary", "malformed MIME"])
def test_what_is_not_a_message_changes_nothing(bounce_app, db, owner, raw, says):
    delivery, _address = letter(db, owner)
    result = intake.take(raw, source="stdin")
    assert result.line.startswith(says) and not result.recorded
    assert fresh(db, Delivery, delivery.id).bounce is None


def test_a_message_over_the_size_limit_is_refused_unread(make_app, db, owner):
    app = make_app(MAIL_RETURN_PATH=RETURN_PATH, BOUNCE_MAX_BYTES=1024)
    delivery, address = letter(db, owner)
    with app.app_context():
        result = intake.take(dsn(address, delivery.email) + b"x" * 2048, source="stdin")
    assert result.outcome is BounceOutcome.UNREADABLE and "larger than 1 kB" in result.line
    assert fresh(db, Delivery, delivery.id).bounce is None


def test_a_lifted_suppression_lets_the_client_be_mailed_again(bounce_app, db, owner):
    from mailer.clients import services as clients

    delivery, address = letter(db, owner)
    intake.take(dsn(address, delivery.email), source="stdin")
    client = fresh(db, Client, delivery.client_id)
    assert client.is_suppressed

    clients.lift_suppression(client)

    assert fresh(db, Client, delivery.client_id).suppressed_at is None
    assert fresh(db, Client, delivery.client_id).suppressed_reason is None


def test_a_mailing_whose_letters_are_mostly_refused_pauses_itself_and_resumes(make_app, db, owner,
                                                                            tmp_path):
    """listmonk pauses a campaign after too many errors; so do we, say why, take the cron
    line away, and finish the occurrence once the owner resumes."""
    from mailer import lifecycle
    from mailer.scheduling.cron import CronConfig, read_text
    from tests.smtp_servers import ScriptedSmtpServer

    mailing = make_mailing(db, owner, clients=40, start=utcnow() - timedelta(minutes=1))
    addresses = db.session.scalars(sa.select(Client.email).order_by(Client.id)).all()
    refused = {address: "550 5.1.1 No such user" for n, address in enumerate(addresses) if n % 10 < 7}
    settings = dict(APP_ENV="development", CRONTAB_FILE=str(tmp_path / "crontab"),
                    SCHEDULER="flask", SCRIPTS_DIR=str(tmp_path / "scripts"),
                    MAILING_MIN_SAMPLE=20, MAILING_MAX_FAILURE_RATIO=0.5)
    tag = f"mailer:default:{mailing.id}"
    with ScriptedSmtpServer(rcpt_replies=refused) as server:
        app = make_app(MAIL_PORT=server.port, **settings)
        with app.app_context():
            lifecycle.record_run(db.session.get(type(mailing), mailing.id))  # as saving does
            assert tag in read_text(CronConfig.from_app(app))
            result = run_mailing(mailing.id)
            assert tag not in read_text(CronConfig.from_app(app))

    paused = fresh(db, type(mailing), mailing.id)
    assert paused.status is MailingStatus.PAUSED, result.line
    assert paused.stop_reason == ("paused: 70% of the first 20 letters were refused — "
                                  "check the addresses or the mail server")
    assert "not reached 20" in result.line
    with ScriptedSmtpServer() as server:  # the addresses fixed, the server happy again
        app = make_app(MAIL_PORT=server.port, **settings)
        with app.app_context():
            lifecycle.resume(db.session.get(type(mailing), mailing.id))
            assert tag in read_text(CronConfig.from_app(app))
            finished = run_mailing(mailing.id, resume=True)
        assert len(server.wait_for(20)) == 20

    assert "sent 26, failed 14" in finished.line, finished.line
    assert fresh(db, type(mailing), mailing.id).stop_reason is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(
    st.binary(max_size=2000),
    st.builds(lambda head, body: head.encode("utf-8", "replace") + b"\r\n\r\n" + body,
              st.text(max_size=300), st.binary(max_size=1000)),
    st.sampled_from([read(sample) for sample in SAMPLES]).flatmap(
        lambda raw: st.integers(0, len(raw)).map(lambda cut: raw[:cut])),
))
def test_any_bytes_at_all_are_read_without_a_crash_and_change_nothing_without_a_token(
        bounce_app, db, owner, raw):
    """Whatever reaches the bounce address (cut-off bounces, binary, any text) ends in one
    counted outcome; none of it names a letter, so none of it changes a client."""
    if not db.session.scalar(sa.select(sa.func.count(Delivery.id))):
        letter(db, owner, email="user@dest.test")
    result = intake.take(raw, source="stdin")
    assert result.outcome is not BounceOutcome.RECORDED and result.line
    assert db.session.scalar(sa.select(sa.func.count(Client.id)).where(
        sa.or_(Client.suppressed_at.is_not(None), Client.unsubscribed_at.is_not(None)))) == 0


def suppressed_client(db, owner, email="gone@example.com") -> Client:
    client = ClientFactory(owner=owner, email=email, suppressed_at=utcnow(),
                           suppressed_reason="5.1.1 550 5.1.1 <gone@example.com>: User unknown")
    DeliveryFactory(client=client, attempt=AttemptFactory(
        mailing=MailingFactory(owner=owner, recipients=[client])), bounce=Bounce.HARD,
        bounced_at=client.suppressed_at, bounce_reason=client.suppressed_reason)
    db.session.commit()
    return client


def test_the_owner_sees_why_a_client_is_suppressed_and_can_mail_it_again(client, db, owner):
    from tests.conftest import submit

    gone = suppressed_client(db, owner)
    listing = client.get("/clients/").get_data(as_text=True)
    assert "suppressed" in listing.split("gone@example.com", 1)[1].split("</td>", 1)[0]
    page = client.get(f"/clients/{gone.id}/edit").get_data(as_text=True)
    assert "came back on" in page and "550 5.1.1 &lt;gone@example.com&gt;: User unknown" in page
    assert "Letters that came back" in page

    response = submit(client, f"/clients/{gone.id}/lift-suppression", {},
                      form_url=f"/clients/{gone.id}/edit", follow_redirects=True)

    assert "gone@example.com will be mailed again." in response.get_data(as_text=True)
    assert fresh(db, Client, gone.id).suppressed_at is None


def test_nobody_lifts_another_owners_suppression(client, db, owner, make_user):
    from tests.conftest import csrf_token

    theirs = suppressed_client(db, make_user(email="other@example.com"))
    token = csrf_token(client, "/clients/new")
    response = client.post(f"/clients/{theirs.id}/lift-suppression", data={"csrf_token": token})
    assert response.status_code == 404
    assert fresh(db, Client, theirs.id).suppressed_at is not None


def test_a_new_address_is_not_held_to_the_old_ones_bounces(db, owner, app):
    from mailer.clients import services as clients
    from mailer.clients.services import ClientData

    gone = suppressed_client(db, owner)
    with app.app_context():
        clients.update_client(db.session.get(Client, gone.id),
                              ClientData(email="fixed@example.com", full_name="", comment=""))
    assert fresh(db, Client, gone.id).suppressed_at is None


def test_the_mailing_page_says_why_it_paused_itself(client, db, owner):
    mailing = make_mailing(db, owner, status=MailingStatus.PAUSED)
    mailing.stop_reason = ("paused: 63% of the first 200 letters were refused — check the "
                           "addresses or the mail server")
    db.session.commit()
    page = client.get(f"/mailings/{mailing.id}").get_data(as_text=True)
    assert ("Paused: 63% of the first 200 letters were refused — check the addresses or the "
            "mail server") in page


def test_bounces_stats_counts_what_was_recorded_and_what_was_ignored(bounce_app, db, owner):
    delivery, address = letter(db, owner)
    intake.take(dsn(address, delivery.email), source="stdin")
    intake.take(dsn(verp_address(delivery.attempt_id, delivery.client_id, "forger"), delivery.email),
                source="stdin")
    intake.take(b"", source="stdin")

    output = bounce_app.test_cli_runner().invoke(args=["bounces", "stats"]).output

    assert output.splitlines() == ["last 30 days: 1 forged, 1 recorded, 1 unreadable",
                                   "recorded: 1 hard"]


def test_the_clients_list_shows_the_suppressed_and_the_unsubscribed_apart(client, db, owner):
    suppressed_client(db, owner, email="gone@example.com")
    ClientFactory(owner=owner, email="left@example.com", unsubscribed_at=utcnow())
    ClientFactory(owner=owner, email="fine@example.com")
    db.session.commit()

    def listed(url):
        page = client.get(url).get_data(as_text=True)
        return sorted(set(re.findall(r"[a-z]+@example\.com", page.split("<tbody>", 1)[-1]))), page

    everyone, page = listed("/clients/")
    assert everyone == ["fine@example.com", "gone@example.com", "left@example.com"]
    assert "Suppressed by bounces: 1" in page and "Unsubscribed: 1" in page
    assert listed("/clients/?show=suppressed")[0] == ["gone@example.com"]
    assert listed("/clients/?show=unsubscribed")[0] == ["left@example.com"]
    assert listed("/clients/?show=nonsense")[0] == everyone
    assert listed("/clients/?show=suppressed&q=fine")[0] == []
