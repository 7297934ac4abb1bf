"""The HTTP API as a program using it sees it: clients made, read, listed a page at a time,
changed and deleted; bulk upserts all or nothing; bad input as problem documents that change
nothing; answers in the caller's language; ETags; Idempotency-Key on creating and sending;
a budget per token; tokens revoked, expired and noted when used; a manager's token; and the
OpenAPI document."""
from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from mailer import api_tokens
from mailer.models import (ApiToken, Attempt, AttemptStatus, Client, IdempotentRequest, Mailing, MailingStatus,
                           Message, Role, mailing_clients, utcnow)
from mailer.scheduling.task_manager import TaskManager
from tests.api_support import ApiCaller, problem_of, token_for
from tests.factories import ClientFactory
from tests.workspace import make_mailing, make_material

DUPLICATE = "You already have a client with this e-mail."
DUPLICATE_RU = "У вас уже есть клиент с такой почтой."  # mailer/translations/ru/LC_MESSAGES/messages.po
NUL_MESSAGE = "The text contains a NUL character (U+0000), which cannot be saved. Remove it."
API_BLUEPRINTS = ("api_clients", "api_messages", "api_mailings", "api_reports", "api_manager")


@pytest.fixture
def user(make_user):
    return make_user(email="user@example.com", full_name="Olivia Owner", timezone="America/New_York",
                     language="en")


@pytest.fixture
def api(client, user):
    return ApiCaller(client, token_for(user))


def stored(db) -> dict:
    """What a refused request must leave as it was."""
    db.session.expire_all()
    return {
        "clients": db.session.execute(sa.select(Client.id, Client.email, Client.full_name, Client.comment,
                                                Client.unsubscribed_at).order_by(Client.id)).all(),
        "messages": db.session.execute(sa.select(Message.id, Message.subject, Message.body)
                                       .order_by(Message.id)).all(),
        "mailings": db.session.execute(sa.select(Mailing.id, Mailing.status, Mailing.message_id,
                                                 Mailing.start_at, Mailing.end_at).order_by(Mailing.id)).all(),
        "recipients": db.session.execute(sa.select(mailing_clients).order_by(*mailing_clients.c)).all(),
        "attempts": db.session.execute(sa.select(Attempt.id)).all(),
    }


def count(db, model) -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def refused(api, db, method: str, path: str, status: int, **kwargs) -> dict:
    """Send a request that must be refused: its problem document, the database unchanged."""
    before = stored(db)
    body = problem_of(api.open(method, path, **kwargs), status)
    assert stored(db) == before
    return body


def new_client(api, email="ada@example.com", **fields) -> dict:
    response = api.post("/clients", json={"email": email, **fields})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


# --- Clients ------------------------------------------------------------------------------

def test_a_created_client_reads_back_as_it_was_made(api, db, user):
    response = api.post("/clients", json={"email": "Ada@Example.com", "full_name": "Ada Lovelace",
                                          "comment": "met at the fair"})

    assert response.status_code == 201
    made = response.get_json()
    assert response.headers["Location"] == f"/api/v1/clients/{made['id']}"
    assert (made["email"], made["full_name"], made["comment"]) == ("ada@example.com", "Ada Lovelace",
                                                                   "met at the fair")
    assert made["unsubscribed_at"] is None and made["suppressed_at"] is None
    assert api.follow(response.headers["Location"]).get_json() == made
    assert db.session.get(Client, made["id"]).owner_id == user.id


