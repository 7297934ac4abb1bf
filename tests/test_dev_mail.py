"""Development: the mail sink catches every e-mail and /dev/mail/ shows it."""
import os
import re
import signal
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from tests.conftest import submit
from tests.smtp_servers import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def maildir_sink(tmp_path):
    """The handler `flask mail-sink` uses (aiosmtpd's Maildir handler), on a free port."""
    directory = tmp_path / "mail"
    controller = Controller(Mailbox(directory), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, directory
    controller.stop()


def registered_in_development(make_app, maildir_sink):
    """A development app's test client, after a sign-up whose verification mail the sink caught."""
    controller, directory = maildir_sink
    app = make_app(APP_ENV="development", MAIL_PORT=controller.port, MAIL_SINK_DIR=str(directory))
    client = app.test_client()
    submit(client, "/auth/register", {"email": "new@example.com", "full_name": "New Person",
                                      "password": "password123", "password2": "password123"})
    return client


def test_dev_mail_page_shows_the_verification_mail_with_its_link(make_app, maildir_sink):
    client = registered_in_development(make_app, maildir_sink)

    inbox = client.get("/dev/mail/").get_data(as_text=True)

    assert "new@example.com" in inbox and "Confirm your e-mail address" in inbox
    (key,) = re.findall(r'href="/dev/mail/([^"]+)"', inbox)
    message = client.get(f"/dev/mail/{key}").get_data(as_text=True)
    assert 'href="http://mailer.test/auth/verify/' in message
    assert "New Person" in message


def test_dev_mail_page_escapes_what_it_shows(make_app, maildir_sink):
    controller, directory = maildir_sink
    app = make_app(APP_ENV="development", MAIL_PORT=controller.port, MAIL_SINK_DIR=str(directory))
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "a@example.com", "b@example.com", "<script>x()</script>"
    mail.set_content("<img src=x onerror=alert(1)>")
    with smtplib.SMTP("127.0.0.1", controller.port, timeout=5) as smtp:
        smtp.send_message(mail)
    client = app.test_client()

    inbox = client.get("/dev/mail/").get_data(as_text=True)
    (key,) = re.findall(r'href="/dev/mail/([^"]+)"', inbox)
    message = client.get(f"/dev/mail/{key}").get_data(as_text=True)

    assert "<script>x()" not in inbox and "&lt;script&gt;" in inbox
    assert "<img src=x" not in message


def test_unknown_dev_mail_is_404(make_app, tmp_path):
    client = make_app(APP_ENV="development", MAIL_SINK_DIR=str(tmp_path)).test_client()

    assert client.get("/dev/mail/").status_code == 200
    assert client.get("/dev/mail/../../etc/passwd").status_code == 404
    assert client.get("/dev/mail/nope").status_code == 404


@pytest.mark.parametrize("env", ["production", "testing"])
def test_dev_mail_page_exists_only_in_development(make_app, env):
    client = make_app(APP_ENV=env).test_client()

    assert client.get("/dev/mail/").status_code == 404


def test_dev_mail_answers_only_a_browser_on_this_machine(make_app, maildir_sink):
    """It lists every verification and reset link: from another machine it does not exist."""
    client = registered_in_development(make_app, maildir_sink)
    (key,) = re.findall(r'href="/dev/mail/([^"]+)"', client.get("/dev/mail/").get_data(as_text=True))

    for address in ("203.0.113.7", "192.168.1.20", "::ffff:10.0.0.1", "2001:db8::1"):
        for path in ("/dev/mail/", f"/dev/mail/{key}", f"/dev/mail/{key}/html"):
            response = client.get(path, environ_base={"REMOTE_ADDR": address})
            assert response.status_code == 404, (address, path)
            assert "verify" not in response.get_data(as_text=True)
    assert client.get("/dev/mail/", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_behind_a_proxy_the_visitor_is_who_the_proxy_says(make_app, maildir_sink):
    """With PROXY_HOPS=1 (nginx) a visitor from afar is not taken for the proxy on loopback."""
    controller, directory = maildir_sink
    app = make_app(APP_ENV="development", MAIL_PORT=controller.port, MAIL_SINK_DIR=str(directory),
                   PROXY_HOPS=1)
    client = app.test_client()

    assert client.get("/dev/mail/", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 404
    assert client.get("/dev/mail/", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


def test_flask_mail_sink_command_stores_what_it_receives(tmp_path):
    port = free_port()
    env = {**os.environ, "MAILER_ENV_FILE": "", "APP_ENV": "testing", "SECRET_KEY": "k",
           "MAIL_SINK_DIR": str(tmp_path / "mail"), "FLASK_SKIP_DOTENV": "1"}
    sink = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "mail-sink",
                             "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "Mail sink on 127.0.0.1:%d" % port in sink.stdout.readline()
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "a@example.com", "b@example.com", "Hello sink"
        mail.set_content("body")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            smtp.send_message(mail)
        stored = list((tmp_path / "mail" / "new").iterdir())
        assert len(stored) == 1 and b"Subject: Hello sink" in stored[0].read_bytes()
    finally:
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(timeout=10) == 0, "the sink stops cleanly on SIGTERM"


def test_the_demo_newsletter_sent_now_reads_rendered_at_dev_mail(make_app, maildir_sink, db, tmp_path):
    """What `make run` shows: the seeded Markdown newsletter, sent, as HTML beside its text."""
    from mailer.delivery.engine import run_mailing
    from mailer.models import Mailing

    controller, directory = maildir_sink
    # The seeded mailing gets a cron line: in a file of the test's own (make_app sees to it).
    app = make_app(APP_ENV="development", MAIL_PORT=controller.port, MAIL_SINK_DIR=str(directory))
    assert app.test_cli_runner().invoke(args=["seed"]).exit_code == 0
    with app.app_context():
        (mailing_id,) = db.session.scalars(sa.select(Mailing.id)).all()
        result = run_mailing(mailing_id, ignore_schedule=True)
    assert result.exit_code == 0, result.line
    client = app.test_client()

    inbox = client.get("/dev/mail/").get_data(as_text=True)
    key = re.findall(r'href="/dev/mail/([^"]+)"', inbox)[0]
    page = client.get(f"/dev/mail/{key}").get_data(as_text=True)
    letter = client.get(f"/dev/mail/{key}/html")

    assert f'<iframe class="letter-frame" sandbox src="/dev/mail/{key}/html"' in page
    assert "## Новинки недели" in page, "the text version beside it, as written"
    html = letter.get_data(as_text=True)
    assert '<h1 style="' in html and "Новости пекарни «Колобок»" in html
    assert re.search(r"<td [^>]*>Пирог\s+с\s+ревенём</td>", html)
    assert "sandbox" in letter.headers["Content-Security-Policy"]
    assert client.get(f"/dev/mail/{key}x/html").status_code == 404
    assert f"# mailer:default:{mailing_id}" in (tmp_path / "crontab").read_text()  # the test's own
