"""Every route of the API × every kind of token: who may read or change what, walked from the
app's own URL map (as tests/test_role_matrix.py walks the pages).

Roles: no token, a forged one, a revoked one, a blocked owner's, a content manager's (a row
they can only have by a write straight into the database), the owner's, another user's and a
manager's. A route added later is walked automatically; its blueprint decides what each role
must get. Every write by a role that may not make it is checked against the database: the
owner's clients, messages, mailings, recipients, attempts, every user and token, the mail sent
and the runs started are as they were.
"""
from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa

from mailer import api_tokens
from mailer.errors import ServiceError
from mailer.models import (ApiToken, Attempt, AttemptStatus, Client, Mailing, Message, Role, User,
                           mailing_clients)
from mailer.scheduling.task_manager import TaskManager
from tests.api_support import ApiCaller, problem_of, token_for
from tests.factories import AttemptFactory, DeliveryFactory, MessageFactory
from tests.workspace import make_mailing

API_BLUEPRINTS = ("api_clients", "api_messages", "api_mailings", "api_reports", "api_manager")
# The reference page tells anyone how to ask; asking still takes a token.
PUBLIC = ("api_reference",)
WORKSPACE = ("api_clients", "api_messages", "api_mailings")
METHODS = ("GET", "POST", "PATCH", "DELETE")
# Every token that must open nothing, and the ones that open something.
REFUSED = ("none", "forged", "revoked", "blocked", "content_manager")
ROLES = (*REFUSED, "owner", "other", "manager")
# What the API has today, as (route, method) pairs: fewer means a route vanished.
ROUTES_NOW = 36
DONE = {200, 201, 202, 204}


@pytest.fixture
def started_runs(monkeypatch):
    """The "send now" runs started, instead of real processes (none may start for a stranger)."""
    started = []
    monkeypatch.setattr(TaskManager, "start_run", lambda self, mailing_id, *flags: started.append(mailing_id))
    return started


@pytest.fixture
def world(db, make_user):
    owner = make_user(email="owner@example.com", full_name="Olivia Owner", language="en")
    people = {
        "owner": owner,
        "other": make_user(email="other@example.com", language="en"),
        "manager": make_user(email="manager@example.com", role=Role.MANAGER, language="en"),
        "content_manager": make_user(email="editor@example.com", role=Role.CONTENT_MANAGER, language="en"),
    }
    mailing = make_mailing(db, owner, clients=2)
    attempt = AttemptFactory(mailing=mailing, occurrence_at=mailing.start_at, status=AttemptStatus.SUCCESS)
    first_client = db.session.scalars(sa.select(Client).where(Client.owner_id == owner.id)
                                      .order_by(Client.id)).first()
    DeliveryFactory(attempt=attempt, client=first_client)
    spare = MessageFactory(owner=owner, subject="Spare words", body="Hello")
    db.session.commit()
    ids = {"mailing_id": mailing.id, "message_id": mailing.message_id, "attempt_id": attempt.id,
           "client_id": first_client.id, "user_id": owner.id, "spare_message_id": spare.id}
    return people, ids


def _inserted_token(db, user) -> str:
    """A token row written straight into the database, for a user the service gives none."""
    secret = api_tokens.TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, name="inserted", token_hash=api_tokens._hash(secret),
                            prefix=secret[:api_tokens.SHOWN_PREFIX]))
    db.session.commit()
    return secret


def _token_of(role: str, db, people) -> str | None:
    if role == "none":
        return None
    if role == "forged":
        return api_tokens.TOKEN_PREFIX + secrets.token_urlsafe(32)
    if role == "revoked":
        made = api_tokens.create_token(people["owner"], "revoked", None)
        assert api_tokens.revoke_token(people["owner"], made.token.id)
        return made.secret
    if role == "blocked":
        token = token_for(people["owner"])
        people["owner"].active = False
        db.session.commit()
        return token
    if role == "content_manager":
        return _inserted_token(db, people["content_manager"])
    return token_for(people[role])


