"""The API's reference page, /api/v1/docs: open to anyone, made from the OpenAPI document it
sits beside, so every path of the document is on it, with its parameters, bodies and answers."""
from markupsafe import escape

from mailer.api import reference

PAGE = "/api/v1/docs"
DOCUMENT = "/api/v1/openapi.json"
REQUIRED = '<span class="badge text-bg-secondary">required</span>'


def list_after(page: str, heading_id: str) -> str:
    """The list of fields that follows the heading with this id."""
    start = page.index(f'id="{heading_id}"')
    return page[start:page.index("</dl>", start)]


def entry_of(fields: str, name: str) -> str:
    named = f'<code class="fw-semibold">{name}</code>'
    entries = [entry for entry in fields.split("<dt")[1:] if named in entry]
    assert len(entries) == 1, (name, entries)
    return entries[0]


def test_the_reference_opens_without_signing_in(client):
    response = client.get(PAGE)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert f'href="{DOCUMENT}"' in response.get_data(as_text=True)


def test_every_path_and_operation_of_the_document_is_on_the_page(client):
    document = client.get(DOCUMENT).get_json()
    page = client.get(PAGE).get_data(as_text=True)

    assert document["paths"]
    for path, operations in document["paths"].items():
        assert f"<code>{escape(path)}</code>" in page, path
        for method in set(operations) & set(reference.HTTP_METHODS):
            # in the contents, as a link to the operation
            assert f">{method.upper()} {escape(path)}</a>" in page, (method, path)


def test_a_request_body_field_is_shown_and_marked_required(client):
    page = client.get(PAGE).get_data(as_text=True)

    body = list_after(page, "op-post-api-v1-clients-body")
    assert REQUIRED in entry_of(body, "email")
    assert REQUIRED not in entry_of(body, "full_name")


def test_an_object_shows_which_fields_may_be_null_and_the_values_an_enum_takes(client):
    page = client.get(PAGE).get_data(as_text=True)

    client_fields = list_after(page, "schema-Client")
    assert "or null" in entry_of(client_fields, "unsubscribed_at")
    assert "or null" not in entry_of(client_fields, "email")
    status = entry_of(list_after(page, "schema-Mailing"), "status")
    assert "<code>created</code>, <code>running</code>" in status


def test_the_reference_follows_the_readers_language(client, make_user, auth):
    russian = client.get(PAGE, headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert '<html lang="ru">' in russian
    assert "<code>/api/v1/clients</code>" in russian

    make_user(email="user@example.com", language="ru")
    auth.login()
    assert '<html lang="ru">' in client.get(PAGE).get_data(as_text=True)


def test_signed_in_pages_link_to_the_reference_and_visitors_pages_do_not(client, make_user, auth):
    assert f'href="{PAGE}"' not in client.get("/").get_data(as_text=True)

    make_user(email="user@example.com")
    auth.login()
    assert f'href="{PAGE}"' in client.get("/").get_data(as_text=True)


def test_the_page_is_built_once_per_app(make_app, monkeypatch):
    built = []
    build = reference.build_reference
    monkeypatch.setattr(reference, "build_reference",
                        lambda document: built.append(1) or build(document))
    first, second = make_app(), make_app()

    for app in (first, first, second):
        assert app.test_client().get(PAGE).status_code == 200

    assert len(built) == 2


def test_the_documents_code_spans_become_code_and_nothing_else_is_markup():
    assert reference.with_code("Send `Authorization: Bearer <token>` & wait") == \
        "Send <code>Authorization: Bearer &lt;token&gt;</code> &amp; wait"
    assert reference.with_code("an unpaired ` <b>") == "an unpaired ` &lt;b&gt;"
