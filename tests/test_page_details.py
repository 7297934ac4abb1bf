"""Details the page checks found (W3C Nu checker, axe-core, a reading of every page), each
with its regression test."""
import re
from datetime import datetime, timezone
from html.parser import HTMLParser

from mailer.models import Role
from tests.factories import AttemptFactory, DeliveryFactory, MessageFactory, PostFactory


class _Headers(HTMLParser):
    """The text of each table header cell, hidden text included."""

    def __init__(self, html: str):
        super().__init__()
        self.cells: list[str] = []
        self._open = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "th":
            self._open = True
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag == "th":
            self._open = False

    def handle_data(self, data):
        if self._open:
            self.cells[-1] += data


def test_the_favicon_is_there_for_every_page(client):
    icon = client.get("/favicon.ico")

    assert icon.status_code == 200 and icon.content_type.startswith("image/svg+xml")
    assert b"<svg" in icon.data
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/auth/login").get_data(as_text=True)


def test_no_table_header_is_empty(client, db, make_user, auth):
    owner = make_user(email="user@example.com")
    MessageFactory(owner=owner, subject="News", body="Hello")
    db.session.commit()
    auth.login()

    cells = _Headers(client.get("/messages/").get_data(as_text=True)).cells

    assert cells and all(cell.strip() for cell in cells), cells


def test_publication_times_are_valid_html_and_in_the_deployments_zone_for_visitors(make_app, db):
    app = make_app(DEFAULT_TIMEZONE="Asia/Vladivostok")
    PostFactory(title="Late news", body="Text",
                published_at=datetime(2026, 3, 10, 22, 30, 15, 123456, tzinfo=timezone.utc))
    db.session.commit()

    page = app.test_client().get("/blog/").get_data(as_text=True)

    (stamp,) = re.findall(r'<time datetime="([^"]+)"', page)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\+00:00)?", stamp), "no fractions of a second"
    assert "Mar 11, 2026" in page, "22:30 UTC is already the 11th in Vladivostok"


def test_a_managers_home_shows_the_service_not_mailings_of_their_own(client, make_user, auth):
    make_user(email="boss@example.com", role=Role.MANAGER)
    auth.login("boss@example.com")

    page = client.get("/").get_data(as_text=True)

    assert "Your mailings" not in page and "The service in figures" in page


def test_the_reports_date_range_reads_from_and_to_in_russian(client, make_user, auth):
    make_user(email="user@example.com", language="ru")
    auth.login()

    page = client.get("/attempts/").get_data(as_text=True)

    assert re.search(r"<label[^>]*>По</label>", page)
    assert not re.search(r"<label[^>]*>Кому</label>", page), "“to whom” is the e-mail's To, not a date"


def test_a_mailing_sending_right_now_says_so(client, db, make_user, auth):
    """Its last send under way, it said "No sends are scheduled", as if nothing were happening."""
    from datetime import timedelta

    from mailer.models import AttemptStatus, Frequency, MailingStatus
    from tests.workspace import make_mailing

    owner = make_user(email="user@example.com")
    started = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=2)
    mailing = make_mailing(db, owner, status=MailingStatus.RUNNING, start=started, days=1,
                           frequency=Frequency.DAILY)
    mailing.end_at = started + timedelta(minutes=1)
    AttemptFactory(mailing=mailing, occurrence_at=started, started_at=started,
                   status=AttemptStatus.SENDING)
    db.session.commit()
    auth.login()

    page = client.get(f"/mailings/{mailing.id}").get_data(as_text=True)

    assert "Sending now: the send of" in page and "No later send is scheduled." in page
    assert "No sends are scheduled." not in page


def test_replies_read_in_the_users_language_beside_the_servers_own_words(client, db, make_user, auth):
    """The recorded replies are English (the server's, or the run's own): a Russian reader gets
    what they mean in Russian, with the reply itself kept beside it."""
    import sqlalchemy as sa

    from mailer.models import AttemptStatus, Client, DeliveryStatus
    from tests.workspace import make_mailing

    owner = make_user(email="user@example.com", language="ru")
    mailing = make_mailing(db, owner, clients=2)
    started = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    stopped = AttemptFactory(
        mailing=mailing, occurrence_at=started, started_at=started, status=AttemptStatus.PARTIAL,
        sent_count=1, failed_count=1,
        server_response="Stopped: the mail server stayed unreachable after 3 tries: "
                        "connection refused. Not reached: 1.")
    first, second = db.session.scalars(sa.select(Client).order_by(Client.id)).all()
    DeliveryFactory(attempt=stopped, client=first, email="a@example.com", status=DeliveryStatus.SENT,
                    smtp_code=250, server_reply="250 2.0.0 Ok: queued as 4F2")
    DeliveryFactory(attempt=stopped, client=second, email="b@example.com",
                    status=DeliveryStatus.FAILED, smtp_code=550,
                    server_reply="550 5.1.1 <b@example.com>: Recipient address rejected: User unknown")
    db.session.commit()
    auth.login()

    detail = client.get(f"/mailings/{mailing.id}").get_data(as_text=True)
    attempt = client.get(f"/mailings/{mailing.id}/attempts/{stopped.id}").get_data(as_text=True)

    for page in (detail, attempt):
        assert "остановлено: почтовый сервер недоступен" in page
        assert "Stopped: the mail server stayed unreachable after 3 tries" in page, "the words as recorded"
    assert "отказ: нет такого ящика" in attempt and "550 5.1.1 &lt;b@example.com&gt;" in attempt
    assert "принято почтовым сервером" in attempt and "250 2.0.0 Ok: queued as 4F2" in attempt
