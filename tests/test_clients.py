"""Clients: the list, search, add, edit, delete, and the JSON search for mailing forms."""
import html
import re
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from mailer.extensions import db as app_db
from mailer.models import Client, Role
from tests.conftest import submit
from tests.factories import ClientFactory


def add_clients(db, owner, count, **fields):
    clients = [
        ClientFactory(owner=owner, email=f"client{n:03d}@example.com", full_name=f"Client {n:03d}",
                      **fields)
        for n in range(count)
    ]
    db.session.add_all(clients)
    db.session.commit()
    return clients


def saved_clients(db, owner):
    db.session.expire_all()
    return db.session.scalars(
        sa.select(Client).where(Client.owner_id == owner.id).order_by(Client.email)
    ).all()


def save_client(client, url="/clients/new", **fields):
    data = {"email": "anna@example.com", "full_name": "Анна Петрова", "comment": "", **fields}
    return submit(client, url, data, follow_redirects=True)


def test_new_client_is_added_and_listed(client, db, owner):
    page = save_client(client, email="  Anna@Example.COM ", comment="Met at the fair")

    text = page.get_data(as_text=True)
    assert "Client anna@example.com added." in text
    assert "Анна Петрова" in text
    [saved] = saved_clients(db, owner)
    assert (saved.email, saved.full_name, saved.comment) == (
        "anna@example.com", "Анна Петрова", "Met at the fair"
    )


def test_client_can_be_edited(client, db, owner):
    [existing] = add_clients(db, owner, 1)

    page = save_client(client, f"/clients/{existing.id}/edit", email="new@example.com",
                       full_name="New Name", comment="changed")

    assert "Client new@example.com saved." in page.get_data(as_text=True)
    [saved] = saved_clients(db, owner)
    assert (saved.id, saved.email, saved.full_name, saved.comment) == (
        existing.id, "new@example.com", "New Name", "changed"
    )


def test_edit_page_shows_the_clients_details(client, db, owner):
    [existing] = add_clients(db, owner, 1, comment="VIP")

    page = client.get(f"/clients/{existing.id}/edit").get_data(as_text=True)

    assert 'value="client000@example.com"' in page
    assert 'value="Client 000"' in page
    assert "VIP" in page
    assert f'action="/clients/{existing.id}/delete"' in page


def test_client_can_be_deleted(client, db, owner):
    first, second = add_clients(db, owner, 2)

    page = submit(client, f"/clients/{first.id}/delete", {}, form_url="/clients/",
                  follow_redirects=True)

    assert "Client client000@example.com deleted." in page.get_data(as_text=True)
    assert [c.id for c in saved_clients(db, owner)] == [second.id]


def test_delete_form_asks_for_confirmation_and_carries_csrf(client, db, owner):
    add_clients(db, owner, 1)

    page = client.get("/clients/").get_data(as_text=True)

    assert 'data-confirm="Delete the client client000@example.com?' in page
    assert 'name="csrf_token"' in page


def test_delete_without_csrf_token_is_refused(client, db, owner):
    [existing] = add_clients(db, owner, 1)

    response = client.post(f"/clients/{existing.id}/delete")

    assert response.status_code == 400
    assert len(saved_clients(db, owner)) == 1


def test_delete_is_post_only(client, db, owner):
    [existing] = add_clients(db, owner, 1)

    assert client.get(f"/clients/{existing.id}/delete").status_code == 405
    assert len(saved_clients(db, owner)) == 1


@pytest.mark.parametrize("email", ["anna@example.com", "ANNA@example.com", " Anna@EXAMPLE.com "])
def test_duplicate_email_in_any_case_is_refused(client, db, owner, email):
    ClientFactory(owner=owner, email="anna@example.com", full_name="First")
    db.session.commit()

    page = save_client(client, email=email, full_name="Second")

    assert "You already have a client with this e-mail." in page.get_data(as_text=True)
    assert [c.full_name for c in saved_clients(db, owner)] == ["First"]


