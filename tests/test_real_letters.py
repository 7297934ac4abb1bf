"""The letter corpus (tests/letter_corpus.py), each sent by the engine to several clients through
real servers, read back with the strict e-mail policy: what arrives is what was written."""
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest

from mailer.delivery import compose
from mailer.delivery.engine import run_mailing
from mailer.message_template import Recipient
from mailer.models import Frequency
from tests.letter_corpus import CORPUS, NAME, CorpusLetter
from tests.smtp_servers import SevenBitSmtpServer
from tests.wire import wire_problems
from tests.factories import ClientFactory, MailingFactory, MessageFactory

SENDER = "Пекарня «Колобок» <news@bakery.example>"  # the default address, under the owner's name


@pytest.fixture(params=["aiosmtpd", "postfix", "exim", "seven-bit"])
def server(request, smtp_sink):
    """A real server the letters go through, and whether it takes 8-bit text. Postfix refuses
    bare LF and both it and Exim refuse lines over 998 octets (tests/mail_servers.py)."""
    if request.param == "aiosmtpd":
        smtp_sink.clear()
        yield smtp_sink, True
    elif request.param in ("postfix", "exim"):
        yield request.getfixturevalue(f"{request.param}_server"), True
    else:
        with SevenBitSmtpServer() as seven_bit:
            yield seven_bit, False


def _as_sent(raw: bytes) -> bytes:
    """Postfix and Exim store letters with LF line ends; on the wire every line ended in CRLF."""
    return raw if b"\r\n" in raw else raw.replace(b"\n", b"\r\n")


def _send(make_app, db, owner, letter: CorpusLetter, port: int):
    message = MessageFactory(owner=owner, subject=letter.subject, body=letter.body)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    recipients = [ClientFactory(owner=owner, email=email, full_name=name)
                  for email, name in letter.clients]
    mailing = MailingFactory(owner=owner, message=message, start_at=start, days=7,
                             frequency=Frequency.DAILY, recipients=recipients)
    db.session.commit()
    app = make_app(MAIL_PORT=port, MAIL_DEFAULT_SENDER=SENDER)
    with app.app_context():
        return run_mailing(mailing.id, sleep=lambda seconds: None), compose.prepare(mailing).html


def _text(template: str, name: str) -> str:
    return "\n".join(template.replace(NAME, name).splitlines())


@pytest.mark.parametrize("letter", CORPUS, ids=[letter.key for letter in CORPUS])
def test_every_letter_arrives_as_written(make_app, db, make_user, server, letter):
    receiver, eight_bit = server
    owner = make_user(email="owner@bakery.example", language="ru", full_name="Пекарня «Колобок»")

    result, html_version = _send(make_app, db, owner, letter, receiver.port)

    assert result.exit_code == 0, result.line
    received = {caught.envelope_to[0]: caught for caught in receiver.wait_for(len(letter.clients))}
    assert sorted(received) == sorted(email for email, _name in letter.clients)
    for email, name in letter.clients:
        raw = _as_sent(received[email].raw)
        assert wire_problems(raw, eight_bit) == []
        parsed = message_from_bytes(raw, policy=policy.strict)  # raises on any defect
        (to,) = parsed["To"].addresses
        assert (to.display_name, to.addr_spec) == (" ".join(name.split()), email)
        assert str(parsed["From"]) == SENDER
        assert str(parsed["Subject"]) == " ".join(letter.subject.replace(NAME, name).split())
        assert parsed["Message-ID"].endswith("@bakery.example>")
        assert parsed["List-Unsubscribe"].startswith("<http://mailer.test/unsubscribe/")
        assert parsed.get_content_type() == "multipart/alternative"
        body = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert body.startswith(_text(letter.body, name).rstrip() + "\n\n-- \n"), body[:300]
        html = parsed.get_body(("html",)).get_content().replace("\r\n", "\n")
        written = html_version.render(Recipient(email, name), str(parsed["Subject"]),
                                      parsed["List-Unsubscribe"][1:-1])
        assert html == "\n".join(written.splitlines()) + "\n"
