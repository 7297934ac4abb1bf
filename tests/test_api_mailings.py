"""Messages, mailings and their reports through the API, as an integration drives them: the same
rules and words as the web forms, the same wall-clock window, the same history."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from mailer.models import (AttemptStatus, Client, DeliveryStatus, Mailing, MailingStatus, Message,
                           mailing_clients)
from tests.api_support import ApiCaller, problem_of, token_for
from tests.factories import AttemptFactory, ClientFactory, DeliveryFactory
from tests.workspace import make_mailing, make_material


@pytest.fixture
def user(make_user):
    return make_user(email="user@example.com", timezone="America/New_York", language="en")


@pytest.fixture
def api(client, user):
    return ApiCaller(client, token_for(user))


def recipients(db, mailing_id: int) -> set[int]:
    db.session.expire_all()
    return set(db.session.scalars(sa.select(mailing_clients.c.client_id)
                                  .where(mailing_clients.c.mailing_id == mailing_id)))


def new_mailing(api, message_id: int, **fields) -> dict:
    body = {"message_id": message_id, "all_clients": True, "frequency": "weekly",
            "start_at": "2030-03-10T09:00", "end_at": "2030-06-01T09:00", **fields}
    response = api.post("/mailings", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_a_message_is_written_previewed_for_a_client_changed_and_deleted(api, db, user):
    client = ClientFactory(owner=user, email="ann@example.com", full_name="Ann")
    db.session.commit()

    made = api.post("/messages", json={"subject": "News for {{ client.full_name }}",
                                       "body": "Hello, **{{ client.full_name }}**!"})
    shown = api.get(f"/messages/{made.get_json()['id']}/preview?client_id={client.id}").get_json()
    changed = api.patch(f"/messages/{made.get_json()['id']}", json={"subject": "Spring"}).get_json()
    deleted = api.delete(f"/messages/{made.get_json()['id']}")

    assert made.status_code == 201 and made.headers["Location"].endswith(f"/messages/{made.get_json()['id']}")
    assert shown["subject"] == "News for Ann" and "Hello, **Ann**!" in shown["text"]
    assert "<strong>Ann</strong>" in shown["html"] and shown["problem"] is None
    assert changed["subject"] == "Spring" and changed["body"] == "Hello, **{{ client.full_name }}**!"
    assert deleted.status_code == 204 and db.session.get(Message, made.get_json()["id"]) is None


def test_a_message_with_an_unknown_placeholder_is_refused_in_the_forms_words(api, db):
    problem = problem_of(api.post("/messages", json={"subject": "Hi", "body": "Dear {{ client.nickname }}"}), 422)

    assert problem["errors"] == [{"detail": "Unknown placeholder “client.nickname”. Use {{ client.full_name }} "
                                            "or {{ client.email }}.", "pointer": "#/body"}]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 0


def test_a_message_a_mailing_uses_cannot_be_deleted(api, db, user):
    mailing = make_mailing(db, user)

    problem = problem_of(api.delete(f"/messages/{mailing.message_id}"), 409)

    assert problem["detail"] == "This message is used by 1 mailing(s). Change or delete them first."
    assert db.session.get(Message, mailing.message_id) is not None


def test_a_window_without_an_offset_is_the_owners_wall_clock_and_one_with_an_offset_is_converted(api, db, user):
    message, _clients = make_material(db, user)

    local = new_mailing(api, message.id)
    offset = new_mailing(api, message.id, start_at="2030-03-10T09:00:00+01:00", timezone="Europe/Berlin")

    # 09:00 in New York in March 2030 (summer time) is 13:00 UTC; 09:00+01:00 is 08:00 UTC.
    assert local["start_at"] == "2030-03-10T13:00:00+00:00" and local["timezone"] == "America/New_York"
    assert offset["start_at"] == "2030-03-10T08:00:00+00:00" and offset["timezone"] == "Europe/Berlin"
    assert local["status"] == "created" and local["frequency"] == "weekly" and local["recipient_count"] == 3


def test_a_mailing_whose_window_ends_before_it_starts_is_refused_in_the_forms_words(api, db, user):
    message, _clients = make_material(db, user)

    problem = problem_of(api.post("/mailings", json={
        "message_id": message.id, "all_clients": True, "frequency": "daily",
        "start_at": "2030-03-10T09:00", "end_at": "2030-03-01T09:00"}), 422)

    assert problem["errors"] == [{"detail": "The end must be after the start.", "pointer": "#/end_at"}]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Mailing)) == 0


def test_someone_elses_message_or_client_cannot_be_mailed(api, db, user, make_user):
    stranger = make_user(email="stranger@example.com")
    their_message, their_clients = make_material(db, stranger, name="Stranger")
    message, _clients = make_material(db, user)

    with_their_message = problem_of(api.post("/mailings", json={
        "message_id": their_message.id, "all_clients": True, "frequency": "daily",
        "start_at": "2030-03-10T09:00", "end_at": "2030-04-10T09:00"}), 422)
    with_their_client = problem_of(api.post("/mailings", json={
        "message_id": message.id, "client_ids": [their_clients[0].id], "frequency": "daily",
        "start_at": "2030-03-10T09:00", "end_at": "2030-04-10T09:00"}), 422)

    assert with_their_message["errors"][0]["pointer"] == "#/message_id"
    assert with_their_client["errors"][0]["pointer"] == "#/client_ids"


def test_a_patch_keeps_the_clients_unless_it_names_them(api, db, user):
    message, clients = make_material(db, user)
    made = new_mailing(api, message.id, all_clients=False, client_ids=[clients[0].id, clients[1].id])
    later = ClientFactory(owner=user, email="later@example.com")
    db.session.commit()

    daily = api.patch(f"/mailings/{made['id']}", json={"frequency": "daily"}).get_json()
    kept = recipients(db, made["id"])
    one = api.patch(f"/mailings/{made['id']}", json={"client_ids": [clients[2].id]}).get_json()
    named = recipients(db, made["id"])
    everyone = api.patch(f"/mailings/{made['id']}", json={"all_clients": True}).get_json()

    assert daily["frequency"] == "daily" and daily["start_at"] == made["start_at"]
    assert kept == {clients[0].id, clients[1].id}
    assert one["recipient_count"] == 1 and named == {clients[2].id}
    assert everyone["recipient_count"] == 4 and later.id in recipients(db, made["id"])


def test_pause_and_resume_change_the_status_and_the_next_occurrences(api, db, user):
    message, _clients = make_material(db, user)
    made = new_mailing(api, message.id)

    upcoming = api.get(f"/mailings/{made['id']}/next-occurrences?count=3").get_json()["occurrences"]
    paused = api.post(f"/mailings/{made['id']}/pause").get_json()
    while_paused = api.get(f"/mailings/{made['id']}/next-occurrences").get_json()["occurrences"]
    resumed = api.post(f"/mailings/{made['id']}/resume").get_json()

    assert upcoming == ["2030-03-10T13:00:00+00:00", "2030-03-17T13:00:00+00:00", "2030-03-24T13:00:00+00:00"]
    assert paused["status"] == "paused" and while_paused == []
    assert resumed["status"] == "created"


def test_a_stopped_mailing_cannot_be_resumed_or_changed(api, db, user):
    mailing = make_mailing(db, user, status=MailingStatus.STOPPED)

    resumed = problem_of(api.post(f"/mailings/{mailing.id}/resume"), 409)
    changed = problem_of(api.patch(f"/mailings/{mailing.id}", json={"frequency": "daily"}), 422)

    assert resumed["status"] == 409 and changed["detail"] == "A stopped mailing cannot be changed."
    db.session.expire_all()
    assert db.session.get(Mailing, mailing.id).status is MailingStatus.STOPPED


def test_a_test_send_reaches_the_owner_personalised_for_the_mailings_first_client(api, db, user, smtp_sink):
    mailing = make_mailing(db, user, clients=2)

    answer = api.post(f"/mailings/{mailing.id}/test-send").get_json()

    (letter,) = smtp_sink.wait_for(1)
    assert answer == {"to": "user@example.com", "sent": True, "reply": answer["reply"]}
    assert letter.envelope_to == ["user@example.com"]


def test_the_reports_list_an_attempt_its_letters_and_the_same_csv_as_the_page(api, db, user):
    mailing = make_mailing(db, user, clients=2)
    first, second = db.session.scalars(sa.select(Client).where(Client.owner_id == user.id).order_by(Client.id))
    attempt = AttemptFactory(mailing=mailing, occurrence_at=mailing.start_at, status=AttemptStatus.PARTIAL,
                             sent_count=1, failed_count=1,
                             started_at=datetime(2030, 3, 10, 13, 0, tzinfo=timezone.utc),
                             finished_at=datetime(2030, 3, 10, 13, 1, tzinfo=timezone.utc))
    DeliveryFactory(attempt=attempt, client=first, status=DeliveryStatus.SENT, server_reply="250 OK", smtp_code=250)
    DeliveryFactory(attempt=attempt, client=second, status=DeliveryStatus.FAILED,
                    server_reply="550 5.1.1 User unknown", smtp_code=550)
    db.session.commit()

    listed = api.get(f"/attempts?mailing_id={mailing.id}&status=partial&date_from=2030-03-10").get_json()
    other_day = api.get("/attempts?date_from=2030-03-11").get_json()
    letters = api.get(f"/attempts/{attempt.id}/deliveries").get_json()["items"]
    exported = api.get(f"/attempts/{attempt.id}/deliveries.csv")

    assert [item["id"] for item in listed["items"]] == [attempt.id] and other_day["items"] == []
    assert [(d["email"], d["status"], d["smtp_code"]) for d in letters] == [
        (second.email, "failed", 550), (first.email, "sent", 250)]
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert exported.mimetype == "text/csv" and {row["email"] for row in rows} == {first.email, second.email}


def test_a_days_report_counts_days_in_the_owners_zone(api, db, user):
    mailing = make_mailing(db, user)
    # 02:00 UTC on 11 March is still 10 March in New York.
    attempt = AttemptFactory(mailing=mailing, occurrence_at=mailing.start_at,
                             started_at=datetime(2030, 3, 11, 2, 0, tzinfo=timezone.utc))
    db.session.commit()

    tenth = api.get("/attempts?date_from=2030-03-10&date_to=2030-03-10").get_json()["items"]

    assert [item["id"] for item in tenth] == [attempt.id]
