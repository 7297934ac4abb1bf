"""Every route of the app × every role: who may open what, walked from the app's own URL map.

Roles: anonymous, the owner of the objects, another user, a manager, a content
manager and a superuser. A route added later is walked automatically; its
blueprint decides what each role must get.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailer.models import (AttemptStatus, Client, Mailing, Message, Post, Role, User, utcnow)
from tests.conftest import AuthActions, csrf_token
from tests.workspace import make_mailing
from tests.factories import AttemptFactory, DeliveryFactory, PostFactory

ROLES = ("anonymous", "owner", "other", "manager", "content_manager", "superuser")
SIGN_IN = "sign-in"
OK = {200}
# What a role gets on a GET of a route of each blueprint ("own" = the owner's objects in the URL).
WORKSPACE = {"anonymous": SIGN_IN, "owner": OK, "other": {404}, "manager": {403},
             "content_manager": {403}, "superuser": {404}}
EXPECTED_GET = {
    "clients": WORKSPACE,
    "messages": WORKSPACE,
    "mailings": WORKSPACE,
    "manager": {"anonymous": SIGN_IN, "owner": {403}, "other": {403}, "manager": OK,
                "content_manager": {403}, "superuser": OK},
    "reports": {"anonymous": SIGN_IN, "owner": OK, "other": OK, "manager": OK,
                "content_manager": {403}, "superuser": OK},
    "admin": {"anonymous": {403}, "owner": {403}, "other": {403}, "manager": {403},
              "content_manager": None, "superuser": OK},
}
# Lists (no id in the URL) are everyone's own view, so "other" sees their own (empty) list.
LIST_ROLES_OK = {"other", "superuser"}


@pytest.fixture
def world(db, make_user):
    owner = make_user(email="owner@example.com", language="en")
    people = {
        "owner": owner,
        "other": make_user(email="other@example.com", language="en"),
        "manager": make_user(email="manager@example.com", role=Role.MANAGER, language="en"),
        "content_manager": make_user(email="editor@example.com", role=Role.CONTENT_MANAGER, language="en"),
        "superuser": make_user(email="root@example.com", is_superuser=True, language="en"),
    }
    mailing = make_mailing(db, owner, clients=2)
    attempt = AttemptFactory(mailing=mailing, occurrence_at=mailing.start_at, status=AttemptStatus.SUCCESS)
    # A letter of the attempt, so the deliveries' exports have the owner's data to give away.
    first_client = db.session.scalars(sa.select(Client).where(Client.owner_id == owner.id)
                                      .order_by(Client.id)).first()
    DeliveryFactory(attempt=attempt, client=first_client)
    post = PostFactory(title="Hello", body="World", published_at=utcnow(), author=people["content_manager"])
    db.session.commit()
    ids = {
        "mailing_id": mailing.id, "message_id": mailing.message_id, "attempt_id": attempt.id,
        "client_id": db.session.scalar(sa.select(Client.id).where(Client.owner_id == owner.id).limit(1)),
        "user_id": owner.id, "post_id": post.id,
    }
    return people, ids


def _client_for(make_app, role, people):
    client = make_app().test_client()
    if role != "anonymous":
        assert AuthActions(client).login(people[role].email).status_code == 302
    return client


ADMIN_ROW_IDS = {"post": "post_id", "mailing": "mailing_id", "client": "client_id", "message": "message_id",
                 "user": "user_id"}


def _blueprint(endpoint: str) -> str:
    return "admin" if endpoint.startswith("admin") else endpoint.split(".", 1)[0]


def _get_routes(app, ids):
    for rule in app.url_map.iter_rules():
        blueprint = _blueprint(rule.endpoint)
        if "GET" not in rule.methods or blueprint not in EXPECTED_GET:
            continue
        if rule.arguments - set(ids) or rule.endpoint.endswith((".static", ".export", ".ajax_lookup", ".details_view")):
            continue  # static files; admin exports, lookups and details (not offered) have their own rules
        url = rule.build({a: ids[a] for a in rule.arguments})[1]
        if rule.endpoint.endswith((".edit_view", ".details_view")):
            model = rule.endpoint.split(".")[0].removeprefix("admin_")
            url += f"?id={ids[ADMIN_ROW_IDS[model]]}"
        yield blueprint, rule, url


def _allowed(blueprint, rule, role):
    if EXPECTED_GET[blueprint] is WORKSPACE and not rule.arguments and role in LIST_ROLES_OK:
        return OK
    if blueprint == "admin" and role == "superuser" and rule.endpoint.endswith(".create_view"):
        return {200, 302}  # a model whose admin offers no "create" sends back to its list
    if blueprint == "admin" and role == "content_manager":
        return OK if rule.endpoint in ("admin.index",) or rule.endpoint.startswith("admin_post.") else {403}
    return EXPECTED_GET[blueprint][role]


@pytest.mark.parametrize("role", ROLES)
def test_every_get_route_answers_each_role_as_its_blueprint_says(make_app, app, world, role):
    people, ids = world
    client = _client_for(make_app, role, people)
    walked = 0
    for blueprint, rule, url in _get_routes(app, ids):
        response = client.get(url)
        # A streamed export holds its request context until it is read or closed; closed here,
        # as a server would, before the next request pushes its own.
        response.close()
        expected = _allowed(blueprint, rule, role)
        walked += 1
        if expected == SIGN_IN:
            assert response.status_code == 302 and "/auth/login" in response.location, url
        else:
            assert response.status_code in expected, (url, response.status_code)
    assert walked >= 35


# The API (tests/test_api_role_matrix.py has its tokens) takes no session: a browser signed in
# to the site cannot be made to call it, so a cookie alone gets 401.
API = "api_"


def _refusals(rule, refusals: set[int]) -> set[int]:
    return {401} if rule.endpoint.startswith(API) else refusals


def _snapshot(db):
    db.session.expire_all()
    return {
        "mailings": db.session.execute(sa.select(Mailing.id, Mailing.status, Mailing.start_at, Mailing.end_at,
                                                 Mailing.message_id).order_by(Mailing.id)).all(),
        "messages": db.session.execute(sa.select(Message.id, Message.subject, Message.body)).all(),
        "clients": db.session.execute(sa.select(Client.id, Client.email, Client.full_name,
                                                Client.unsubscribed_at).order_by(Client.id)).all(),
        "users": db.session.execute(sa.select(User.id, User.email, User.full_name, User.role, User.active,
                                              User.is_superuser, User.password_hash).order_by(User.id)).all(),
        "posts": db.session.execute(sa.select(Post.id, Post.title, Post.body)).all(),
    }


# A manager's own account and language, and the manager's own two decisions.
MANAGER_MAY_POST = {"auth.", "main.set_language", "manager.", "unsubscribe."}


def test_a_manager_can_change_nothing_of_anyone_but_block_users_and_stop_mailings(make_app, app, db, world):
    people, ids = world
    before = _snapshot(db)
    client = _client_for(make_app, "manager", people)
    token = csrf_token(client, "/auth/profile")
    walked = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint.startswith(tuple(MANAGER_MAY_POST)):
            continue
        if rule.arguments - set(ids) - {"id"}:
            continue
        values = {a: ids.get(a, ids["mailing_id"]) for a in rule.arguments}
        url = rule.build(values)[1]
        if rule.endpoint.startswith("admin") and "id" not in rule.arguments:
            url += f"?id={ids['mailing_id']}"
        response = client.post(url, data={"csrf_token": token, "subject": "hacked", "email": "x@example.com",
                                          "full_name": "hacked", "message_id": ids["message_id"],
                                          "client_ids": ids["client_id"], "start_at": "2030-01-01T10:00",
                                          "end_at": "2030-02-01T10:00", "frequency": "daily", "title": "hacked",
                                          "body": "hacked", "id": ids["mailing_id"]})
        walked.append(rule.endpoint)
        assert response.status_code in _refusals(rule, {403, 404}), (url, response.status_code)

    assert len(walked) >= 15, walked
    assert _snapshot(db) == before


# Routes that are anyone's own business: their account, their language, unsubscribing by token.
ANYONE_MAY_POST = ("auth.", "main.set_language", "unsubscribe.")
POST_EXPECTED = {"anonymous": SIGN_IN, "other": {403, 404}, "content_manager": {403, 404}}


@pytest.mark.parametrize("role", list(POST_EXPECTED))
def test_every_post_route_on_the_owners_objects_refuses_everyone_else(make_app, app, db, world, role):
    """Another user, a content manager or a visitor posting to each route of the owner's objects
    (mailings, messages, clients, admin rows, manager actions) changes nothing."""
    people, ids = world
    before = _snapshot(db)
    client = _client_for(make_app, role, people)
    token = csrf_token(client, "/auth/login" if role == "anonymous" else "/auth/profile")
    walked = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint.startswith(ANYONE_MAY_POST):
            continue
        if role == "content_manager" and rule.endpoint.startswith(("admin_post.", "admin.")):
            continue  # the blog is theirs to edit
        if role != "anonymous" and not rule.arguments and not rule.endpoint.startswith(("admin", "manager.")):
            continue  # "new ..." and the like: a signed-in person's own workspace
        if rule.arguments - set(ids) - {"id"}:
            continue
        url = rule.build({a: ids.get(a, ids["mailing_id"]) for a in rule.arguments})[1]
        if rule.endpoint.startswith("admin") and "id" not in rule.arguments:
            url += f"?id={ids['mailing_id']}"
        response = client.post(url, data={"csrf_token": token, "subject": "hacked", "email": "x@example.com",
                                          "full_name": "hacked", "message_id": ids["message_id"],
                                          "client_ids": ids["client_id"], "start_at": "2030-01-01T10:00",
                                          "end_at": "2030-02-01T10:00", "frequency": "daily",
                                          "title": "hacked", "body": "hacked", "reason": "hacked",
                                          "id": ids["mailing_id"]})
        walked.append(rule.endpoint)
        if rule.endpoint.startswith(API):
            assert response.status_code == 401, (url, response.status_code)
        elif POST_EXPECTED[role] == SIGN_IN and not rule.endpoint.startswith("admin"):
            assert response.status_code == 302 and "/auth/login" in response.location, url
        else:
            assert response.status_code in (403, 404), (url, response.status_code)
        assert "hacked" not in response.get_data(as_text=True)

    assert len(walked) >= 15, walked
    assert _snapshot(db) == before
    print(f"\n{role}: {len(walked)} POST routes tried")


OWNERS_SECRETS = ("Weekly news", "c0@", "Client 0")


@pytest.mark.parametrize("role", ["anonymous", "other", "content_manager"])
def test_no_page_shows_the_owners_data_to_anyone_else(make_app, app, world, role):
    people, ids = world
    client = _client_for(make_app, role, people)
    walked = 0
    for blueprint, rule, url in _get_routes(app, ids):
        if blueprint == "admin":
            continue  # the content manager's admin shows posts only (walked above)
        page = client.get(url, follow_redirects=True).get_data(as_text=True)
        walked += 1
        leaked = [secret for secret in OWNERS_SECRETS if secret in page]
        assert not leaked, (url, leaked)
    assert walked >= 20
    print(f"\n{role}: {walked} pages read, nothing of the owner's")


def test_the_owners_own_exports_hold_what_no_one_else_may_read(make_app, world):
    """The check above means something for the exports: the owner's own hold the secrets."""
    people, ids = world
    client = _client_for(make_app, "owner", people)
    for url in ("/clients/export.csv", "/attempts/export.csv", "/attempts/deliveries.csv",
                f"/mailings/{ids['mailing_id']}/attempts/{ids['attempt_id']}/deliveries.csv"):
        text = client.get(url).get_data(as_text=True)
        assert "Weekly news" in text or "c0@" in text, url
    exported = client.get("/attempts/deliveries.csv").get_data(as_text=True)
    assert all(secret in exported for secret in OWNERS_SECRETS)


def test_an_id_no_row_can_have_is_a_404_on_every_route(app, world, make_app):
    """Ids beyond PostgreSQL's INTEGER (or zero) name nothing: never a database error."""
    people, ids = world
    client = _client_for(make_app, "owner", people)
    walked = 0
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.arguments - set(ids) or "GET" not in rule.methods:
            continue
        for impossible in (0, 2**31, 10**20):
            path = rule.build({a: ids[a] for a in rule.arguments})[1]
            path = path.replace(f"/{ids[sorted(rule.arguments)[0]]}", f"/{impossible}", 1)
            assert client.get(path).status_code == 404, path
            walked += 1
    assert walked >= 20


@pytest.mark.parametrize("role", ["owner", "manager"])
def test_a_search_with_a_nul_or_wildcards_is_an_empty_result_not_an_error(make_app, world, role):
    people, _ids = world
    client = _client_for(make_app, role, people)
    paths = ["/clients/?q=", "/messages/?q=", "/mailings/?q=", "/clients/search.json?q="] if role == "owner" \
        else ["/manager/mailings?owner=", "/manager/users?q="]
    for path in paths:
        for q in ("%00", "a%00b", "%25_%5C", "%00%00%00"):
            assert client.get(path + q).status_code == 200, path + q
