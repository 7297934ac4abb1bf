"""DKIM: mailing letters signed for the DKIM domain, checked with dkimpy's own verify (the public
key answered by a function of ours: no network); the return path; settings that cannot work."""
import base64
import re
import subprocess
from datetime import datetime, timedelta, timezone

import dkim
import pytest
import sqlalchemy as sa

from mailer import create_app
from mailer.bounces import verp
from mailer.config import ConfigError
from mailer.delivery.engine import run_mailing
from mailer.models import Delivery
from tests.workspace import make_mailing

SELECTOR, DOMAIN = "s2027", "shop.example"
REQUIRED = {b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe", b"list-unsubscribe-post"}


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory) -> tuple[str, bytes]:
    """A fresh 2048-bit RSA key: its file, and the TXT record that would publish it."""
    path = tmp_path_factory.mktemp("dkim") / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(path), "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(path), "-pubout", "-outform", "der"],
                            check=True, capture_output=True).stdout
    return str(path), b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def dns_answering(record: bytes):
    asked = []

    def get_txt(name: bytes, timeout: float = 5) -> bytes | None:
        asked.append(name)
        return record if name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode() else None

    get_txt.asked = asked
    return get_txt


def signed_app(make_app, dkim_key, port, **settings):
    return make_app(MAIL_PORT=port, DKIM_DOMAIN=DOMAIN, DKIM_SELECTOR=SELECTOR,
                    DKIM_PRIVATE_KEY_FILE=dkim_key[0], **settings)


def send(app, db, owner, clients=3):
    mailing = make_mailing(db, owner, clients=clients,
                           start=datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1))
    with app.app_context():
        return run_mailing(mailing.id, sleep=lambda seconds: None)


def signed_headers(raw: bytes) -> set[bytes]:
    header = re.search(rb"(?is)^DKIM-Signature:(.*?)\r?\n(?=\S)", raw).group(1)
    tags = re.search(rb"h=([^;]*)", re.sub(rb"\s+", b"", header)).group(1)
    return set(tags.lower().split(b":"))


def test_every_letter_is_signed_and_verifies_with_the_published_key(make_app, db, make_user, smtp_sink,
                                                                    dkim_key):
    owner = make_user(email="owner@shop.example")
    app = signed_app(make_app, dkim_key, smtp_sink.port, MAIL_DEFAULT_SENDER=f"Shop <news@{DOMAIN}>")

    result = send(app, db, owner)

    assert result.exit_code == 0, result.line
    received = smtp_sink.wait_for(3)
    assert len(received) == 3
    lookup = dns_answering(dkim_key[1])
    for caught in received:
        assert dkim.verify(caught.raw, dnsfunc=lookup)
        assert REQUIRED <= signed_headers(caught.raw)
        forged = caught.raw.replace(b"Subject: Weekly news", b"Subject: Weekly newz")
        assert forged != caught.raw and not dkim.verify(forged, dnsfunc=lookup)
    assert set(lookup.asked) == {f"{SELECTOR}._domainkey.{DOMAIN}.".encode()}


def test_the_signature_survives_a_strict_postfix(make_app, db, make_user, postfix_server, dkim_key):
    owner = make_user(email="owner@shop.example")
    app = signed_app(make_app, dkim_key, postfix_server.port, MAIL_DEFAULT_SENDER=f"Новости магазина <news@{DOMAIN}>")

    result = send(app, db, owner, clients=2)

    assert result.exit_code == 0, result.line
    stored = postfix_server.wait_for(2)
    assert len(stored) == 2
    assert all(dkim.verify(copy.raw, dnsfunc=dns_answering(dkim_key[1])) for copy in stored)


def test_a_sender_of_another_domain_is_sent_unsigned_and_the_run_says_so(make_app, db, make_user, smtp_sink,
                                                                        dkim_key):
    owner = make_user(email="owner@example.com")
    app = signed_app(make_app, dkim_key, smtp_sink.port, MAIL_DEFAULT_SENDER="Other <news@other.example>")

    result = send(app, db, owner, clients=2)

    assert result.exit_code == 0
    assert "sent unsigned: the sender's domain other.example is not the DKIM domain shop.example" in result.line
    assert all(b"DKIM-Signature" not in caught.raw for caught in smtp_sink.wait_for(2))


def test_bounces_come_back_to_the_return_path_with_the_letters_token(make_app, db, make_user,
                                                                      smtp_sink):
    owner = make_user(email="owner@example.com", full_name="Shop")
    app = make_app(MAIL_PORT=smtp_sink.port, MAIL_DEFAULT_SENDER="Mailer <news@shop.example>",
                   MAIL_RETURN_PATH="bounces+mailer@shop.example")

    send(app, db, owner, clients=1)

    (caught,) = smtp_sink.wait_for(1)
    (delivery,) = db.session.scalars(sa.select(Delivery)).all()
    token = verp.token(app.config["SECRET_KEY"], delivery.attempt_id, delivery.client_id)
    # One more +extension: a server splitting at the first + still delivers to "bounces".
    assert caught.envelope_from == f"bounces+mailer+{token}@shop.example"
    assert str(caught.message["From"]) == "Shop <news@shop.example>"


@pytest.mark.parametrize("settings, named", [
    ({"DKIM_DOMAIN": DOMAIN}, "DKIM_SELECTOR, DKIM_PRIVATE_KEY_FILE not set"),
    ({"DKIM_DOMAIN": DOMAIN, "DKIM_SELECTOR": SELECTOR, "DKIM_PRIVATE_KEY_FILE": "/nonexistent/dkim.pem"},
     "DKIM_PRIVATE_KEY_FILE: cannot read /nonexistent/dkim.pem"),
    ({"MAIL_RETURN_PATH": "Bounces <b@shop.example>"}, "MAIL_RETURN_PATH must be a bare address"),
])
def test_dkim_and_return_path_settings_that_cannot_work_stop_the_start(settings, named):
    with pytest.raises(ConfigError, match=re.escape(named)):
        create_app({"APP_ENV": "testing", "SECRET_KEY": "x", **settings})


def test_a_key_file_without_a_private_key_stops_the_start(tmp_path):
    garbage = tmp_path / "dkim.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")

    with pytest.raises(ConfigError, match="DKIM_PRIVATE_KEY_FILE: .* holds no RSA private key"):
        create_app({"APP_ENV": "testing", "SECRET_KEY": "x", "DKIM_DOMAIN": DOMAIN, "DKIM_SELECTOR": SELECTOR,
                    "DKIM_PRIVATE_KEY_FILE": str(garbage)})