def test_edit_to_another_clients_email_is_refused(client, db, owner):
    first, second = add_clients(db, owner, 2)

    page = save_client(client, f"/clients/{second.id}/edit", email="CLIENT000@example.com")

    assert "You already have a client with this e-mail." in page.get_data(as_text=True)
    assert [c.email for c in saved_clients(db, owner)] == [
        "client000@example.com", "client001@example.com"
    ]


def test_edit_keeping_own_email_in_other_case_is_fine(client, db, owner):
    [existing] = add_clients(db, owner, 1)

    page = save_client(client, f"/clients/{existing.id}/edit", email="Client000@Example.com",
                       full_name="Renamed")

    assert "saved." in page.get_data(as_text=True)
    assert saved_clients(db, owner)[0].full_name == "Renamed"


def test_same_email_for_another_owner_is_fine(client, db, make_user, owner):
    other = make_user(email="other@example.com")
    ClientFactory(owner=other, email="anna@example.com")
    db.session.commit()

    page = save_client(client)

    assert "Client anna@example.com added." in page.get_data(as_text=True)
    assert len(saved_clients(db, owner)) == 1


@pytest.mark.parametrize("fields, message", [
    ({"email": "not-an-email"}, "Enter a valid e-mail address."),
    ({"email": "anna@"}, "Enter a valid e-mail address."),
    ({"email": ""}, "Enter the client"),
    ({"email": "a" * 250 + "@example.com"}, "The e-mail is too long"),
    ({"full_name": "x" * 201}, "The name is too long (at most 200 characters)."),
    ({"full_name": "Anna\nPetrova"}, "The name must be one line without control characters."),
    ({"full_name": "Anna\x07"}, "The name must be one line without control characters."),
    ({"comment": "x" * 2001}, "The comment is too long (at most 2000 characters)."),
    ({"comment": "Call\x00me"}, "The text contains a NUL character"),  # answered 500 (PostgreSQL)
])
def test_bad_input_is_explained_and_nothing_is_written(client, db, owner, fields, message):
    page = save_client(client, **fields)

    assert page.status_code == 200
    assert message in page.get_data(as_text=True)
    assert saved_clients(db, owner) == []


def test_list_is_ordered_by_email_and_shows_actions(client, db, owner):
    for email in ["zoe@example.com", "adam@example.com", "mike@example.com"]:
        ClientFactory(owner=owner, email=email)
    db.session.commit()

    page = client.get("/clients/").get_data(as_text=True)

    positions = [page.index(e) for e in ["adam@", "mike@", "zoe@"]]
    assert positions == sorted(positions)
    for link in ["/clients/new", "/clients/import", "/clients/export.csv"]:
        assert f'href="{link}"' in page
    assert 'class="table-responsive"' in page


def test_empty_list_says_what_to_do_next(client, owner):
    page = client.get("/clients/").get_data(as_text=True)

    assert "No clients yet." in page
    assert 'href="/clients/new"' in page
    assert 'href="/clients/import"' in page


def test_unsubscribed_client_has_a_badge(client, db, owner):
    ClientFactory(owner=owner, email="gone@example.com",
                  unsubscribed_at=datetime(2024, 5, 1, tzinfo=timezone.utc))
    ClientFactory(owner=owner, email="here@example.com")
    db.session.commit()

    page = client.get("/clients/").get_data(as_text=True)

    assert page.count(">unsubscribed</span>") == 1
    gone_row = page[page.index("gone@example.com"):page.index("here@example.com")]
    assert "unsubscribed</span>" in gone_row


PAGE_LINK = re.compile(r'<a class="page-link" href="([^"]+)">([^<]+)</a>')


def page_links(page: str) -> dict[str, str]:
    """The list's page links by what they say: First, Previous, Next, Last."""
    return {label.strip("«‹›» "): html.unescape(url) for url, label in PAGE_LINK.findall(page)}


def emails_on(page: str) -> list[str]:
    """The clients listed, in order (each row names its client twice: shown and in its
    delete button's question)."""
    return list(dict.fromkeys(re.findall(r"client\d{3}@example\.com", page)))


