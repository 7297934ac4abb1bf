"""API tokens in the profile: made with a name and a lifetime, shown once, listed, revoked."""
import hashlib
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from mailer import api_tokens
from mailer.models import ApiToken, Role
from tests.conftest import csrf_token, submit

SECRET_RE = re.compile(r'value="(mlr_[A-Za-z0-9_-]{43})"')


def create_token(client, **fields):
    data = {"name": "Shop sync", "lifetime": "90", **fields}
    return submit(client, "/auth/profile/api-tokens", data, form_url="/auth/profile")


def revoke(client, token_id: int, **kwargs):
    return submit(client, f"/auth/profile/api-tokens/{token_id}/revoke", {}, form_url="/auth/profile", **kwargs)


def shown_secret(response) -> str:
    found = SECRET_RE.findall(response.get_data(as_text=True))
    assert len(found) == 1, found
    return found[0]


def saved_tokens(db, user=None) -> list[ApiToken]:
    query = sa.select(ApiToken).order_by(ApiToken.id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(db.session.scalars(query))


def test_the_profile_offers_a_token_with_its_lifetimes_and_a_link_to_the_reference(client, owner):
    page = client.get("/auth/profile").get_data(as_text=True)

    assert "API tokens" in page
    assert 'action="/auth/profile/api-tokens"' in page
    assert '<option selected value="90">90 days</option>' in page
    assert all(f'value="{value}"' in page for value in ("30", "365", "never"))
    assert 'href="/api/v1/docs"' in page
    assert "Authorization: Bearer &lt;token&gt;" in page
    assert "You have no API tokens." in page


def test_a_new_token_is_shown_once_and_never_kept(client, db, owner):
    response = create_token(client, name="Shop sync")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = shown_secret(response)
    page = response.get_data(as_text=True)
    assert "Copy it now: it will not be shown again." in page
    assert 'id="new-token"' in page and 'for="new-token"' in page and "readonly" in page
    with client.session_transaction() as session:
        assert secret not in repr(dict(session))
    again = client.get("/auth/profile")
    assert secret not in again.get_data(as_text=True)
    assert "Copy it now" not in again.get_data(as_text=True)


def test_the_stored_row_holds_the_secrets_sha256_not_the_secret(client, db, owner):
    secret = shown_secret(create_token(client, name="Shop sync"))

    [token] = saved_tokens(db, owner)
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12]
    assert secret not in (token.name, token.token_hash, token.prefix)
    assert token.name == "Shop sync"
    assert api_tokens.owner_of(secret).id == owner.id


@pytest.mark.parametrize("lifetime, days", [("30", 30), ("90", 90), ("365", 365), ("never", None)])
def test_a_token_lasts_as_long_as_chosen(client, db, owner, lifetime, days):
    create_token(client, lifetime=lifetime)

    [token] = saved_tokens(db, owner)
    if days is None:
        assert token.expires_at is None
    else:
        assert token.expires_at - token.created_at == timedelta(days=days)


def test_the_list_shows_each_token_by_name_and_prefix_in_the_users_zone(client, db, owner):
    made = datetime(2030, 1, 15, 3, 0, tzinfo=timezone.utc)  # 10 PM on the 14th in New York
    db.session.add_all([
        ApiToken(user_id=owner.id, name="Shop sync", token_hash="a" * 64, prefix="mlr_AbCdEfGh",
                 created_at=made, expires_at=made + timedelta(days=30)),
        ApiToken(user_id=owner.id, name="Reports <script>", token_hash="b" * 64, prefix="mlr_ZyXwVuTs",
                 created_at=made, expires_at=None, last_used_at=made + timedelta(days=1)),
    ])
    db.session.commit()

    page = client.get("/auth/profile").get_data(as_text=True)

    assert "Shop sync" in page and "<code>mlr_AbCdEfGh…</code>" in page
    assert "Reports &lt;script&gt;" in page and "<code>mlr_ZyXwVuTs…</code>" in page
    assert "1/14/30, 10:00" in page  # created, in the owner's zone
    assert "2/13/30, 10:00" in page  # expires
    assert "1/15/30, 10:00" in page  # last used
    assert ">Never<" in page and ">Never used<" in page
    assert "You have no API tokens." not in page


def test_the_revoke_button_asks_first_and_carries_csrf(client, db, owner):
    create_token(client, name="Shop sync")
    [token] = saved_tokens(db, owner)

    page = client.get("/auth/profile").get_data(as_text=True)

    form = re.search(rf'<form method="post" action="/auth/profile/api-tokens/{token.id}/revoke"[^>]*>(.*?)</form>',
                     page, re.S)
    assert form and "data-confirm=" in form.group(0) and 'name="csrf_token"' in form.group(1)


