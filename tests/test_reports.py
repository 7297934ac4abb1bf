"""Reports: attempts across mailings (scoping, filters, pages, CSV) and a mailing's statistics."""
import csv
import io
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from mailer.models import AttemptStatus, Bounce, Client, DeliveryStatus, Role, mailing_clients
from mailer.reports import services
from tests.factories import AttemptFactory, DeliveryFactory
from tests.test_mailings import _statements_for
from tests.workspace import make_mailing

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
MOSCOW = ZoneInfo("Europe/Moscow")


def add_attempt(db, mailing, started, status=AttemptStatus.SUCCESS, sent=1, failed=0,
                response="250 OK", occurrence=None, commit=True):
    attempt = AttemptFactory(
        mailing=mailing, occurrence_at=occurrence or started, started_at=started,
        finished_at=None if status is AttemptStatus.SENDING else started + timedelta(minutes=1),
        status=status, sent_count=sent, failed_count=failed, server_response=response,
    )
    if commit:
        db.session.commit()
    return attempt


@pytest.fixture
def stranger(make_user):
    return make_user(email="stranger@example.com")


def _rows(page: str) -> list[str]:
    """The table rows of the attempts list (empty when there is no table)."""
    if "<tbody>" not in page:
        return []
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>.*?</tr>", body, re.S)


def _csv(response) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


# --- who sees what ---------------------------------------------------------------------------

def test_anonymous_visitor_is_sent_to_sign_in(client):
    for url in ("/attempts/", "/attempts/export.csv"):
        response = client.get(url)

        assert response.status_code == 302
        assert response.location.startswith("/auth/login")


def test_reports_menu_entry_for_a_signed_in_user(client, owner):
    page = client.get("/").get_data(as_text=True)

    assert 'href="/attempts/"' in page and "Reports" in page


def test_user_sees_only_their_own_attempts(client, db, owner, stranger):
    mine = make_mailing(db, owner, subject="My news")
    theirs = make_mailing(db, stranger, subject="Their news")
    now = datetime.now(UTC).replace(microsecond=0)
    add_attempt(db, mine, now - timedelta(hours=1), response="250 mine")
    add_attempt(db, theirs, now - timedelta(hours=2), response="250 theirs")

    page = client.get("/attempts/").get_data(as_text=True)

    rows = _rows(page)
    assert len(rows) == 1 and "My news" in rows[0] and "250 mine" in rows[0]
    assert "Their news" not in page and "250 theirs" not in page
    assert "stranger@example.com" not in page and ">Owner<" not in page
    assert f'href="/mailings/{mine.id}/attempts/' in rows[0]


@pytest.mark.parametrize("role, superuser", [(Role.MANAGER, False), (Role.USER, True)])
def test_manager_and_superuser_see_every_attempt_with_its_owner(client, db, make_user, auth,
                                                                stranger, role, superuser):
    make_user(email="boss@example.com", role=role, is_superuser=superuser)
    other = make_user(email="other@example.com")
    now = datetime.now(UTC).replace(microsecond=0)
    theirs = make_mailing(db, stranger, subject="Stranger's news")
    add_attempt(db, theirs, now - timedelta(hours=1))
    add_attempt(db, make_mailing(db, other, subject="Other's news"), now - timedelta(hours=2))
    auth.login("boss@example.com")

    page = client.get("/attempts/").get_data(as_text=True)

    rows = _rows(page)
    assert ">Owner<" in page
    assert len(rows) == 2
    assert "Stranger&#39;s news" in rows[0] and "stranger@example.com" in rows[0]
    assert f'href="/manager/mailings/{theirs.id}"' in rows[0]
    assert "Other&#39;s news" in rows[1] and "other@example.com" in rows[1]
    # The filter's search finds every mailing, with its owner; by an owner's address too.
    found = client.get("/attempts/mailings.json").get_json()["results"]
    assert [item["text"] for item in found] == [
        f"Other's news (#{found[0]['id']}) — other@example.com",
        f"Stranger's news (#{theirs.id}) — stranger@example.com"]
    by_owner = client.get("/attempts/mailings.json?q=stranger@").get_json()["results"]
    assert [item["id"] for item in by_owner] == [theirs.id]