def test_pages_follow_each_other_through_sixty_clients_and_back(client, db, owner):
    add_clients(db, owner, 60)
    everyone = [f"client{n:03d}@example.com" for n in range(60)]

    first = client.get("/clients/").get_data(as_text=True)
    second = client.get(page_links(first)["Next"]).get_data(as_text=True)
    third = client.get(page_links(second)["Next"]).get_data(as_text=True)
    back = client.get(page_links(third)["Previous"]).get_data(as_text=True)
    last = client.get(page_links(first)["Last"]).get_data(as_text=True)

    assert emails_on(first) + emails_on(second) + emails_on(third) == everyone
    assert set(page_links(first)) == {"Next", "Last"}  # nothing before the first page
    assert set(page_links(third)) == {"First", "Previous"}
    assert emails_on(back) == everyone[25:50]
    assert emails_on(last) == everyone[35:]
    assert emails_on(client.get(page_links(last)["First"]).get_data(as_text=True)) == everyone[:25]
    assert "Clients: 60" in last


def test_a_page_is_never_found_from_someone_elses_client(client, db, owner, make_user):
    add_clients(db, owner, 30)
    stranger = ClientFactory(owner=make_user(email="other@example.com"), email="zz@example.com")
    db.session.commit()

    page = client.get(f"/clients/?after={stranger.id}").get_data(as_text=True)

    assert emails_on(page) == [f"client{n:03d}@example.com" for n in range(25)]
    assert client.get("/clients/?after=99999999999").status_code == 200
    assert client.get("/clients/?before=abc&at=first").status_code == 200


def test_a_client_deleted_meanwhile_still_leads_to_the_next_page(client, db, owner):
    clients = add_clients(db, owner, 30)
    first = client.get("/clients/").get_data(as_text=True)
    app_db.session.delete(clients[24])  # the last one on the first page, whose id "Next" names
    app_db.session.commit()

    after = client.get(page_links(first)["Next"]).get_data(as_text=True)

    # Its id no longer names a row: the list starts again rather than failing.
    assert emails_on(after)[0] == "client000@example.com"


@pytest.mark.parametrize("q, expected", [
    ("ANNA", ["anna@example.com"]),
    ("петров", ["anna@example.com", "boris@example.com"]),
    ("example.org", ["carl@example.org"]),
    ("100%", ["percent@example.com"]),
    ("_", ["under_score@example.com"]),
])
def test_search_matches_email_and_name_case_insensitively(client, db, owner, q, expected):
    for email, name in [
        ("anna@example.com", "Анна Петрова"),
        ("boris@example.com", "Борис Петров"),
        ("carl@example.org", "Carl"),
        ("percent@example.com", "Sale 100% off"),
        ("under_score@example.com", ""),
    ]:
        ClientFactory(owner=owner, email=email, full_name=name)
    db.session.commit()

    page = client.get("/clients/", query_string={"q": q}).get_data(as_text=True)

    shown = [e for e in ["anna@", "boris@", "carl@", "percent@", "under_score@"] if e in page]
    assert shown == [e.split("@")[0] + "@" for e in expected]


def test_search_without_match_offers_to_show_all(client, db, owner):
    add_clients(db, owner, 3)

    page = client.get("/clients/?q=nobody").get_data(as_text=True)

    assert "No clients match “nobody”." in page
    assert "client000@" not in page


def test_search_keeps_the_query_across_pages(client, db, owner):
    add_clients(db, owner, 30)
    add_clients_named = ClientFactory(owner=owner, email="zed@example.org", full_name="Zed")
    db.session.commit()

    first = client.get("/clients/?q=client0").get_data(as_text=True)
    second = client.get(page_links(first)["Next"]).get_data(as_text=True)

    assert "q=client0" in page_links(first)["Next"]
    assert emails_on(second) == [f"client{n:03d}@example.com" for n in range(25, 30)]
    assert add_clients_named.email not in second and "Clients: 30" in second


def test_managers_may_not_open_clients(client, make_user, auth):
    make_user(email="manager@example.com", role=Role.MANAGER)
    auth.login("manager@example.com")

    assert client.get("/clients/").status_code == 403
    assert client.get("/clients/search.json").status_code == 403
    assert client.get("/clients/export.csv").status_code == 403


