"""Misbehaving mail servers: every fault ends in a clear attempt, nothing lost, nothing hung,
with one worker and with three sending the same mailing at once, a client per batch."""
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from mailer.delivery.engine import run_mailing
from mailer.models import Attempt, AttemptStatus, Client, Delivery, DeliveryStatus
from tests.smtp_servers import (BatchingSmtpServer, DroppingSmtpServer, GarbageSmtpServer, RefusingSmtpServer, ScriptedSmtpServer,
                                SilentSmtpServer, SlowSmtpServer, closed_port)
from tests.workspace import make_mailing

NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)


@pytest.fixture(params=[False, True], ids=["one-by-one", "pipelined"])
def pipelining(request):
    """Whether the server offers PIPELINING (RFC 2920): the engine then sends MAIL, RCPT and
    DATA together, and every fault must end the same way."""
    return request.param


@pytest.fixture(params=[1, 3], ids=["one-worker", "three-workers"])
def workers(request):
    return request.param


@pytest.fixture
def app_on(make_app, workers):
    """An app sending to the given port, with short timeouts and back-off; with several
    workers, each batch is one client, so they take turns as often as they can."""
    several = {"MAILING_BATCH_SIZE": 1} if workers > 1 else {}

    def build(port, **settings):
        app = make_app(MAIL_PORT=port, MAILING_SMTP_TIMEOUT=1, MAILING_RETRY_DELAYS=(0.05, 0.1),
                       **several, **settings)
        app.extensions["test_workers"] = workers
        return app
    return build


def due(db, owner, clients=3):
    return make_mailing(db, owner, clients=clients, start=NOW - timedelta(minutes=1))


def run(app, mailing_id, **options):
    """The mailing's run, by as many workers at once as the test's app has (a resume is one
    run's business); the result of the worker that ended the attempt."""
    workers = 1 if options.get("resume") else app.extensions["test_workers"]
    results = []

    def work():
        with app.app_context():
            results.append(run_mailing(mailing_id, **options))

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == workers, "every worker ended"
    (ending,) = [r for r in results if "another run" not in r.line and "this run sent" not in r.line]
    return ending


def emails(db):
    return db.session.scalars(sa.select(Client.email).order_by(Client.id)).all()


def deliveries(db):
    return {d.email: d for d in db.session.scalars(sa.select(Delivery))}


def only_attempt(db) -> Attempt:
    (attempt,) = db.session.scalars(sa.select(Attempt)).all()
    return attempt


def test_a_refused_recipient_fails_alone_and_the_others_get_it(app_on, db, owner, pipelining):
    mailing = due(db, owner, clients=3)
    bad = emails(db)[1]
    with ScriptedSmtpServer(rcpt_replies={bad: "550 5.1.1 User unknown"}, pipelining=pipelining) as server:
        result = run(app_on(server.port), mailing.id)
        received = sorted(m.envelope_to[0] for m in server.wait_for(2))

    assert result.exit_code == 3 and "partial, sent 2, failed 1" in result.line
    assert received == sorted(set(emails(db)) - {bad})
    attempt = only_attempt(db)
    assert attempt.status is AttemptStatus.PARTIAL
    assert bad in attempt.server_response and "550 5.1.1 User unknown" in attempt.server_response
    failed = deliveries(db)[bad]
    assert (failed.status, failed.smtp_code, failed.server_reply) == (
        DeliveryStatus.FAILED, 550, "550 5.1.1 User unknown")


def test_a_server_that_offers_pipelining_gets_mail_rcpt_and_data_together(app_on, db, owner, workers):
    """Two round trips a letter instead of four. The server answers MAIL and RCPT only once
    DATA has come: a client waiting for each reply would time out on every letter and send
    none, so every letter arriving is the proof."""
    mailing = due(db, owner, clients=5)
    with BatchingSmtpServer() as server:
        result = run(app_on(server.port), mailing.id)
        received = sorted(m.envelope_to[0] for m in server.wait_for(5))
        connections = server.connections

    assert result.exit_code == 0, result.line
    assert received == sorted(emails(db)) and 1 <= connections <= workers, "one connection a worker"


def international_client(db):
    client = db.session.scalars(sa.select(Client).order_by(Client.id)).first()
    client.email = "анна@пример.рф"  # email-validator accepts it when the client is saved
    db.session.commit()
    return client.email