# --- filters ---------------------------------------------------------------------------------

def test_filter_by_mailing(client, db, owner):
    spring = make_mailing(db, owner, subject="Spring")
    autumn = make_mailing(db, owner, subject="Autumn")
    now = datetime.now(UTC).replace(microsecond=0)
    add_attempt(db, spring, now - timedelta(hours=1), response="250 spring")
    add_attempt(db, autumn, now - timedelta(hours=2), response="250 autumn")

    page = client.get(f"/attempts/?mailing={spring.id}").get_data(as_text=True)

    rows = _rows(page)
    assert len(rows) == 1 and "250 spring" in rows[0]
    assert f'<option selected value="{spring.id}">Spring (#{spring.id})</option>' in page


def test_filter_by_status(client, db, owner):
    mailing = make_mailing(db, owner)
    now = datetime.now(UTC).replace(microsecond=0)
    for back, status, response in ((1, AttemptStatus.SUCCESS, "250 fine"),
                                   (2, AttemptStatus.FAILURE, "421 down"),
                                   (3, AttemptStatus.PARTIAL, "550 some")):
        add_attempt(db, mailing, now - timedelta(days=back), status=status, response=response)

    page = client.get("/attempts/?status=failure").get_data(as_text=True)

    rows = _rows(page)
    assert len(rows) == 1 and "421 down" in rows[0]


def _around_dst_midnights(db, owner):
    """Attempts a minute either side of both ends of 10 March 2024 in New York (the DST day)."""
    mailing = make_mailing(db, owner)
    moments = {
        "before": datetime(2024, 3, 9, 23, 59, tzinfo=NEW_YORK),
        "first": datetime(2024, 3, 10, 0, 0, tzinfo=NEW_YORK),
        "last": datetime(2024, 3, 10, 23, 59, tzinfo=NEW_YORK),
        "after": datetime(2024, 3, 11, 0, 0, tzinfo=NEW_YORK),
    }
    for name, moment in moments.items():
        add_attempt(db, mailing, moment.astimezone(UTC), response=f"250 {name}", commit=False)
    db.session.commit()
    return mailing


def test_date_range_is_whole_days_in_the_viewers_zone(client, db, owner):
    _around_dst_midnights(db, owner)

    def shown(query):
        page = client.get(f"/attempts/?{query}").get_data(as_text=True)
        return [re.search(r"250 (\w+)", row).group(1) for row in _rows(page)]

    assert shown("date_from=2024-03-10&date_to=2024-03-10") == ["last", "first"]
    assert shown("date_from=2024-03-10") == ["after", "last", "first"]
    assert shown("date_to=2024-03-09") == ["before"]


def test_a_filter_that_matches_nothing_says_so(client, db, owner):
    add_attempt(db, make_mailing(db, owner), datetime.now(UTC) - timedelta(hours=1))

    page = client.get("/attempts/?status=partial").get_data(as_text=True)

    assert _rows(page) == []
    assert "No attempts match this filter." in page


@pytest.mark.parametrize("query, words", [
    ("date_from=2024-03-10&date_to=2024-03-09", "The end date is before the start date."),
    ("status=delivered", "Unknown status. Choose one from the list."),
    ("date_from=yesterday", "Not a valid date value."),
    ("date_to=2024-02-30", "Not a valid date value."),
    ("mailing=abc", "There is no such mailing among yours."),
    ("mailing=999999", "There is no such mailing among yours."),
])
def test_bad_filter_is_explained_and_shows_nothing(client, db, owner, query, words):
    add_attempt(db, make_mailing(db, owner), datetime(2024, 3, 10, 12, tzinfo=UTC),
                response="250 hidden")

    response = client.get(f"/attempts/?{query}")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert words in page
    assert "The filter cannot be applied" in page and 'role="alert"' in page
    assert _rows(page) == [] and "250 hidden" not in page
    assert 'href="/attempts/export.csv' not in page


