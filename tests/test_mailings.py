"""Mailings: create/edit/delete, schedule shown in the user's zone, status changes, scoping."""
import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from mailer.models import (AttemptStatus, Client, Frequency, Mailing, MailingStatus, Message, mailing_clients)
from mailer.signals import mailing_changed
from tests.conftest import submit
from tests.workspace import create, form_data, make_mailing, make_material
from tests.factories import AttemptFactory, ClientFactory, MessageFactory


@pytest.fixture
def material(db, owner):
    return make_material(db, owner, name="Client")


@contextmanager
def changes_recorded():
    seen = []

    def record(sender, mailing, change):
        seen.append((mailing.id, change))

    with mailing_changed.connected_to(record):
        yield seen


def test_user_sets_up_a_mailing_and_sees_the_next_five_sends_in_their_zone(client, db, owner, material):
    message, clients = material

    page = create(client, form_data(message, clients)).get_data(as_text=True)

    assert "Mailing saved." in page
    mailing = db.session.scalar(sa.select(Mailing))
    assert mailing.owner_id == owner.id and mailing.status is MailingStatus.CREATED
    assert mailing.timezone == "America/New_York"
    assert mailing.start_at == datetime(2027, 3, 10, 14, 0, tzinfo=timezone.utc)  # 09:00 EST
    assert sorted(db.session.scalars(sa.select(mailing_clients.c.client_id))) == [c.id for c in clients]
    times = page.split('class="next-send-times"', 1)[1].split("</ol>", 1)[0]
    # Across the US DST change on 14 March 2027 the wall-clock time stays 9:00 AM.
    for day in ("March 10, 2027", "March 17, 2027", "March 24, 2027", "March 31, 2027", "April 7, 2027"):
        assert day in times
    assert times.count("9:00:00\u202fAM") == 5 or times.count("9:00:00 AM") == 5
    assert "Eastern Standard Time" in times and "Eastern Daylight Time" in times


def test_monthly_schedule_keeps_the_day_clamped(client, db, owner, material):
    message, clients = material

    page = create(client, form_data(message, clients, start_at="2027-01-31T10:30",
                                    end_at="2027-12-31T10:30", frequency="monthly")).get_data(as_text=True)

    times = page.split('class="next-send-times"', 1)[1].split("</ol>", 1)[0]
    for day in ("January 31, 2027", "February 28, 2027", "March 31, 2027", "April 30, 2027", "May 31, 2027"):
        assert day in times


def test_all_clients_option_takes_every_client(client, db, owner, material):
    message, clients = material

    create(client, form_data(message, [], all_clients="y"))

    assert len(db.session.scalars(sa.select(mailing_clients.c.client_id)).all()) == 3


@pytest.mark.parametrize("changes, words", [
    ({"end_at": "2027-03-01T09:00"}, "The end must be after the start."),
    ({"end_at": "2027-03-10T09:00"}, "The end must be after the start."),
    ({"start_at": "2020-01-01T09:00", "end_at": "2020-02-01T09:00"}, "its end is already in the past"),
    ({"client_ids": []}, "Choose at least one client."),
    ({"frequency": "hourly"}, "Choose how often to send."),
    ({"start_at": "not a date"}, "Not a valid datetime value."),
    ({"end_at": ""}, "Enter the end date and time."),
    ({"message_id": ""}, "Choose one of your messages."),
    # Found by tests/test_form_fuzzing.py; each answered 500.
    ({"message_id": "2147483648"}, "Choose one of your messages."),  # beyond INTEGER ids
    ({"client_ids": ["1", "99999999999999"]}, "Some of the chosen clients do not exist"),
    ({"end_at": "9999-12-31T23:59"}, "This date is too far in the past or in the future."),  # UTC: year 10000
])
def test_bad_mailing_input_is_explained_and_nothing_is_saved(client, db, owner, material, changes, words):
    message, clients = material

    with changes_recorded() as seen:
        page = create(client, form_data(message, clients, **changes)).get_data(as_text=True)

    assert words in page
    assert db.session.scalar(sa.select(sa.func.count(Mailing.id))) == 0
    assert seen == []


def test_someone_elses_ids_in_the_post_are_refused(client, db, owner, material, make_user):
    message, clients = material
    stranger = make_user(email="stranger@example.com")
    foreign_message = MessageFactory(owner=stranger, subject="Theirs", body="x")
    foreign_client = ClientFactory(owner=stranger, email="theirs@example.com")
    db.session.commit()

    wrong_message = create(client, form_data(foreign_message, clients)).get_data(as_text=True)
    wrong_client = create(client, form_data(message, [*clients, foreign_client])).get_data(as_text=True)

    assert "Choose one of your messages." in wrong_message
    assert "Some of the chosen clients do not exist" in wrong_client
    assert db.session.scalar(sa.select(sa.func.count(Mailing.id))) == 0