def test_the_client_list_filters_by_email_name_unsubscribed_and_suppressed(api, db):
    ada = new_client(api, "ada@example.com", full_name="Ada Lovelace")
    grace = new_client(api, "grace@example.com", full_name="Grace Hopper")
    alan = new_client(api, "alan@example.com", full_name="Alan Turing")
    assert api.post(f"/clients/{grace['id']}/unsubscribe").status_code == 200
    db.session.get(Client, alan["id"]).suppressed_at = utcnow()
    db.session.commit()

    def listed(query: str) -> list[str]:
        response = api.get(f"/clients{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["email"] for item in response.get_json()["items"]]

    assert listed("") == ["ada@example.com", "alan@example.com", "grace@example.com"]
    assert listed("?email=ADA@example.com") == ["ada@example.com"]
    assert listed("?name=hopper") == ["grace@example.com"]
    assert listed("?unsubscribed=true") == ["grace@example.com"]
    assert listed("?unsubscribed=false") == ["ada@example.com", "alan@example.com"]
    assert listed("?suppressed=true") == ["alan@example.com"]
    assert listed("?suppressed=false&unsubscribed=false") == [ada["email"]]


def test_pages_joined_by_their_next_links_give_every_client_once_in_order(api, db, user):
    emails = [f"p{n:03d}@example.com" for n in range(250)]
    db.session.add_all([Client(owner_id=user.id, email=email, full_name=f"Page {n}")
                        for n, email in enumerate(reversed(emails))])
    db.session.add(Client(owner_id=user.id, email="p100a@example.com", full_name="Not in the filter"))
    db.session.commit()

    pages, link = [], "/api/v1/clients?limit=100&name=page"
    while link:
        response = api.follow(link)
        assert response.status_code == 200, response.get_data(as_text=True)
        page = response.get_json()
        pages.append([item["email"] for item in page["items"]])
        link = page["next"]
        assert link is None or ("limit=100" in link and "name=page" in link), link
        assert len(pages) <= 3, "more pages than 250 clients make"

    assert [len(page) for page in pages] == [100, 100, 50]
    assert [email for page in pages for email in page] == emails


def test_a_patch_changes_only_the_fields_sent_and_a_delete_removes_the_client(api, db):
    made = new_client(api, "ada@example.com", full_name="Ada", comment="keep me")

    changed = api.patch(f"/clients/{made['id']}", json={"full_name": "Ada Lovelace"})

    assert changed.status_code == 200
    assert changed.get_json() == {**made, "full_name": "Ada Lovelace"}
    assert db.session.get(Client, made["id"]).comment == "keep me"
    deleted = api.delete(f"/clients/{made['id']}")
    assert deleted.status_code == 204 and deleted.get_data() == b""
    problem_of(api.get(f"/clients/{made['id']}"), 404)
    assert count(db, Client) == 0


def test_unsubscribe_takes_the_client_off_the_mailings(api, db):
    made = new_client(api)

    response = api.post(f"/clients/{made['id']}/unsubscribe")

    assert response.status_code == 200 and response.get_json()["unsubscribed_at"] is not None
    assert db.session.get(Client, made["id"]).unsubscribed_at is not None


def test_the_same_email_twice_is_refused_in_the_web_forms_words(api, db):
    new_client(api, "ada@example.com")

    problem = refused(api, db, "POST", "/clients", 422, json={"email": "ADA@example.com"})

    assert problem["detail"] == DUPLICATE
    assert problem["errors"] == [{"detail": DUPLICATE, "pointer": "#/email"}]


# --- Bulk upsert --------------------------------------------------------------------------

def rows(how_many: int, name="Bulk") -> list[dict]:
    return [{"email": f"b{n:05d}@example.com", "full_name": f"{name} {n}"} for n in range(how_many)]


def test_ten_thousand_rows_are_added_in_one_request_and_sent_again_change_nothing(api, db):
    first = api.post("/clients/bulk", json={"clients": rows(10_000)})
    again = api.post("/clients/bulk", json={"clients": rows(10_000)})
    renamed = api.post("/clients/bulk", json={"clients": rows(10, name="Renamed") + rows(10_000)[10:20]})

    assert first.status_code == 200, first.get_data(as_text=True)[:500]
    assert first.get_json() == {"added": 10_000, "updated": 0, "unchanged": 0}
    assert again.get_json() == {"added": 0, "updated": 0, "unchanged": 10_000}
    assert renamed.get_json() == {"added": 0, "updated": 10, "unchanged": 10}
    assert count(db, Client) == 10_000
    assert db.session.scalar(sa.select(Client.full_name).where(Client.email == "b00003@example.com")) \
        == "Renamed 3"


def test_one_bad_row_among_many_saves_none_and_is_named(api, db):
    sent = rows(500)
    sent[137]["email"] = "not an address"

    problem = refused(api, db, "POST", "/clients/bulk", 422, json={"clients": sent})

    assert [item["pointer"] for item in problem["errors"]] == ["#/clients/137/email"]
    assert problem["errors"][0]["detail"]
    assert count(db, Client) == 0


def test_ten_thousand_and_one_rows_are_refused_and_none_is_saved(api, db):
    problem = refused(api, db, "POST", "/clients/bulk", 422, json={"clients": rows(10_001)})

    assert [item["pointer"] for item in problem["errors"]] == ["#/clients"]
    assert count(db, Client) == 0


def test_an_address_twice_in_one_request_is_named_as_a_duplicate(api, db):
    sent = rows(6)
    sent[5]["email"] = sent[1]["email"].upper()

    problem = refused(api, db, "POST", "/clients/bulk", 422, json={"clients": sent})

    assert problem["errors"] == [{"detail": "Duplicate of row 1.", "pointer": "#/clients/5/email"}]


# --- Bad input: a problem document with 4xx, nothing changed ---------------------------------

@pytest.fixture
def known(api):
    """A client already there, which a bad request must not touch."""
    return new_client(api, "known@example.com", full_name="Known")


def test_a_body_that_is_not_json_is_a_400_problem(api, db, known):
    problem = refused(api, db, "POST", "/clients", 400, data='{"email": "a@example.com",',
                      content_type="application/json")

    assert problem["detail"] == "The body is not valid JSON."


def test_a_value_of_the_wrong_type_is_a_422_pointing_at_it(api, db, known):
    problem = refused(api, db, "POST", "/clients", 422, json={"email": 5})
    change = refused(api, db, "PATCH", f"/clients/{known['id']}", 422, json={"full_name": ["Ada"]})

    assert {"detail": "Not a valid string.", "pointer": "#/email"} in problem["errors"]
    assert {"detail": "Not a valid string.", "pointer": "#/full_name"} in change["errors"]


def test_an_unknown_field_is_refused(api, db, known):
    problem = refused(api, db, "POST", "/clients", 422, json={"email": "a@example.com", "colour": "red"})
    change = refused(api, db, "PATCH", f"/clients/{known['id']}", 422, json={"owner_id": 2})

    assert {"detail": "Unknown field.", "pointer": "#/colour"} in problem["errors"]
    assert {"detail": "Unknown field.", "pointer": "#/owner_id"} in change["errors"]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_an_id_past_integer_in_the_address_is_a_404_problem(api, db, known, method):
    for impossible in (2**31, 99999999999, 10**30):
        body = {"full_name": "x"} if method == "PATCH" else None
        refused(api, db, method, f"/clients/{impossible}", 404, json=body)


def test_an_id_past_integer_in_a_body_is_a_422(api, db, user):
    message, clients = make_material(db, user)

    problem = refused(api, db, "POST", "/mailings", 422, json={
        "message_id": 2**31, "client_ids": [clients[0].id, 2**40], "start_at": "2030-01-01T10:00:00",
        "end_at": "2030-03-01T10:00:00", "frequency": "weekly"})

    pointers = [item["pointer"] for item in problem["errors"]]
    assert "#/message_id" in pointers and "#/client_ids/1" in pointers


def test_a_nul_character_is_refused_in_the_web_forms_words(api, db, user, known):
    message, _clients = make_material(db, user)

    problems = [
        refused(api, db, "POST", "/clients", 422, json={"email": "a@example.com", "full_name": "A\u0000B"}),
        refused(api, db, "PATCH", f"/clients/{known['id']}", 422, json={"comment": "\u0000"}),
        refused(api, db, "POST", "/messages", 422, json={"subject": "Hi\u0000", "body": "Hello"}),
        refused(api, db, "PATCH", f"/messages/{message.id}", 422, json={"body": "x\u0000y"}),
    ]

    assert [problem["errors"] for problem in problems] == [
        [{"detail": NUL_MESSAGE, "pointer": "#/full_name"}], [{"detail": NUL_MESSAGE, "pointer": "#/comment"}],
        [{"detail": NUL_MESSAGE, "pointer": "#/subject"}], [{"detail": NUL_MESSAGE, "pointer": "#/body"}]]


def test_a_json_array_instead_of_an_object_is_a_422(api, db, known):
    refused(api, db, "POST", "/clients", 422, json=[{"email": "a@example.com"}])
    refused(api, db, "PATCH", f"/clients/{known['id']}", 422, json=["Ada"])
    refused(api, db, "POST", "/clients/bulk", 422, json=[{"email": "a@example.com"}])


def test_a_report_filtered_by_someone_elses_mailing_is_refused_as_one_that_does_not_exist(
        api, client, db, user, make_user):
    mailing = make_mailing(db, user)
    stranger = ApiCaller(client, token_for(make_user(email="stranger@example.com")))

    for path in ("/attempts", "/attempts/export.csv", "/attempts/deliveries.csv"):
        theirs = problem_of(stranger.get(f"{path}?mailing_id={mailing.id}"), 422)
        nowhere = problem_of(stranger.get(f"{path}?mailing_id={mailing.id + 1000}"), 422)
        assert theirs == nowhere
        assert theirs["errors"][0]["parameter"] == "mailing_id"


def test_a_preview_for_someone_elses_client_is_a_404(api, client, db, user, make_user):
    _message, clients = make_material(db, user)
    stranger = make_user(email="stranger@example.com")
    own_message, _own_clients = make_material(db, stranger, name="Stranger")
    caller = ApiCaller(client, token_for(stranger))

    problem_of(caller.get(f"/messages/{own_message.id}/preview?client_id={clients[0].id}"), 404)
    shown = caller.get(f"/messages/{own_message.id}/preview").get_json()
    assert shown["recipient"]["full_name"] == "Stranger 0"


# --- Language -----------------------------------------------------------------------------

def test_a_problem_is_in_russian_when_the_request_asks_for_it(client, db, user, api):
    new_client(api, "ada@example.com")
    russian = ApiCaller(client, api.token, language="ru,en;q=0.5")

    problem = refused(russian, db, "POST", "/clients", 422, json={"email": "ada@example.com"})

    assert problem["detail"] == DUPLICATE_RU
    assert problem["errors"] == [{"detail": DUPLICATE_RU, "pointer": "#/email"}]


def test_input_and_token_problems_are_in_russian_too(client, db, api):
    russian = ApiCaller(client, api.token, language="ru")

    problem = refused(russian, db, "POST", "/clients", 422, json={"email": 5, "colour": "red"})
    unsigned = ApiCaller(client, None, language="ru").get("/clients")

    assert problem["title"] == "Данные не приняты"
    assert {(e["pointer"], e["detail"]) for e in problem["errors"]} == {
        ("#/email", "Нужна строка."), ("#/colour", "Неизвестное поле.")}
    assert problem_of(unsigned, 401)["title"] == "Не авторизован"


def test_without_accept_language_a_problem_is_in_the_token_owners_language(client, db, make_user):
    reader = make_user(email="ivan@example.com", language="ru")
    api = ApiCaller(client, token_for(reader))
    new_client(api, "ada@example.com")

    problem = refused(api, db, "POST", "/clients", 422, json={"email": "ada@example.com"})

    assert problem["detail"] == DUPLICATE_RU


# --- ETags --------------------------------------------------------------------------------

def test_an_unchanged_client_answers_its_etag_with_304_and_no_body(api):
    made = new_client(api)
    first = api.get(f"/clients/{made['id']}")

    again = api.get(f"/clients/{made['id']}", headers={"If-None-Match": first.headers["ETag"]})

    assert first.status_code == 200 and first.headers["ETag"]
    assert again.status_code == 304 and again.get_data() == b""


def test_a_304_names_the_etag_it_confirms(api):
    """RFC 9110, 15.4.5: a 304 carries the ETag a 200 would have carried."""
    made = new_client(api)
    etag = api.get(f"/clients/{made['id']}").headers["ETag"]

    again = api.get(f"/clients/{made['id']}", headers={"If-None-Match": etag})

    assert again.status_code == 304 and again.headers.get("ETag") == etag


def test_after_a_change_the_etag_is_new_and_the_old_one_gets_the_client(api):
    made = new_client(api)
    old = api.get(f"/clients/{made['id']}").headers["ETag"]

    api.patch(f"/clients/{made['id']}", json={"full_name": "Ada Lovelace"})
    now = api.get(f"/clients/{made['id']}", headers={"If-None-Match": old})

    assert now.status_code == 200 and now.get_json()["full_name"] == "Ada Lovelace"
    assert now.headers["ETag"] != old


# --- Idempotency-Key ----------------------------------------------------------------------

def keyed(key: str) -> dict:
    return {"Idempotency-Key": key}


def assert_replayed(first, again):
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert (again.status_code, again.get_data(), again.headers.get("Location"), again.mimetype) == \
        (first.status_code, first.get_data(), first.headers.get("Location"), first.mimetype)


def test_a_create_retried_with_its_key_makes_one_client_and_gets_the_first_answer(api, db):
    body = {"email": "ada@example.com", "full_name": "Ada"}

    first = api.post("/clients", json=body, headers=keyed("order-17"))
    again = api.post("/clients", json=body, headers=keyed("order-17"))

    assert first.status_code == 201
    assert_replayed(first, again)
    assert count(db, Client) == 1


def test_a_key_used_again_for_another_body_is_refused_and_creates_nothing(api, db):
    api.post("/clients", json={"email": "ada@example.com"}, headers=keyed("order-17"))

    problem = refused(api, db, "POST", "/clients", 422, json={"email": "grace@example.com"},
                      headers=keyed("order-17"))

    assert "Idempotency-Key" in problem["detail"]
    assert count(db, Client) == 1


def test_a_new_key_is_a_new_request(api, db):
    api.post("/clients", json={"email": "ada@example.com"}, headers=keyed("order-17"))

    problem = refused(api, db, "POST", "/clients", 422, json={"email": "ada@example.com"},
                      headers=keyed("order-18"))

    assert problem["detail"] == DUPLICATE


def test_a_retry_while_the_first_request_still_runs_is_told_409_and_creates_nothing(api, db, user):
    body = '{"email": "ada@example.com"}'
    fingerprint = hashlib.sha256(b"POST\0/api/v1/clients?\0" + body.encode()).hexdigest()
    db.session.add(IdempotentRequest(user_id=user.id, key="order-17", fingerprint=fingerprint,
                                     created_at=utcnow()))
    db.session.commit()

    problem = refused(api, db, "POST", "/clients", 409, data=body, content_type="application/json",
                      headers=keyed("order-17"))

    assert "still running" in problem["detail"]


@pytest.mark.parametrize("key", ["", "with space", "é", "k" * 256])
def test_an_idempotency_key_of_other_than_visible_ascii_is_a_400(api, db, key):
    problem = refused(api, db, "POST", "/clients", 400, json={"email": "ada@example.com"},
                      headers=keyed(key))

    assert problem["errors"] == [{"detail": "Invalid value.", "header": "Idempotency-Key"}]


def test_messages_and_mailings_created_twice_with_one_key_are_one_row_each(api, db, user):
    message, clients = make_material(db, user)
    mailing = {"message_id": message.id, "client_ids": [c.id for c in clients],
               "start_at": "2030-01-01T10:00:00", "end_at": "2030-03-01T10:00:00", "frequency": "weekly"}
    letter = {"subject": "Spring", "body": "Hello {{ client.full_name }}"}

    answers = [(api.post("/messages", json=letter, headers=keyed("letter-1")),
                api.post("/mailings", json=mailing, headers=keyed("mailing-1"))) for _ in range(2)]

    (first_message, first_mailing), (again_message, again_mailing) = answers
    assert (first_message.status_code, first_mailing.status_code) == (201, 201), first_mailing.get_json()
    assert_replayed(first_message, again_message)
    assert_replayed(first_mailing, again_mailing)
    assert count(db, Message) == 2  # make_material's and the one made here
    assert count(db, Mailing) == 1


def test_a_refused_request_frees_its_key_for_the_same_request_once_mended(api, db, user):
    client = ClientFactory(owner=user, email="taken@example.com")
    db.session.commit()

    first = api.post("/clients", json={"email": "taken@example.com"}, headers=keyed("add-1"))
    assert api.delete(f"/clients/{client.id}").status_code == 204
    again = api.post("/clients", json={"email": "taken@example.com"}, headers=keyed("add-1"))

    problem_of(first, 422)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers


@pytest.fixture
def started_runs(monkeypatch):
    """The "send now" processes the app starts: started for real, and kept here to wait for."""
    started = []
    start_run = TaskManager.start_run

    def recorded(self, mailing_id, *flags):
        process = start_run(self, mailing_id, *flags)
        started.append(process)
        return process

    monkeypatch.setattr(TaskManager, "start_run", recorded)
    return started


def finished_attempts(db, mailing_id: int, seconds: float = 60) -> list[Attempt]:
    """The mailing's attempts once there is one and none is still sending."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.expire_all()
        found = db.session.scalars(sa.select(Attempt).where(Attempt.mailing_id == mailing_id)).all()
        if found and all(attempt.status is not AttemptStatus.SENDING for attempt in found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"no finished attempt of mailing {mailing_id} in {seconds} s")


def test_send_now_retried_with_its_key_sends_once(api, db, user, smtp_sink, started_runs):
    mailing = make_mailing(db, user, clients=3, start=datetime.now(timezone.utc) + timedelta(days=2))

    first = api.post(f"/mailings/{mailing.id}/send-now", headers=keyed("send-1"))
    assert first.status_code == 202, first.get_data(as_text=True)
    assert first.get_json() == {"mailing_id": mailing.id, "started": True}
    assert started_runs[0].wait(timeout=60) == 0
    (attempt,) = finished_attempts(db, mailing.id)
    assert attempt.manual and attempt.status is AttemptStatus.SUCCESS
    assert len(smtp_sink.wait_for(3)) == 3

    again = api.post(f"/mailings/{mailing.id}/send-now", headers=keyed("send-1"))

    assert_replayed(first, again)
    assert len(started_runs) == 1, "a second run was started"
    assert len(finished_attempts(db, mailing.id)) == 1
    assert len(smtp_sink.messages) == 3


# --- Rate limits --------------------------------------------------------------------------

def limited_callers(make_app, user, tokens: int = 1) -> list[ApiCaller]:
    client = make_app(RATELIMIT_ENABLED=True, RATELIMIT_API="3 per minute").test_client()
    return [ApiCaller(client, token_for(user)) for _ in range(tokens)]


def budget_left(answer) -> tuple[int, int]:
    """The RateLimit field's remaining requests and seconds to the reset."""
    found = re.fullmatch(r'"api";r=(\d+);t=(\d+)', answer.headers["RateLimit"])
    assert found, answer.headers["RateLimit"]
    return int(found.group(1)), int(found.group(2))


def test_each_answer_tells_the_tokens_budget_and_past_it_is_429(make_app, db, user):
    first_token, second_token = limited_callers(make_app, user, tokens=2)

    answers = [first_token.get("/clients") for _ in range(4)]

    assert [answer.status_code for answer in answers[:3]] == [200, 200, 200]
    assert [answer.headers["RateLimit-Policy"] for answer in answers] == ['"api";q=3;w=60'] * 4
    assert [budget_left(answer)[0] for answer in answers] == [2, 1, 0, 0]
    problem_of(answers[3], 429)
    other = second_token.get("/clients")
    assert other.status_code == 200 and budget_left(other)[0] == 2


def test_the_reset_a_budget_announces_is_within_its_window(make_app, db, user):
    (caller,) = limited_callers(make_app, user)

    seconds = [budget_left(caller.get("/clients"))[1] for _ in range(3)]

    assert all(0 < left <= 60 for left in seconds), seconds  # a 60-second window resets within 60


# --- Tokens -------------------------------------------------------------------------------

def test_a_revoked_token_opens_nothing(client, user):
    made = api_tokens.create_token(user, "shop", None)
    api = ApiCaller(client, made.secret)
    assert api.get("/clients").status_code == 200

    api_tokens.revoke_token(user, made.token.id)

    problem = problem_of(api.get("/clients"), 401)
    assert problem["detail"].startswith("Send a valid API token")
    assert api.get("/clients").headers["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_token_opens_nothing(client, db, user):
    made = api_tokens.create_token(user, "shop", 30)
    api = ApiCaller(client, made.secret)
    assert api.get("/clients").status_code == 200

    db.session.execute(sa.update(ApiToken).where(ApiToken.id == made.token.id)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()

    problem_of(api.get("/clients"), 401)


def test_a_token_notes_when_it_was_last_used(client, db, user):
    made = api_tokens.create_token(user, "shop", None)
    assert made.token.last_used_at is None
    before = utcnow()

    ApiCaller(client, made.secret).get("/clients")

    db.session.expire_all()
    used = db.session.get(ApiToken, made.token.id).last_used_at
    assert used is not None and before - timedelta(seconds=1) <= used <= utcnow()


# --- A manager's token --------------------------------------------------------------------

@pytest.fixture
def manager(client, make_user):
    return ApiCaller(client, token_for(make_user(email="manager@example.com", role=Role.MANAGER)))


def test_a_managers_token_lists_every_users_mailings(manager, db, user, make_user):
    own = make_mailing(db, user, subject="Olivia's news")
    other_owner = make_user(email="boris@example.com")
    theirs = make_mailing(db, other_owner, subject="Boris's offers")

    listed = manager.get("/manager/mailings").get_json()["items"]

    assert {(item["id"], item["owner_id"]) for item in listed} == \
        {(own.id, user.id), (theirs.id, other_owner.id)}


def test_a_managers_token_stops_a_mailing_and_the_reason_is_kept(manager, db, user):
    mailing = make_mailing(db, user)

    response = manager.post(f"/manager/mailings/{mailing.id}/stop", json={"reason": "Complaints of spam"})

    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["stop_reason"]) == ("stopped",
                                                                                   "Complaints of spam")
    db.session.expire_all()
    stopped = db.session.get(Mailing, mailing.id)
    assert (stopped.status, stopped.stop_reason) == (MailingStatus.STOPPED, "Complaints of spam")


def test_a_managers_token_blocks_a_user_whose_token_then_opens_nothing(manager, api, db, user):
    assert api.get("/clients").status_code == 200

    response = manager.post(f"/manager/users/{user.id}/block")

    assert response.status_code == 200 and response.get_json()["active"] is False
    problem_of(api.get("/clients"), 401)


def test_a_managers_token_must_say_why_it_stops_a_mailing(manager, db, user):
    mailing = make_mailing(db, user)

    problem = refused(manager, db, "POST", f"/manager/mailings/{mailing.id}/stop", 422, json={"reason": "  "})

    assert problem["errors"] == [{"detail": "Say why the mailing is stopped.", "pointer": "#/reason"}]


def test_a_managers_token_cannot_create_a_client(manager, db):
    refused(manager, db, "POST", "/clients", 403, json={"email": "ada@example.com"})

    assert count(db, Client) == 0


# --- The OpenAPI document -----------------------------------------------------------------

def test_the_openapi_document_is_public_in_31_and_lists_every_route(app, client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".", 1)[0] not in API_BLUEPRINTS:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in document["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []
    assert sum(len(item) for item in document["paths"].values()) >= 35
