"""Managers: see every mailing and user, block and unblock users, stop mailings; edit nothing."""
import re
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from mailer.models import AttemptStatus, Bounce, Client, MailingStatus, Role, User
from mailer.signals import mailing_changed
from tests.conftest import AuthActions, csrf_token, submit
from tests.workspace import make_mailing
from tests.factories import AttemptFactory, DeliveryFactory

NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)


@pytest.fixture
def manager(make_user, auth):
    user = make_user(email="manager@example.com", role=Role.MANAGER, language="en")
    auth.login("manager@example.com")
    return user


@pytest.fixture
def anna(make_user):
    return make_user(email="anna@example.com", full_name="Anna Owner", language="en")


@pytest.fixture
def boris(make_user):
    return make_user(email="boris@example.com", full_name="Boris Owner", language="en")


def test_manager_sees_every_mailing_with_its_owner(client, db, manager, anna, boris):
    make_mailing(db, anna, subject="Anna's news")
    make_mailing(db, boris, subject="Boris's offers", status=MailingStatus.PAUSED)

    page = client.get("/manager/mailings").get_data(as_text=True)

    assert "Anna&#39;s news" in page and "Boris&#39;s offers" in page
    assert "anna@example.com" in page and "boris@example.com" in page


@pytest.mark.parametrize("query, shown, hidden", [
    ("?status=paused", "Boris", "Anna"),
    ("?owner=ANNA", "Anna", "Boris"),
    ("?owner=boris%40example&status=paused", "Boris", "Anna"),
])
def test_manager_filters_mailings_by_status_and_owner(client, db, manager, anna, boris, query, shown, hidden):
    make_mailing(db, anna, subject="Anna news")
    make_mailing(db, boris, subject="Boris offers", status=MailingStatus.PAUSED)

    page = client.get(f"/manager/mailings{query}").get_data(as_text=True)

    assert f"{shown} " in page.split("<tbody>")[1]
    assert f"{hidden} " not in page.split("<tbody>")[1]


def test_unknown_status_filter_is_explained(client, manager, db, anna):
    make_mailing(db, anna, subject="Anna news")

    page = client.get("/manager/mailings?status=burning").get_data(as_text=True)

    assert "Unknown status" in page and "Anna news" in page


def test_manager_reads_a_mailing_with_its_attempts(client, db, manager, anna):
    mailing = make_mailing(db, anna, subject="Anna news")
    AttemptFactory(mailing=mailing, occurrence_at=mailing.start_at, status=AttemptStatus.PARTIAL,
                   sent_count=4, failed_count=1, server_response="550 5.1.1 User unknown")
    db.session.commit()

    page = client.get(f"/manager/mailings/{mailing.id}").get_data(as_text=True)

    assert "Anna news" in page and "anna@example.com" in page and "550 5.1.1 User unknown" in page
    assert "Hello {{ client.full_name }}" in page
    assert f"/mailings/{mailing.id}/edit" not in page


def test_manager_stops_a_mailing_and_the_owner_cannot_resume_it(client, db, manager, anna, make_app):
    mailing = make_mailing(db, anna, subject="Anna news")
    seen = []
    with mailing_changed.connected_to(lambda sender, mailing, change: seen.append(change)):
        submit(client, f"/manager/mailings/{mailing.id}/stop", {"reason": "Spam complaints"},
               form_url=f"/manager/mailings/{mailing.id}")

    db.session.refresh(mailing)
    assert mailing.status is MailingStatus.STOPPED and mailing.stop_reason == "Spam complaints"
    assert seen == ["stopped"]
    owner_client = make_app().test_client()
    AuthActions(owner_client).login("anna@example.com")
    detail = owner_client.get(f"/mailings/{mailing.id}").get_data(as_text=True)
    resumed = submit(owner_client, f"/mailings/{mailing.id}/resume", {}, form_url="/mailings/",
                     follow_redirects=True).get_data(as_text=True)
    assert "Spam complaints" in detail and "cannot be resumed" in resumed
    db.session.refresh(mailing)
    assert mailing.status is MailingStatus.STOPPED


@pytest.mark.parametrize("reason, words", [
    ("  ", "Say why the mailing is stopped."),
    ("Spam\x00", "The text contains a NUL character"),  # answered 500 (PostgreSQL)
])
def test_stopping_needs_a_reason(client, db, manager, anna, reason, words):
    mailing = make_mailing(db, anna)

    page = submit(client, f"/manager/mailings/{mailing.id}/stop", {"reason": reason},
                  form_url=f"/manager/mailings/{mailing.id}", follow_redirects=True).get_data(as_text=True)

    assert words in page
    db.session.refresh(mailing)
    assert mailing.status is MailingStatus.CREATED