def test_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get("/clients/")

    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


@pytest.fixture
def foreign_client(db, make_user):
    stranger = make_user(email="stranger@example.com")
    foreign = ClientFactory(owner=stranger, email="secret@example.com", full_name="Secret Person")
    db.session.commit()
    return foreign


def test_another_users_client_is_a_404_everywhere(client, db, owner, foreign_client):
    cid = foreign_client.id

    assert client.get(f"/clients/{cid}/edit").status_code == 404
    edit = submit(client, f"/clients/{cid}/edit",
                  {"email": "hijack@example.com", "full_name": "", "comment": ""},
                  form_url="/clients/new")
    delete = submit(client, f"/clients/{cid}/delete", {}, form_url="/clients/new")

    assert edit.status_code == 404
    assert delete.status_code == 404
    db.session.expire_all()
    kept = db.session.get(Client, cid)
    assert (kept.email, kept.full_name) == ("secret@example.com", "Secret Person")


def test_another_users_clients_are_not_listed_searched_or_exported(client, db, owner,
                                                                   foreign_client):
    add_clients(db, owner, 1)

    listing = client.get("/clients/").get_data(as_text=True)
    searched = client.get("/clients/?q=secret").get_data(as_text=True)
    found = client.get("/clients/search.json?q=secret").get_json()
    everything = client.get("/clients/search.json").get_json()
    export = client.get("/clients/export.csv").get_data(as_text=True)

    for text in (listing, searched, export):
        assert "secret@example.com" not in text
    assert found == {"results": [], "more": False}
    assert [r["text"] for r in everything["results"]] == ["Client 000 <client000@example.com>"]


def count_list_queries(app, client) -> int:
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = app_db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get("/clients/")
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200
    return len(statements)


def test_list_runs_a_fixed_number_of_queries(app, client, db, owner, make_user):
    add_clients(db, owner, 5, unsubscribed_at=datetime(2024, 5, 1, tzinfo=timezone.utc))
    few = count_list_queries(app, client)

    add_more = [
        ClientFactory(owner=owner, email=f"more{n:03d}@example.com", full_name=f"More {n}")
        for n in range(45)
    ]
    db.session.add_all(add_more)
    db.session.commit()
    many = count_list_queries(app, client)

    assert few == many
    assert few <= 4


def test_json_search_is_scoped_ordered_and_paginated(client, db, owner, foreign_client):
    add_clients(db, owner, 120)
    ClientFactory(owner=owner, email="anna@example.com", full_name="Анна Петрова",
                  unsubscribed_at=datetime(2024, 5, 1, tzinfo=timezone.utc))
    db.session.commit()

    first = client.get("/clients/search.json").get_json()
    third = client.get("/clients/search.json?page=3").get_json()
    anna = client.get("/clients/search.json", query_string={"q": "АННА"}).get_json()

    assert len(first["results"]) == 50 and first["more"] is True
    assert first["results"][0]["text"] == "Анна Петрова <anna@example.com>"
    assert first["results"][1]["text"] == "Client 000 <client000@example.com>"
    assert len(third["results"]) == 21 and third["more"] is False
    assert third["results"][-1]["text"] == "Client 119 <client119@example.com>"
    [found] = anna["results"]
    assert found["unsubscribed"] is True
    assert set(found) == {"id", "text", "unsubscribed"}
    db.session.expire_all()
    assert db.session.get(Client, found["id"]).owner_id == owner.id


def test_json_search_shows_the_email_alone_when_there_is_no_name(client, db, owner):
    ClientFactory(owner=owner, email="plain@example.com")
    db.session.commit()

    result = client.get("/clients/search.json?q=plain").get_json()

    assert result == {
        "results": [{"id": result["results"][0]["id"], "text": "plain@example.com",
                     "unsubscribed": False}],
        "more": False,
    }


def test_json_search_tolerates_a_bad_page_number(client, db, owner):
    add_clients(db, owner, 2)

    assert len(client.get("/clients/search.json?page=0").get_json()["results"]) == 2
    assert len(client.get("/clients/search.json?page=abc").get_json()["results"]) == 2