def test_edit_moves_the_schedule_and_replaces_the_clients(client, db, owner, material):
    message, clients = material
    create(client, form_data(message, clients))
    mailing = db.session.scalar(sa.select(Mailing))

    with changes_recorded() as seen:
        submit(client, f"/mailings/{mailing.id}/edit",
               form_data(message, clients[:1], start_at="2027-04-01T18:15", frequency="daily"))

    db.session.expire_all()
    assert mailing.start_at == datetime(2027, 4, 1, 22, 15, tzinfo=timezone.utc)  # 18:15 EDT
    assert mailing.frequency.value == "daily"
    assert db.session.scalars(sa.select(mailing_clients.c.client_id)).all() == [clients[0].id]
    assert seen == [(mailing.id, "updated")]


def test_edit_form_shows_the_saved_values(client, db, owner, material):
    message, clients = material
    create(client, form_data(message, clients[:2]))
    mailing = db.session.scalar(sa.select(Mailing))

    page = client.get(f"/mailings/{mailing.id}/edit").get_data(as_text=True)

    assert 'value="2027-03-10T09:00"' in page and 'value="2027-06-01T09:00"' in page
    assert "Client 0 &lt;c0@example.com&gt;" in page and "c2@example.com" not in page
    assert 'id="all_clients" name="all_clients" type="checkbox" value="y">' in page
    assert "America/New_York" in page


def test_edit_form_of_a_mailing_to_every_client_ticks_all_clients(client, db, owner, material):
    message, clients = material
    create(client, form_data(message, clients))
    mailing = db.session.scalar(sa.select(Mailing))

    page = client.get(f"/mailings/{mailing.id}/edit").get_data(as_text=True)

    assert 'checked class="form-check-input" id="all_clients"' in page
    assert "c0@example.com" not in page


def test_bad_edit_changes_nothing(client, db, owner, material):
    message, clients = material
    create(client, form_data(message, clients))
    mailing = db.session.scalar(sa.select(Mailing))
    before = (mailing.start_at, mailing.end_at)

    page = submit(client, f"/mailings/{mailing.id}/edit",
                  form_data(message, [], end_at="2027-01-01T00:00"), follow_redirects=True)

    assert "The end must be after the start." in page.get_data(as_text=True)
    db.session.expire_all()
    assert (mailing.start_at, mailing.end_at) == before
    assert len(db.session.scalars(sa.select(mailing_clients.c.client_id)).all()) == 3


def test_pause_and_resume(client, db, owner):
    mailing = make_mailing(db, owner)

    with changes_recorded() as seen:
        paused = submit(client, f"/mailings/{mailing.id}/pause", {}, form_url="/mailings/",
                        follow_redirects=True).get_data(as_text=True)
        db.session.expire_all()
        assert mailing.status is MailingStatus.PAUSED
        assert "No sends are scheduled." in paused
        submit(client, f"/mailings/{mailing.id}/resume", {}, form_url="/mailings/")

    db.session.expire_all()
    assert mailing.status is MailingStatus.CREATED
    assert seen == [(mailing.id, "paused"), (mailing.id, "resumed")]


def test_resume_after_attempts_goes_back_to_running(client, db, owner):
    mailing = make_mailing(db, owner, status=MailingStatus.PAUSED)
    AttemptFactory(mailing=mailing, occurrence_at=mailing.start_at, status=AttemptStatus.SUCCESS)
    db.session.commit()

    submit(client, f"/mailings/{mailing.id}/resume", {}, form_url="/mailings/")

    db.session.expire_all()
    assert mailing.status is MailingStatus.RUNNING


def test_stopped_mailing_shows_why_and_cannot_be_resumed_or_edited(client, db, owner, material):
    message, clients = material
    mailing = make_mailing(db, owner, status=MailingStatus.STOPPED)
    mailing.stop_reason = "Spam complaints"
    db.session.commit()

    detail = client.get(f"/mailings/{mailing.id}").get_data(as_text=True)
    resumed = submit(client, f"/mailings/{mailing.id}/resume", {}, form_url="/mailings/",
                     follow_redirects=True).get_data(as_text=True)
    edited = submit(client, f"/mailings/{mailing.id}/edit", form_data(message, clients),
                    follow_redirects=True).get_data(as_text=True)

    assert "A manager stopped this mailing" in detail and "Spam complaints" in detail
    assert "Resume" not in detail.split("</h1>", 1)[1].split("<div class=\"alert", 1)[0]
    assert "cannot be resumed" in resumed
    assert "A stopped mailing cannot be changed." in edited
    db.session.expire_all()
    assert mailing.status is MailingStatus.STOPPED


def test_editing_a_finished_mailing_with_a_new_end_starts_it_again(client, db, owner, material):
    message, clients = material
    mailing = make_mailing(db, owner, status=MailingStatus.FINISHED)

    submit(client, f"/mailings/{mailing.id}/edit", form_data(message, clients))

    db.session.expire_all()
    assert mailing.status is MailingStatus.CREATED