def test_users_list_shows_counts_of_clients_and_mailings(client, db, manager, anna, boris):
    mailing = make_mailing(db, anna, clients=3)
    make_mailing(db, anna, clients=2, status=MailingStatus.PAUSED)
    bounced, complained = db.session.scalars(sa.select(Client).where(Client.owner_id == anna.id)
                                             .order_by(Client.id).limit(2)).all()
    bounced.suppressed_at = complained.unsubscribed_at = datetime.now(timezone.utc)
    DeliveryFactory(client=complained, attempt=AttemptFactory(mailing=mailing), bounce=Bounce.COMPLAINT)
    db.session.commit()

    page = client.get("/manager/users").get_data(as_text=True)

    anna_row = page.split("anna@example.com", 1)[1].split("</tr>", 1)[0]
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in anna_row.split("</td>")]
    # clients, suppressed, complaints, mailings, active mailings
    assert cells[3:8] == ["5", "1", "1", "2", "1"]


def test_blocking_signs_the_user_out_stops_sending_and_unblocking_restores(client, db, manager, anna, make_app):
    mailing = make_mailing(db, anna)
    anna_client = make_app().test_client()
    AuthActions(anna_client).login("anna@example.com")
    assert anna_client.get("/mailings/").status_code == 200
    seen = []

    with mailing_changed.connected_to(lambda sender, mailing, change: seen.append((mailing.id, change))):
        submit(client, f"/manager/users/{anna.id}/block", {}, form_url="/manager/users")
        db.session.refresh(anna)
        assert not anna.active
        signed_out = anna_client.get("/mailings/")
        again = AuthActions(anna_client).login("anna@example.com")
        submit(client, f"/manager/users/{anna.id}/unblock", {}, form_url="/manager/users")

    assert signed_out.status_code == 302 and "/auth/login" in signed_out.location
    assert "This account is blocked" in again.get_data(as_text=True)
    assert seen == [(mailing.id, "owner-blocked"), (mailing.id, "owner-unblocked")]
    db.session.refresh(anna)
    assert anna.active
    assert AuthActions(anna_client).login("anna@example.com").location == "/"


def test_managers_cannot_block_themselves_or_other_managers(client, db, manager, make_user):
    other = make_user(email="other.manager@example.com", role=Role.MANAGER)

    mine = submit(client, f"/manager/users/{manager.id}/block", {}, form_url="/manager/users",
                  follow_redirects=True).get_data(as_text=True)
    theirs = submit(client, f"/manager/users/{other.id}/block", {}, form_url="/manager/users",
                    follow_redirects=True).get_data(as_text=True)

    assert "You cannot block yourself." in mine
    assert "cannot be blocked here" in theirs
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.active.is_(False))) == 0


@pytest.mark.parametrize("url", ["/manager/mailings/999999", "/manager/users/999999/block"])
def test_unknown_ids_are_404(client, manager, url):
    response = client.get(url) if "block" not in url else submit(client, url, {}, form_url="/manager/users")

    assert response.status_code == 404


@pytest.mark.parametrize("role", [Role.USER, Role.CONTENT_MANAGER])
def test_only_managers_open_the_manager_pages(client, db, make_user, auth, anna, role):
    make_user(email="someone@example.com", role=role)
    auth.login("someone@example.com")
    mailing = make_mailing(db, anna)

    for url in ("/manager/mailings", f"/manager/mailings/{mailing.id}", "/manager/users"):
        assert client.get(url).status_code == 403, url
    # A valid CSRF token, so that the role guard, not the missing token, is what refuses.
    blocked = client.post(f"/manager/users/{anna.id}/block", data={"csrf_token": csrf_token(client, "/")})
    assert blocked.status_code == 403
    db.session.refresh(anna)
    assert anna.active


def test_anonymous_is_sent_to_sign_in(client):
    assert "/auth/login" in client.get("/manager/users").location


def test_manager_lists_run_a_fixed_number_of_queries(app, client, db, manager, anna, make_user):
    from tests.test_mailings import _statements_for

    make_mailing(db, anna)
    few = {url: _statements_for(app, client, url) for url in ("/manager/mailings", "/manager/users")}
    for n in range(15):
        make_mailing(db, make_user(email=f"owner{n}@example.com"), clients=2)

    many = {url: _statements_for(app, client, url) for url in ("/manager/mailings", "/manager/users")}

    assert many == few


def test_block_buttons_keep_the_lists_query_even_one_named_like_the_user(client, db, manager, anna):
    """The block form returns to the same filtered list; a stray ``user_id`` argument in that
    list's query never breaks the page (it made url_for get the argument twice)."""
    page = client.get("/manager/users?q=anna&user_id=999").get_data(as_text=True)

    assert f'action="/manager/users/{anna.id}/block?q=anna"' in page