def test_someone_elses_mailing_in_the_filter_shows_nothing_of_theirs(client, db, owner, stranger):
    add_attempt(db, make_mailing(db, owner, subject="Mine"), datetime.now(UTC) - timedelta(hours=1),
                response="250 mine")
    theirs = make_mailing(db, stranger, subject="Secret plans")
    add_attempt(db, theirs, datetime.now(UTC) - timedelta(hours=1), response="250 secret")

    page = client.get(f"/attempts/?mailing={theirs.id}").get_data(as_text=True)
    export = client.get(f"/attempts/export.csv?mailing={theirs.id}")

    assert "There is no such mailing among yours." in page
    assert "Secret plans" not in page and "250 secret" not in page and "250 mine" not in page
    assert export.status_code == 302
    assert export.location == f"/attempts/?mailing={theirs.id}"


def test_pages_of_twenty_five_newest_first_keep_the_filter(client, db, owner):
    mailing = make_mailing(db, owner)
    start = datetime(2024, 5, 1, 12, tzinfo=UTC)
    for n in range(30):
        add_attempt(db, mailing, start + timedelta(days=n), response=f"250 run{n:02d}",
                    commit=False)
    db.session.commit()

    first = client.get("/attempts/?status=success").get_data(as_text=True)
    second = client.get("/attempts/?status=success&page=2").get_data(as_text=True)

    first_rows, second_rows = _rows(first), _rows(second)
    assert len(first_rows) == 25 and len(second_rows) == 5
    assert "250 run29" in first_rows[0] and "250 run05" in first_rows[-1]
    assert "250 run04" in second_rows[0] and "250 run00" in second_rows[-1]
    assert "Attempts: 30" in first
    assert 'href="/attempts/?status=success&amp;page=2"' in first


def test_a_page_past_the_end_offers_the_first(client, db, owner):
    add_attempt(db, make_mailing(db, owner), datetime.now(UTC) - timedelta(hours=1))

    page = client.get("/attempts/?status=success&page=9").get_data(as_text=True)

    assert "There are no attempts on this page." in page
    assert 'href="/attempts/?status=success"' in page


@pytest.mark.parametrize("viewer", ["owner", "manager"])
def test_list_runs_a_fixed_number_of_queries(app, client, db, make_user, auth, stranger, viewer):
    user = make_user(email="user@example.com",
                     role=Role.MANAGER if viewer == "manager" else Role.USER)
    auth.login()
    now = datetime.now(UTC).replace(microsecond=0)

    def add(count):
        for n in range(count):
            owner = user if n % 2 or viewer == "owner" else stranger
            add_attempt(db, make_mailing(db, owner, subject=f"Mailing {n}", clients=0),
                        now - timedelta(minutes=n))

    add(3)
    few = _statements_for(app, client, "/attempts/?status=success&date_from=2000-01-01")
    add(27)
    many = _statements_for(app, client, "/attempts/?status=success&date_from=2000-01-01")

    assert many == few
    assert len(_rows(client.get("/attempts/").get_data(as_text=True))) == 25


# --- CSV -------------------------------------------------------------------------------------

def test_export_is_csv_with_bom_in_the_viewers_zone_with_the_filter_applied(client, db, owner,
                                                                            stranger):
    mailing = make_mailing(db, owner, subject="Spring news")
    started = datetime(2024, 7, 1, 13, 0, tzinfo=UTC)
    add_attempt(db, mailing, started, status=AttemptStatus.PARTIAL, sent=8, failed=2,
                response="550 mailbox unavailable",
                occurrence=datetime(2024, 7, 1, 12, 59, tzinfo=UTC))
    add_attempt(db, mailing, started - timedelta(days=1), response="250 ok")
    add_attempt(db, make_mailing(db, stranger, subject="Theirs"), started,
                status=AttemptStatus.PARTIAL, response="550 theirs")

    response = client.get("/attempts/export.csv?status=partial")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="attempts-')
    rows = _csv(response)
    assert rows[0] == ["mailing_id", "subject", "owner_email", "occurrence", "started", "finished",
                       "status", "sent", "failed", "server_response"]
    assert rows[1:] == [[str(mailing.id), "Spring news", "user@example.com",
                         "2024-07-01T08:59:00-04:00", "2024-07-01T09:00:00-04:00",
                         "2024-07-01T09:01:00-04:00", "partial", "8", "2",
                         "550 mailbox unavailable"]]