def test_delete_mailing_keeps_message_and_clients(client, db, owner):
    mailing_id = make_mailing(db, owner, clients=2).id

    with changes_recorded() as seen:
        submit(client, f"/mailings/{mailing_id}/delete", {}, form_url="/mailings/")

    assert db.session.scalar(sa.select(sa.func.count(Mailing.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(Client.id))) == 2
    assert seen == [(mailing_id, "deleted")]


def test_every_create_sends_one_change_signal(client, db, owner, material):
    message, clients = material

    with changes_recorded() as seen:
        create(client, form_data(message, clients))

    mailing = db.session.scalar(sa.select(Mailing))
    assert seen == [(mailing.id, "created")]


@pytest.mark.parametrize("method, path", [
    ("get", "/mailings/{id}"), ("get", "/mailings/{id}/edit"), ("post", "/mailings/{id}/edit"),
    ("post", "/mailings/{id}/pause"), ("post", "/mailings/{id}/resume"), ("post", "/mailings/{id}/delete"),
])
def test_another_users_mailing_is_404(client, db, make_user, auth, method, path):
    stranger = make_user(email="stranger@example.com")
    mailing = make_mailing(db, stranger)
    make_user(email="user@example.com")
    auth.login()

    url = path.format(id=mailing.id)
    response = client.get(url) if method == "get" else submit(client, url, {}, form_url="/mailings/")

    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Mailing, mailing.id).status is MailingStatus.CREATED


def test_list_shows_status_next_send_and_last_attempt(client, db, owner):
    mailing = make_mailing(db, owner, subject="Listed mailing", status=MailingStatus.RUNNING)
    AttemptFactory(mailing=mailing, occurrence_at=mailing.start_at - timedelta(days=7),
                   status=AttemptStatus.PARTIAL, sent_count=3, failed_count=1)
    db.session.commit()

    page = client.get("/mailings/").get_data(as_text=True)

    assert "Listed mailing" in page and "running" in page and "partial" in page


def _statements_for(app, client, url) -> int:
    from mailer.extensions import db as ext_db

    count = 0

    def before(*args, **kwargs):
        nonlocal count
        count += 1

    with app.app_context():
        engine = ext_db.engine
    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
    return count


@pytest.mark.parametrize("url", ["/mailings/", "/messages/"])
def test_lists_run_a_fixed_number_of_queries(app, client, db, owner, url):
    make_mailing(db, owner)
    few = _statements_for(app, client, url)
    for n in range(20):
        mailing = make_mailing(db, owner, subject=f"Mailing {n}", clients=2)
        AttemptFactory(mailing=mailing, occurrence_at=mailing.start_at, status=AttemptStatus.SUCCESS)
    db.session.commit()

    many = _statements_for(app, client, url)

    assert many == few


def test_empty_list_says_what_to_do(client, owner):
    page = client.get("/mailings/").get_data(as_text=True)

    assert "No mailings yet" in page and 'href="/mailings/new"' in page


def test_start_in_the_past_with_the_window_open_is_accepted(client, db, owner, material):
    message, clients = material
    zone = ZoneInfo("America/New_York")
    start = (datetime.now(zone) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    end = (datetime.now(zone) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")

    page = create(client, form_data(message, clients, start_at=start, end_at=end,
                                    frequency="weekly")).get_data(as_text=True)

    assert "Mailing saved." in page
    assert db.session.scalar(sa.select(sa.func.count(Mailing.id))) == 1


def test_edit_that_leaves_no_send_time_is_refused(client, db, owner, material):
    """The last occurrence before the new end was already sent: nothing would ever go out."""
    message, clients = material
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(days=3)
    mailing = make_mailing(db, owner, start=start, days=30, frequency=Frequency.WEEKLY,
                           zone="America/New_York", status=MailingStatus.RUNNING)
    AttemptFactory(mailing=mailing, occurrence_at=start, status=AttemptStatus.SUCCESS)
    db.session.commit()
    zone = ZoneInfo("America/New_York")
    new_end = (datetime.now(zone) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    page = submit(client, f"/mailings/{mailing.id}/edit",
                  form_data(message, clients, start_at=start.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
                            end_at=new_end), follow_redirects=True).get_data(as_text=True)

    assert "No send time is left before the end" in page
    db.session.expire_all()
    assert mailing.end_at == start + timedelta(days=30)


def test_a_new_mailing_starts_with_no_message_chosen(client, db, owner, material):
    """A required select begins on an empty option: nobody sends a message they did not pick."""
    message, clients = material

    form = client.get("/mailings/new").get_data(as_text=True)
    refused = create(client, form_data(message, clients, message_id="")).get_data(as_text=True)

    options = re.findall(r"<option[^>]*>[^<]*</option>", form.split('id="message_id"')[1].split("</select>")[0])
    assert options[0] == '<option selected value="">Choose a message</option>'
    assert any(f'value="{message.id}"' in option and "selected" not in option for option in options[1:])
    assert refused.count("Choose one of your messages.") == 1 and "coerce" not in refused