def test_an_international_address_goes_out_as_utf8_to_a_server_that_takes_it(app_on, db, owner, pipelining):
    mailing = due(db, owner, clients=2)
    address = international_client(db)
    with ScriptedSmtpServer(smtputf8=True, pipelining=pipelining) as server:
        result = run(app_on(server.port), mailing.id)
        received = {m.envelope_to[0]: m for m in server.wait_for(2)}

    assert result.exit_code == 0 and "success, sent 2" in result.line
    local = received[address].message["To"].addresses[0].username  # read back as surrogate escapes
    assert local.encode("utf-8", "surrogateescape").decode("utf-8") == "анна"  # UTF-8, as RFC 6531 has it


def test_an_international_address_the_server_cannot_take_fails_alone_with_the_reason(app_on, db, owner):
    mailing = due(db, owner, clients=2)
    address = international_client(db)
    with ScriptedSmtpServer(smtputf8=False) as server:
        result = run(app_on(server.port), mailing.id)
        received = [m.envelope_to[0] for m in server.wait_for(1)]

    assert result.exit_code == 3 and "partial, sent 1, failed 1" in result.line
    assert received == [emails(db)[1]]
    failed = deliveries(db)[address]
    assert failed.status is DeliveryStatus.FAILED and "SMTPUTF8" in failed.server_reply


def test_an_address_smuggling_smtp_commands_is_never_put_on_the_line(app_on, db, owner, pipelining):
    mailing = due(db, owner, clients=2)
    client = db.session.scalars(sa.select(Client).order_by(Client.id)).first()
    client.email = "a@example.com>\r\nRCPT TO:<victim@example.org"  # only possible straight in the database
    db.session.commit()
    with ScriptedSmtpServer(pipelining=pipelining) as server:
        result = run(app_on(server.port), mailing.id)
        server.wait_for(1)
        tried = dict(server.rcpt_attempts)

    assert "partial, sent 1, failed 1" in result.line
    assert "victim@example.org" not in tried and len(tried) == 1, tried
    assert "control characters" in deliveries(db)[client.email].server_reply


def test_a_message_refused_after_data_is_a_failed_delivery(app_on, db, owner, pipelining):
    mailing = due(db, owner, clients=2)
    bad = emails(db)[0]
    with ScriptedSmtpServer(data_replies={bad: "554 5.7.1 Rejected as spam"}, pipelining=pipelining) as server:
        run(app_on(server.port), mailing.id)

    assert deliveries(db)[bad].server_reply == "554 5.7.1 Rejected as spam"
    assert only_attempt(db).sent_count == 1


def test_a_temporary_refusal_is_retried_once_at_the_end(app_on, db, owner, pipelining):
    mailing = due(db, owner, clients=3)
    busy, never = emails(db)[0], emails(db)[1]
    with ScriptedSmtpServer(rcpt_replies={busy: ["451 4.3.0 Try again later", "250 OK"],
                                          never: "450 4.2.1 Mailbox busy"},
                            pipelining=pipelining) as server:
        result = run(app_on(server.port), mailing.id)
        tries = dict(server.rcpt_attempts)

    assert tries[busy] == 2 and tries[never] == 2, "each temporary refusal is retried exactly once"
    assert deliveries(db)[busy].status is DeliveryStatus.SENT
    assert deliveries(db)[never].smtp_code == 450
    assert "partial, sent 2, failed 1" in result.line


def test_a_connection_dropped_mid_data_is_reconnected_and_nobody_is_lost(app_on, db, owner, pipelining,
                                                                        workers):
    mailing = due(db, owner, clients=10 * workers)  # a drop every fourth letter on a connection
    with DroppingSmtpServer(drop_after_messages=3, pipelining=pipelining) as server:
        result = run(app_on(server.port), mailing.id)
        received = sorted(m.envelope_to[0] for m in server.messages)
        drops = server.drops

    assert drops >= 3
    assert result.exit_code == 0, result.line
    assert received == sorted(emails(db))
    assert only_attempt(db).status is AttemptStatus.SUCCESS