def test_export_neutralises_formulas_from_the_mail_server(client, db, owner):
    mailing = make_mailing(db, owner, subject="@SUM(A1:A2)")
    add_attempt(db, mailing, datetime(2024, 7, 1, 13, tzinfo=UTC), status=AttemptStatus.FAILURE,
                response="=cmd|' /C calc'!A0")
    add_attempt(db, mailing, datetime(2024, 7, 2, 13, tzinfo=UTC), status=AttemptStatus.FAILURE,
                response="-2+3")

    rows = _csv(client.get("/attempts/export.csv"))

    assert [(row[1], row[9]) for row in rows[1:]] == [
        ("'@SUM(A1:A2)", "'-2+3"), ("'@SUM(A1:A2)", "'=cmd|' /C calc'!A0"),
    ]


def test_manager_export_has_every_owner(client, db, make_user, auth, stranger):
    make_user(email="boss@example.com", role=Role.MANAGER)
    add_attempt(db, make_mailing(db, stranger, subject="Theirs"), datetime(2024, 7, 1, tzinfo=UTC))
    auth.login("boss@example.com")

    rows = _csv(client.get("/attempts/export.csv"))

    assert [(row[1], row[2]) for row in rows[1:]] == [("Theirs", "stranger@example.com")]


def test_export_with_a_bad_filter_goes_back_to_the_explained_list(client, owner):
    response = client.get("/attempts/export.csv?date_from=2024-03-10&date_to=2024-03-01")

    assert response.status_code == 302
    assert response.location == "/attempts/?date_from=2024-03-10&date_to=2024-03-01"
    page = client.get(response.location).get_data(as_text=True)
    assert "The end date is before the start date." in page


# --- the deliveries' CSV: one row per letter ---------------------------------------------------

DELIVERY_HEADER = ["mailing_id", "subject", "owner_email", "attempt_id", "attempt_started",
                   "email", "full_name", "status", "time", "smtp_code", "server_reply",
                   "bounce", "bounced", "bounce_reason"]


def _recipients(db, mailing) -> list[Client]:
    return list(db.session.scalars(
        sa.select(Client).join(mailing_clients, mailing_clients.c.client_id == Client.id)
        .where(mailing_clients.c.mailing_id == mailing.id).order_by(Client.id)))


def add_letters(db, attempt, clients, status=DeliveryStatus.SENT, reply="250 2.0.0 OK", code=250,
                **fields):
    """A delivery of ``attempt`` to each of ``clients``, recorded a minute after it started."""
    for client in clients:
        DeliveryFactory(attempt=attempt, client=client, status=status, server_reply=reply,
                        smtp_code=code, created_at=attempt.started_at + timedelta(minutes=1),
                        **fields)
    db.session.commit()