def _bodies(ids) -> dict:
    """A body each write route would take from its own caller, so a 422 can hide no 403 or 404."""
    message_id, client_id = ids["spare_message_id"], ids["client_id"]
    return {
        "api_clients.create_client": {"email": "x@example.com", "full_name": "hacked"},
        "api_clients.upsert_clients": {"clients": [{"email": "x@example.com", "full_name": "hacked"}]},
        "api_clients.update_client": {"full_name": "hacked"},
        "api_messages.create_message": {"subject": "hacked", "body": "hacked"},
        "api_messages.update_message": {"subject": "hacked"},
        "api_mailings.create_mailing": {"message_id": message_id, "client_ids": [client_id],
                                        "start_at": "2030-01-01T10:00:00", "end_at": "2030-02-01T10:00:00",
                                        "frequency": "daily"},
        "api_mailings.update_mailing": {"message_id": message_id, "frequency": "daily"},
        "api_manager.stop_mailing": {"reason": "hacked"},
    }


# Another user's writes without an id in the address are their own work; a mailing of the
# owner's message and clients is not theirs to make.
OTHERS_OWN_WORK = {"api_clients.create_client": {201}, "api_clients.upsert_clients": {200},
                   "api_messages.create_message": {201}, "api_mailings.create_mailing": {422}}


def _expected(role: str, blueprint: str, endpoint: str, method: str, has_id: bool) -> set[int]:
    if blueprint in PUBLIC:
        return {200}
    if role in REFUSED:
        return {401}
    if role == "owner":
        return {403} if blueprint == "api_manager" else ({200} if method == "GET" else DONE)
    if role == "manager":
        return {403} if blueprint in WORKSPACE else {200}
    if blueprint == "api_manager":
        return {403}
    if has_id:
        return {404}
    return {200} if method == "GET" else OTHERS_OWN_WORK.get(endpoint, DONE)


def nowhere(url: str, ids: dict) -> str:
    """The same address with ids no row has (to compare a stranger's 404 with)."""
    for name in ("mailing_id", "message_id", "attempt_id", "client_id", "user_id"):
        url = url.replace(f"/{ids[name]}/", f"/{ids[name] + 100_000}/")
        if url.endswith(f"/{ids[name]}"):
            url = url.removesuffix(f"/{ids[name]}") + f"/{ids[name] + 100_000}"
    return url


def _walk(app, ids, role):
    """Every API route and method, as (blueprint, endpoint, method, url, has_id, expected); the
    role's own writes last (deleting the mailing before its message), as they change the world."""
    routes = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".", 1)[0]
        if not rule.endpoint.startswith("api_"):
            continue
        assert blueprint in API_BLUEPRINTS + PUBLIC, \
            f"a new API blueprint: {rule.endpoint}; say what each role gets"
        url = rule.build({name: ids[name] for name in rule.arguments})[1]
        for method in sorted(rule.methods & set(METHODS)):
            expected = _expected(role, blueprint, rule.endpoint, method, bool(rule.arguments))
            routes.append((blueprint, rule.endpoint, method, url, bool(rule.arguments), expected))

    def order(route):
        _blueprint, endpoint, method, _url, _has_id, expected = route
        allowed_write = method != "GET" and expected <= DONE
        return allowed_write, method == "DELETE", endpoint != "api_mailings.delete_mailing", endpoint

    return sorted(routes, key=order)


def _snapshot(db, smtp_sink, started_runs, except_owner: int | None = None) -> dict:
    """Everything a stranger's request must leave alone (``except_owner``: the caller's own rows,
    which their own work may add to)."""
    db.session.expire_all()

    def others(column):
        return sa.true() if except_owner is None else column != except_owner

    return {
        "clients": db.session.execute(sa.select(
            Client.id, Client.owner_id, Client.email, Client.full_name, Client.comment, Client.unsubscribed_at,
            Client.suppressed_at).where(others(Client.owner_id)).order_by(Client.id)).all(),
        "messages": db.session.execute(sa.select(
            Message.id, Message.owner_id, Message.subject, Message.body, Message.updated_at)
            .where(others(Message.owner_id)).order_by(Message.id)).all(),
        "mailings": db.session.execute(sa.select(
            Mailing.id, Mailing.owner_id, Mailing.message_id, Mailing.status, Mailing.frequency,
            Mailing.start_at, Mailing.end_at, Mailing.stop_reason, Mailing.updated_at)
            .where(others(Mailing.owner_id)).order_by(Mailing.id)).all(),
        "recipients": db.session.execute(sa.select(mailing_clients.c.mailing_id, mailing_clients.c.client_id)
                                         .join(Client, Client.id == mailing_clients.c.client_id)
                                         .where(others(Client.owner_id)).order_by(*mailing_clients.c)).all(),
        "attempts": db.session.execute(sa.select(Attempt.id, Attempt.status).order_by(Attempt.id)).all(),
        "users": db.session.execute(sa.select(
            User.id, User.email, User.full_name, User.role, User.active, User.is_superuser, User.password_hash,
            User.session_token).order_by(User.id)).all(),
        "tokens": db.session.execute(sa.select(ApiToken.id, ApiToken.user_id, ApiToken.token_hash,
                                               ApiToken.expires_at).order_by(ApiToken.id)).all(),
        "mail sent": len(smtp_sink.messages),
        "runs started": list(started_runs),
    }