@pytest.mark.parametrize("stage", ["greeting", "ehlo", "mail", "rcpt", "data", "data_end"])
def test_garbage_from_the_server_ends_the_run_with_a_failure_that_quotes_it(app_on, db, owner, pipelining, stage):
    mailing = due(db, owner, clients=5)
    with GarbageSmtpServer(stage=stage, garbage="HELLO?? I am a web server", pipelining=pipelining) as server:
        started = time.monotonic()
        result = run(app_on(server.port), mailing.id)

    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    attempt = only_attempt(db)
    assert attempt.status is AttemptStatus.FAILURE
    assert "I am a web server" in attempt.server_response  # smtplib keeps all but a line's first 4 characters
    assert "Not reached: 5" in attempt.server_response
    assert attempt.not_reached == 5


@pytest.mark.parametrize("reply", ["421 4.3.2 Service not available", "554 No SMTP service here"])
def test_a_server_refusing_connections_is_tried_a_few_times_then_the_run_fails(app_on, db, owner, reply,
                                                                               workers):
    mailing = due(db, owner, clients=4)
    with RefusingSmtpServer(reply) as server:
        result = run(app_on(server.port), mailing.id)
        connections = server.connections

    # One try and two retries (MAILING_RETRY_DELAYS has two delays) by each worker that
    # started before the first to give up ended the send.
    assert connections % 3 == 0 and 3 <= connections <= 3 * workers, connections
    assert result.exit_code == 1 and reply.split()[0] in only_attempt(db).server_response


def test_a_server_that_never_answers_ends_a_1000_client_run_in_seconds_not_hours(app_on, db, owner):
    mailing = due(db, owner, clients=1000)
    with SilentSmtpServer() as server:
        started = time.monotonic()
        result = run(app_on(server.port), mailing.id)
        elapsed = time.monotonic() - started

    assert elapsed < 10, f"took {elapsed:.1f} s"
    attempt = only_attempt(db)
    assert attempt.status is AttemptStatus.FAILURE and attempt.sent_count == 0
    assert "no answer within the time limit" in attempt.server_response
    assert "Not reached: 1000" in result.line


def test_a_slow_server_past_the_timeout_is_retried_and_then_works(app_on, db, owner, pipelining):
    mailing = due(db, owner, clients=3)
    with SlowSmtpServer(delay=3, stage="rcpt", slow_replies=1, pipelining=pipelining) as server:
        result = run(app_on(server.port), mailing.id)
        received = len(server.messages)

    assert result.exit_code == 0 and received == 3


def test_nothing_listening_then_resume_finishes_the_occurrence(app_on, db, owner, smtp_sink):
    mailing = due(db, owner, clients=30)

    down = run(app_on(closed_port()), mailing.id)
    assert down.exit_code == 1 and "connection refused" in down.line
    resumed = run(app_on(smtp_sink.port), mailing.id, resume=True)

    assert resumed.exit_code == 0, resumed.line
    assert sorted(m.envelope_to[0] for m in smtp_sink.wait_for(30)) == sorted(emails(db))
    attempt = only_attempt(db)
    assert (attempt.status, attempt.sent_count) == (AttemptStatus.SUCCESS, 30)


def test_resume_retries_temporary_failures_but_not_permanent_ones(app_on, db, owner, pipelining, smtp_sink):
    mailing = due(db, owner, clients=3)
    busy, unknown = emails(db)[0], emails(db)[1]
    with ScriptedSmtpServer(rcpt_replies={busy: "452 4.2.2 Mailbox full", unknown: "550 No such user"},
                            pipelining=pipelining) as server:
        run(app_on(server.port), mailing.id)

    run(app_on(smtp_sink.port), mailing.id, resume=True)

    assert [m.envelope_to[0] for m in smtp_sink.wait_for(1)] == [busy]
    assert deliveries(db)[busy].status is DeliveryStatus.SENT
    assert deliveries(db)[unknown].status is DeliveryStatus.FAILED


def test_one_mailings_broken_server_does_not_touch_another_mailing(app_on, db, owner, make_user, smtp_sink):
    other_owner = make_user(email="other@example.com", language="en")
    broken = due(db, owner, clients=5)
    healthy = due(db, other_owner, clients=5)
    with SilentSmtpServer() as dead:
        failed = run(app_on(dead.port), broken.id)
    fine = run(app_on(smtp_sink.port), healthy.id)

    assert failed.exit_code == 1 and fine.exit_code == 0
    assert len(smtp_sink.wait_for(5)) == 5