def _read(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    return _csv(response)


def test_deliveries_export_has_a_row_per_letter_in_the_viewers_zone(client, db, owner):
    mailing = make_mailing(db, owner, subject="Spring news", clients=3)
    ann, bob, gone = _recipients(db, mailing)
    ann.full_name = "Ёлкина Анна"
    started = datetime(2024, 7, 1, 13, 0, tzinfo=UTC)
    attempt = add_attempt(db, mailing, started, status=AttemptStatus.PARTIAL, sent=2, failed=1)
    add_letters(db, attempt, [ann], bounce=Bounce.HARD, bounced_at=started + timedelta(hours=2),
                bounce_reason="550 5.1.1 no such user")
    add_letters(db, attempt, [bob], status=DeliveryStatus.FAILED, reply="=550 refused", code=550)
    add_letters(db, attempt, [gone])
    db.session.delete(gone)  # the history keeps the address, the name goes with the client
    db.session.commit()

    rows = _read(client.get("/attempts/deliveries.csv"))

    assert rows[0] == DELIVERY_HEADER
    attempt_cells = [str(mailing.id), "Spring news", "user@example.com", str(attempt.id),
                     "2024-07-01T09:00:00-04:00"]
    assert rows[1:] == [
        attempt_cells + [ann.email, "Ёлкина Анна", "sent", "2024-07-01T09:01:00-04:00", "250",
                         "250 2.0.0 OK", "hard", "2024-07-01T11:00:00-04:00",
                         "550 5.1.1 no such user"],
        attempt_cells + [bob.email, "Client 1", "failed", "2024-07-01T09:01:00-04:00", "550",
                         "'=550 refused", "", "", ""],
        attempt_cells + ["c2@%d.example.com" % owner.id, "", "sent", "2024-07-01T09:01:00-04:00",
                         "250", "250 2.0.0 OK", "", "", ""],
    ]


@pytest.mark.parametrize("attempts_at_once", [1, services.EXPORT_ATTEMPTS_AT_ONCE])
def test_deliveries_export_goes_attempt_by_attempt_in_the_order_letters_went(
        client, db, owner, monkeypatch, attempts_at_once):
    monkeypatch.setattr(services, "EXPORT_ATTEMPTS_AT_ONCE", attempts_at_once)
    first = make_mailing(db, owner, subject="First", clients=3)
    second = make_mailing(db, owner, subject="Second", clients=2)
    older = add_attempt(db, second, datetime(2024, 7, 1, tzinfo=UTC))
    newer = add_attempt(db, first, datetime(2024, 7, 2, tzinfo=UTC))
    add_letters(db, newer, list(reversed(_recipients(db, first))))
    add_letters(db, older, _recipients(db, second))

    rows = _read(client.get("/attempts/deliveries.csv"))[1:]

    assert [(row[3], row[5]) for row in rows] == (
        [(str(older.id), c.email) for c in _recipients(db, second)]
        + [(str(newer.id), c.email) for c in _recipients(db, first)])


def test_deliveries_export_keeps_to_the_attempts_the_filter_selects(client, db, owner):
    spring, autumn = (make_mailing(db, owner, subject=s, clients=2) for s in ("Spring", "Autumn"))
    partial = add_attempt(db, spring, datetime(2024, 3, 10, 12, tzinfo=UTC),
                          status=AttemptStatus.PARTIAL)
    success = add_attempt(db, spring, datetime(2024, 3, 11, 12, tzinfo=UTC),
                          occurrence=datetime(2024, 3, 11, 11, tzinfo=UTC))
    other = add_attempt(db, autumn, datetime(2024, 3, 10, 12, tzinfo=UTC),
                        status=AttemptStatus.PARTIAL)
    for attempt, mailing in ((partial, spring), (success, spring), (other, autumn)):
        add_letters(db, attempt, _recipients(db, mailing))

    def attempts_of(query: str) -> list[str]:
        return [row[3] for row in _read(client.get(f"/attempts/deliveries.csv?{query}"))[1:]]

    assert attempts_of(f"mailing={spring.id}") == [str(partial.id)] * 2 + [str(success.id)] * 2
    assert attempts_of("status=partial") == [str(partial.id)] * 2 + [str(other.id)] * 2
    assert attempts_of(f"mailing={spring.id}&date_from=2024-03-11") == [str(success.id)] * 2
    assert attempts_of("status=failure") == []


def test_deliveries_export_never_has_another_owners_letters(client, db, owner, stranger):
    mine = make_mailing(db, owner, subject="Mine")
    theirs = make_mailing(db, stranger, subject="Secret plans")
    for mailing in (mine, theirs):
        add_letters(db, add_attempt(db, mailing, datetime(2024, 7, 1, tzinfo=UTC)),
                    _recipients(db, mailing))

    rows = _read(client.get("/attempts/deliveries.csv"))
    refused = client.get(f"/attempts/deliveries.csv?mailing={theirs.id}")

    assert [row[1] for row in rows[1:]] == ["Mine"]
    assert f"@{stranger.id}.example.com" not in str(rows)
    assert refused.status_code == 302
    assert refused.location == f"/attempts/?mailing={theirs.id}"


def test_manager_deliveries_export_has_every_owner(client, db, make_user, auth, owner, stranger):
    make_user(email="boss@example.com", role=Role.MANAGER)
    for mailing in (make_mailing(db, owner, subject="Mine"),
                    make_mailing(db, stranger, subject="Theirs")):
        add_letters(db, add_attempt(db, mailing, datetime(2024, 7, 1, tzinfo=UTC)),
                    _recipients(db, mailing))
    auth.login("boss@example.com")

    rows = _read(client.get("/attempts/deliveries.csv"))

    assert sorted((row[1], row[2]) for row in rows[1:]) == [
        ("Mine", "user@example.com"), ("Theirs", "stranger@example.com")]


@pytest.mark.parametrize("query", ["date_from=2024-03-10&date_to=2024-03-01", "status=delivered",
                                   "mailing=abc"])
def test_deliveries_export_with_a_bad_filter_goes_back_to_the_explained_list(client, owner,
                                                                            query):
    response = client.get(f"/attempts/deliveries.csv?{query}")

    assert response.status_code == 302
    assert response.location == f"/attempts/?{query}"


def test_deliveries_export_is_a_streamed_download_never_stored(client, db, owner):
    mailing = make_mailing(db, owner)
    add_letters(db, add_attempt(db, mailing, datetime(2024, 7, 1, tzinfo=UTC)),
                _recipients(db, mailing))

    response = client.get("/attempts/deliveries.csv")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="deliveries-{date.today().isoformat()}.csv"')
    assert response.headers["Cache-Control"] == "no-store"
    assert response.is_streamed and "Content-Length" not in response.headers
    assert next(response.response) == ("\ufeff" + ",".join(DELIVERY_HEADER) + "\r\n").encode()
    response.close()


def test_deliveries_export_runs_a_fixed_number_of_queries(app, client, db, owner):
    def statements(url: str) -> int:
        counted = []
        listener = lambda *args: counted.append(1)  # noqa: E731
        sa.event.listen(sa.Engine, "before_cursor_execute", listener)
        try:
            rows = _read(client.get(url))
        finally:
            sa.event.remove(sa.Engine, "before_cursor_execute", listener)
        return len(counted), len(rows)

    mailing = make_mailing(db, owner, clients=60)
    add_letters(db, add_attempt(db, mailing, datetime(2024, 7, 1, tzinfo=UTC)),
                _recipients(db, mailing)[:2])
    few = statements("/attempts/deliveries.csv")
    for day in range(2, 12):
        add_letters(db, add_attempt(db, mailing, datetime(2024, 7, day, tzinfo=UTC)),
                    _recipients(db, mailing))
    many = statements("/attempts/deliveries.csv")

    assert few[1] == 3 and many[1] == 603  # past a batch of 500 rows
    assert many[0] == few[0]


def test_attempts_report_offers_the_deliveries_of_its_filter(client, db, owner):
    add_attempt(db, make_mailing(db, owner), datetime(2024, 7, 1, tzinfo=UTC),
                status=AttemptStatus.PARTIAL)

    page = client.get("/attempts/?status=partial").get_data(as_text=True)

    assert 'href="/attempts/deliveries.csv?status=partial"' in page
    assert "Export deliveries CSV" in page


def test_attempt_page_exports_that_attempts_letters(client, db, owner):
    mailing = make_mailing(db, owner, subject="Spring news", clients=2)
    attempt = add_attempt(db, mailing, datetime(2024, 7, 1, 13, tzinfo=UTC), sent=2)
    other = add_attempt(db, mailing, datetime(2024, 7, 8, 13, tzinfo=UTC), sent=2,
                        occurrence=datetime(2024, 7, 8, 12, tzinfo=UTC))
    add_letters(db, attempt, _recipients(db, mailing))
    add_letters(db, other, _recipients(db, mailing))
    url = f"/mailings/{mailing.id}/attempts/{attempt.id}/deliveries.csv"

    page = client.get(f"/mailings/{mailing.id}/attempts/{attempt.id}").get_data(as_text=True)
    response = client.get(url)

    assert f'href="{url}"' in page
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="attempt-{attempt.id}-deliveries-{date.today().isoformat()}.csv"')
    assert response.headers["Cache-Control"] == "no-store"
    rows = _read(response)
    assert rows[0] == DELIVERY_HEADER
    assert [(row[3], row[4], row[5]) for row in rows[1:]] == [
        (str(attempt.id), "2024-07-01T09:00:00-04:00", c.email) for c in _recipients(db, mailing)]


def test_another_owners_attempt_has_no_export(client, db, owner, stranger):
    mine = make_mailing(db, owner)
    theirs = make_mailing(db, stranger)
    their_attempt = add_attempt(db, theirs, datetime(2024, 7, 1, tzinfo=UTC))
    add_letters(db, their_attempt, _recipients(db, theirs))

    assert client.get(f"/mailings/{theirs.id}/attempts/{their_attempt.id}/deliveries.csv"
                      ).status_code == 404
    assert client.get(f"/mailings/{mine.id}/attempts/{their_attempt.id}/deliveries.csv"
                      ).status_code == 404


# --- a mailing's statistics ------------------------------------------------------------------

def test_mailing_stats_are_counted_in_the_viewers_days(app, db, owner, stranger):
    mailing = make_mailing(db, owner)
    now = datetime(2024, 7, 31, 12, 0, tzinfo=MOSCOW)
    # 00:30 in Moscow on 30 July is still 29 July in UTC: it counts on the 30th.
    add_attempt(db, mailing, datetime(2024, 7, 30, 0, 30, tzinfo=MOSCOW), sent=5, failed=1,
                status=AttemptStatus.PARTIAL, response="550 one refused")
    add_attempt(db, mailing, datetime(2024, 7, 30, 23, 30, tzinfo=MOSCOW), sent=3, failed=0)
    add_attempt(db, mailing, datetime(2024, 7, 28, 10, 0, tzinfo=MOSCOW), sent=0, failed=4,
                status=AttemptStatus.FAILURE, response="421 try later")
    # Outside the 30 days, but in the totals.
    add_attempt(db, mailing, datetime(2024, 6, 1, 10, 0, tzinfo=MOSCOW), sent=10, failed=0)
    # Still sending: a run, not yet finished; its last response is not the mailing's.
    add_attempt(db, mailing, datetime(2024, 7, 31, 11, 0, tzinfo=MOSCOW), sent=2, failed=0,
                status=AttemptStatus.SENDING, response="")
    add_attempt(db, make_mailing(db, stranger), datetime(2024, 7, 30, 12, tzinfo=MOSCOW), sent=99)

    with app.app_context():
        stats = services.mailing_stats(mailing.id, "Europe/Moscow", now=now)

    assert (stats.runs, stats.finished_runs, stats.successful_runs) == (5, 4, 2)
    assert stats.success_rate == 0.5
    assert (stats.sent, stats.failed) == (20, 5)
    assert stats.last_response == "250 OK"  # the 23:30 run finished last
    assert len(stats.days) == 30
    assert stats.days[0].day == date(2024, 7, 2) and stats.days[-1].day == date(2024, 7, 31)
    busy = {d.day: (d.sent, d.failed) for d in stats.days if d.total}
    assert busy == {date(2024, 7, 28): (0, 4), date(2024, 7, 30): (8, 1), date(2024, 7, 31): (2, 0)}
    assert stats.chart_max == 10


def test_stats_of_a_mailing_that_never_ran(app, db, owner):
    mailing = make_mailing(db, owner)

    with app.app_context():
        stats = services.mailing_stats(mailing.id, "UTC")

    assert (stats.runs, stats.sent, stats.failed, stats.last_response) == (0, 0, 0, None)
    assert stats.success_rate is None and stats.days_sent == 0


def _bars(page: str) -> dict[str, dict[str, float]]:
    bars = {}
    for day, group in re.findall(r'<g class="chart-day" data-day="([\d-]+)">(.*?)</g>', page, re.S):
        bars[day] = {kind: float(height) for kind, height in
                     re.findall(r'class="bar-(sent|failed)"[^>]*height="([\d.]+)"', group)}
    return bars


def test_mailing_page_shows_the_figures_and_a_chart_of_the_days(client, db, owner):
    mailing = make_mailing(db, owner)
    today = datetime.now(NEW_YORK).date()
    two_days_ago, five_days_ago = today - timedelta(days=2), today - timedelta(days=5)
    add_attempt(db, mailing, datetime.combine(two_days_ago, time(12), NEW_YORK), sent=8, failed=2,
                status=AttemptStatus.PARTIAL, response="550 two refused")
    add_attempt(db, mailing, datetime.combine(five_days_ago, time(9), NEW_YORK), sent=4, failed=0)

    page = client.get(f"/mailings/{mailing.id}").get_data(as_text=True)

    figures = page.split('class="mailing-stats', 1)[1].split("<svg", 1)[0]
    assert re.search(r'stats-runs">2<', figures)
    assert re.search(r'stats-success-rate">50%', figures)
    assert re.search(r'stats-sent">12<', figures) and re.search(r'stats-failed">2<', figures)
    assert "550 two refused" in figures
    svg = page.split('<svg class="mailing-chart-svg"', 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in svg and 'aria-label="Sent and failed e-mails per day' in svg
    assert 'viewBox="0 0 400 152"' in svg and 'width="100%"' in svg
    assert ("<title>Sent and failed e-mails per day over the last 30 days "
            "(time zone America/New_York): 12 sent, 2 failed.</title>") in svg
    # The scale tops at 10: 8 sent is 96 of 120 units, 2 failed 24, 4 sent 48.
    assert _bars(page) == {two_days_ago.isoformat(): {"sent": 96.0, "failed": 24.0},
                           five_days_ago.isoformat(): {"sent": 48.0}}
    assert "8 sent, 2 failed</title>" in svg and "4 sent, 0 failed</title>" in svg
    assert "sent</li>" in page and "failed</li>" in page  # the legend


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_charts_day_labels_follow_the_users_language(client, db, owner, language):
    owner.language = language
    mailing = make_mailing(db, owner)
    add_attempt(db, mailing, datetime.now(NEW_YORK) - timedelta(hours=1), sent=1, failed=0)
    today = datetime.now(NEW_YORK).date()

    svg = client.get(f"/mailings/{mailing.id}").get_data(as_text=True).split("<svg", 1)[1]

    last_label = re.findall(r'text-anchor="end">([^<]+)</text>', svg)[-1]  # today, at the right edge
    expected = {"en": rf"{today:%b} {today.day}", "ru": rf"{today.day} [а-я]{{3,4}}\.?"}[language]
    assert re.fullmatch(expected, last_label), last_label


def test_mailing_page_without_sends_says_so_and_draws_no_chart(client, db, owner):
    mailing = make_mailing(db, owner)

    page = client.get(f"/mailings/{mailing.id}").get_data(as_text=True)

    assert "Nothing was sent in the last 30 days." in page
    assert "<svg class=\"mailing-chart-svg\"" not in page


def test_report_pages_need_no_inline_style_or_script(client, db, owner):
    mailing = make_mailing(db, owner)
    add_attempt(db, mailing, datetime.now(UTC) - timedelta(hours=1), sent=3, failed=1)

    for url in ("/attempts/", "/attempts/?date_from=x", f"/mailings/{mailing.id}"):
        page = client.get(url).get_data(as_text=True)
        assert " style=" not in page, url
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), url


def test_the_mailing_filter_searches_the_owners_mailings_only(client, db, owner, stranger):
    spring = make_mailing(db, owner, subject="Spring offers")
    make_mailing(db, owner, subject="Autumn news")
    make_mailing(db, stranger, subject="Spring secrets")

    found = client.get("/attempts/mailings.json?q=SPRING").get_json()["results"]
    everything = client.get("/attempts/mailings.json").get_json()["results"]

    assert found == [{"id": spring.id, "text": f"Spring offers (#{spring.id})"}]
    assert [item["text"].split(" (#")[0] for item in everything] == ["Autumn news", "Spring offers"]
    assert client.get("/attempts/mailings.json?q=stranger@").get_json()["results"] == []


def test_the_report_holds_only_the_chosen_mailing_however_many_there_are(client, db, owner):
    mailings = [make_mailing(db, owner, subject=f"Issue {n}") for n in range(60)]

    page = client.get(f"/attempts/?mailing={mailings[7].id}").get_data(as_text=True)
    plain = client.get("/attempts/").get_data(as_text=True)

    def offered(html: str) -> list[str]:
        select = re.search(r'<select[^>]*name="mailing".*?</select>', html, re.S).group(0)
        return re.findall(r'<option[^>]*value="(\d*)"', select)

    assert offered(page) == ["", str(mailings[7].id)]
    assert f"Issue 7 (#{mailings[7].id})" in page and "Issue 8" not in page
    assert offered(plain) == [""]
    assert 'data-mailing-search="/attempts/mailings.json"' in page
    assert len(client.get("/attempts/mailings.json").get_json()["results"]) == 50