def test_revoking_a_token_deletes_it(client, db, owner):
    create_token(client, name="Shop sync")
    secret = shown_secret(create_token(client, name="Old script"))
    first, second = saved_tokens(db, owner)

    page = revoke(client, second.id, follow_redirects=True)

    assert page.request.path == "/auth/profile"
    assert "Token revoked." in page.get_data(as_text=True)
    assert [t.id for t in saved_tokens(db, owner)] == [first.id]
    assert api_tokens.owner_of(secret) is None


def test_another_users_token_cannot_be_revoked(client, db, owner, make_user):
    other = make_user(email="other@example.com")
    theirs = api_tokens.create_token(other, "Their sync", 30).token

    response = revoke(client, theirs.id)

    assert response.status_code == 404
    assert [t.id for t in saved_tokens(db, other)] == [theirs.id]


def test_revoking_a_token_that_is_gone_is_a_404(client, db, owner):
    assert revoke(client, 12345).status_code == 404


@pytest.mark.parametrize("fields, message", [
    ({"name": ""}, "Name the token after the program that will use it."),
    ({"name": "   "}, "Name the token after the program that will use it."),
    ({"name": "Shop\x00sync"}, "The text contains a NUL character"),
    ({"name": "x" * 101}, "A token&#39;s name is at most 100 characters"),
    ({"lifetime": "7"}, "Choose how long the token lasts."),
    ({"lifetime": ""}, "Choose how long the token lasts."),
])
def test_bad_token_input_is_explained_beside_its_field_and_stores_nothing(client, db, owner, fields, message):
    response = create_token(client, **fields)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert re.search(r'class="form-(control|select) is-invalid"[^>]*id="token-(name|lifetime)"', page)
    assert not SECRET_RE.search(page)
    assert saved_tokens(db) == []


def test_a_full_set_of_tokens_refuses_one_more(client, db, owner):
    for n in range(api_tokens.MAX_TOKENS):
        api_tokens.create_token(owner, f"Program {n}", 30)

    response = create_token(client, name="One too many")

    assert response.status_code == 400
    assert "the most one may hold" in response.get_data(as_text=True)
    assert len(saved_tokens(db, owner)) == api_tokens.MAX_TOKENS


def test_a_manager_may_hold_tokens(client, db, make_user, auth):
    manager = make_user(email="boss@example.com", role=Role.MANAGER)
    auth.login("boss@example.com")

    assert "API tokens" in client.get("/auth/profile").get_data(as_text=True)
    assert create_token(client).status_code == 200
    assert len(saved_tokens(db, manager)) == 1


def test_a_content_manager_sees_no_tokens_and_may_not_make_or_revoke_one(client, db, make_user, auth):
    someone = make_user(email="someone@example.com")
    theirs = api_tokens.create_token(someone, "Their sync", 30).token
    make_user(email="editor@example.com", role=Role.CONTENT_MANAGER)
    auth.login("editor@example.com")

    page = client.get("/auth/profile").get_data(as_text=True)
    # A valid CSRF token, so that the role guard, not the missing token, is what refuses.
    token = csrf_token(client, "/auth/profile")
    made = client.post("/auth/profile/api-tokens", data={"csrf_token": token, "name": "Mine", "lifetime": "90"})
    revoked = client.post(f"/auth/profile/api-tokens/{theirs.id}/revoke", data={"csrf_token": token})

    assert "API tokens" not in page and "/auth/profile/api-tokens" not in page
    assert made.status_code == 403
    assert revoked.status_code == 403
    assert [t.id for t in saved_tokens(db)] == [theirs.id]


def test_without_a_csrf_token_nothing_is_made_or_revoked(client, db, owner):
    create_token(client, name="Kept")
    [kept] = saved_tokens(db, owner)

    made = client.post("/auth/profile/api-tokens", data={"name": "Forged", "lifetime": "never"})
    revoked = client.post(f"/auth/profile/api-tokens/{kept.id}/revoke")

    assert made.status_code == 400 and "The form has expired" in made.get_data(as_text=True)
    assert revoked.status_code == 400
    assert [t.id for t in saved_tokens(db, owner)] == [kept.id]


def test_the_token_routes_are_post_only_and_need_a_sign_in(client, db, owner, auth):
    assert client.get("/auth/profile/api-tokens").status_code == 405
    assert client.get("/auth/profile/api-tokens/1/revoke").status_code == 405
    auth.logout()
    token = csrf_token(client, "/auth/login")
    response = client.post("/auth/profile/api-tokens", data={"csrf_token": token, "name": "x", "lifetime": "90"})
    assert response.status_code == 302 and "/auth/login" in response.location
    assert saved_tokens(db) == []