def _owners_secrets(people) -> tuple[str, ...]:
    owner = people["owner"]
    return ("Weekly news", f"c0@{owner.id}.example.com", "Client 0", "Spare words")


def _check_refusal(response, role, url):
    """A problem document; a missing or dead token is told how to authenticate."""
    problem_of(response, response.status_code)
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), (role, url)


def _check_stranger_read(response, endpoint, url):
    """Another user's own list: their (empty) items, or a CSV of the header alone."""
    if response.mimetype == "text/csv":
        assert len(response.get_data(as_text=True).strip().splitlines()) == 1, (url, response.data[:300])
    else:
        assert response.get_json()["items"] == [], (endpoint, url)


@pytest.mark.parametrize("role", ROLES)
def test_every_api_route_answers_each_token_as_its_role_allows(app, db, world, smtp_sink, started_runs, role):
    people, ids = world
    api = ApiCaller(app.test_client(), _token_of(role, db, people))
    bodies = _bodies(ids)
    strangers_own = people["other"].id if role == "other" else None
    walked = []
    for blueprint, endpoint, method, url, has_id, expected in _walk(app, ids, role):
        guarded = method != "GET" and not expected <= DONE
        before = _snapshot(db, smtp_sink, started_runs, strangers_own) if guarded else None
        body = bodies.get(endpoint) if method in ("POST", "PATCH") else None
        response = api.client.open(url, method=method, headers=api.headers(), json=body)
        response.close()  # a streamed CSV holds its request context until closed
        walked.append((endpoint, method))
        assert response.status_code in expected, (role, method, url, response.status_code,
                                                  response.get_data(as_text=True)[:300])
        if response.status_code >= 400:
            _check_refusal(response, role, url)
        if role != "owner" and not (role == "manager" and blueprint in ("api_manager", "api_reports")):
            page = response.get_data(as_text=True)
            assert not [secret for secret in _owners_secrets(people) if secret in page], (role, url)
        if role == "other" and method == "GET" and not has_id and blueprint in (*WORKSPACE, "api_reports"):
            _check_stranger_read(response, endpoint, url)
        if role == "other" and response.status_code == 404:
            # exactly as for an object that does not exist
            ghost = api.client.open(nowhere(url, ids), method=method, headers=api.headers(), json=body)
            assert (ghost.status_code, ghost.get_data()) == (404, response.get_data()), url
        if guarded:
            assert _snapshot(db, smtp_sink, started_runs, strangers_own) == before, (role, method, url)
    assert len(walked) >= ROUTES_NOW, walked
    assert len(set(walked)) == len(walked)


def test_a_managers_token_reads_every_users_attempts(app, db, world):
    """The reports are oversight for a manager: the owner's attempt is in the manager's list."""
    people, ids = world
    manager = ApiCaller(app.test_client(), token_for(people["manager"]))

    listed = manager.get("/attempts").get_json()["items"]
    one = manager.get(f"/attempts/{ids['attempt_id']}").get_json()
    deliveries = manager.get(f"/attempts/{ids['attempt_id']}/deliveries").get_json()["items"]

    assert [attempt["id"] for attempt in listed] == [ids["attempt_id"]]
    assert one["mailing_id"] == ids["mailing_id"]
    assert [delivery["client_id"] for delivery in deliveries] == [ids["client_id"]]


def test_a_content_manager_can_hold_no_token(db, world):
    people, _ids = world

    with pytest.raises(ServiceError):
        api_tokens.create_token(people["content_manager"], "blog sync", None)
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 0
