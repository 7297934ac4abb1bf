"""Messages: CRUD, preview with placeholders, and template mistakes caught at save time."""
import pytest
import sqlalchemy as sa

from mailer.models import Message, Role
from tests.conftest import submit
from tests.workspace import make_mailing
from tests.factories import ClientFactory, MessageFactory


def save(client, url="/messages/new", **fields):
    data = {"subject": "Hello {{ client.full_name }}", "body": "Dear {{ client.full_name }},\nnews.", **fields}
    return submit(client, url, data, follow_redirects=True)


def test_create_message_and_preview_it_for_a_real_client(client, db, owner):
    ClientFactory(owner=owner, email="anna@example.com", full_name="Анна Петрова")
    db.session.commit()

    page = save(client).get_data(as_text=True)

    assert "Message saved." in page
    assert "Hello Анна Петрова" in page and "Dear Анна Петрова," in page
    message = db.session.scalar(sa.select(Message))
    assert message.owner_id == owner.id and message.subject == "Hello {{ client.full_name }}"


def test_preview_without_clients_uses_a_sample_client(client, owner):
    page = save(client).get_data(as_text=True)

    assert "Hello Анна Петрова" in page and "anna.petrova@example.com" in page


def test_edit_message(client, db, owner):
    save(client)
    message = db.session.scalar(sa.select(Message))

    save(client, f"/messages/{message.id}/edit", subject="Changed", body="New body for {{ client.email }}")

    db.session.expire_all()
    assert (message.subject, message.body) == ("Changed", "New body for {{ client.email }}")


@pytest.mark.parametrize("fields, words", [
    ({"body": "Hi {{ client.phone }}"}, "Unknown placeholder"),
    ({"body": "Hi {{ name }}"}, "Unknown placeholder"),
    ({"subject": "Hi {{ client.nickname }}"}, "Unknown placeholder"),
    ({"body": "Hi {{ client.full_name }"}, "Template error on line 1"),
    ({"body": "line\n{% if client.email %}\nno end"}, "Template error on line"),
    ({"body": "{{ client.__class__.__mro__ }}"}, "Unknown placeholder"),
    ({"body": "{% for c in client.email %}x{% endfor %}"}, "is not allowed in a message"),
    ({"body": "{{ client.email|center(999999999) }}"}, "is not allowed in a message"),
    ({"body": "{% include '/etc/passwd' %}"}, "is not allowed in a message"),
    ({"subject": "Hello\r\nBcc: victim@example.com"}, "The subject must be one line."),
    ({"subject": ""}, "Enter a subject."),
    ({"body": ""}, "Write the message."),
    ({"subject": "x" * 256}, "Field cannot be longer than 255 characters."),
    ({"subject": "Hi\x00"}, "The text contains a NUL character"),  # these answered 500 (PostgreSQL)
    ({"body": "Hello\x00 {{ client.email }}"}, "The text contains a NUL character"),
    ({"body": "я" * 500_001}, "The message is too long: 1,001 kB, at most 1,000 kB."),
    ({"subject": "🎉" * 255}, "The subject is too long once encoded for mail (over 998 bytes)"),
    ({"body": "[me]({{ client.email }})"}, "cannot begin with a placeholder"),
    ({"body": "<style>{% if client.email %}</style>x{% endif %}"}, "sits inside something the HTML"),
    ({"body": "{% raw %}<script>alert(1)</script>{% endraw %}"}, "is not allowed in a message"),
])
def test_bad_message_is_explained_at_save_time_and_nothing_is_written(client, db, owner, fields, words):
    page = save(client, **fields).get_data(as_text=True)

    assert words in page
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 0


def test_a_newsletter_of_real_size_is_saved_whole(client, db, owner):
    from tests.letter_corpus import CORPUS

    newsletter = next(letter for letter in CORPUS if letter.key == "newsletter-50kb")
    body = newsletter.body * 18  # 900 kB of Cyrillic Markdown, under the 1 MB limit

    page = save(client, body=body).get_data(as_text=True)

    assert "Message saved." in page
    assert db.session.scalar(sa.select(Message.body)) == body.replace("\r\n", "\n")


def test_a_subject_of_255_cyrillic_letters_fits_once_encoded(client, db, owner):
    page = save(client, subject="Я" * 255).get_data(as_text=True)

    assert "Message saved." in page


def test_the_preview_shows_the_html_and_the_text_version_side_by_side(client, db, owner):
    ClientFactory(owner=owner, email="anna@example.com", full_name="Анна <Петрова>")
    db.session.commit()
    save(client, subject="Hi", body="# News\n\nDear **{{ client.full_name }}**\n\n<script>steal()</script>"
         '<a href="javascript:alert(1)" onclick="x()">click</a>')
    message = db.session.scalar(sa.select(Message))

    page = client.get(f"/messages/{message.id}/preview").get_data(as_text=True)
    letter = client.get(f"/messages/{message.id}/preview.html")

    assert f'<iframe class="letter-frame" sandbox src="/messages/{message.id}/preview.html"' in page
    assert "Dear **Анна &lt;Петрова&gt;**" in page, "the text version, as written"
    assert "As Анна &lt;Петрова&gt; &lt;anna@example.com&gt; will receive it:" in page
    assert "Removed from the HTML version" in page
    for removed in ("<code>&lt;script&gt;</code>", "<code>javascript:</code>", "<code>onclick=</code>"):
        assert removed in page
    html = letter.get_data(as_text=True)
    assert letter.content_type.startswith("text/html")
    assert "<strong>Анна &lt;Петрова&gt;</strong>" in html and "<h1" in html
    assert "steal()" not in html and "javascript:" not in html and "onclick" not in html
    policy = letter.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy and "script-src" not in policy
    assert "frame-ancestors 'self'" in policy and letter.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_clean_message_reports_nothing_removed(client, db, owner):
    page = save(client).get_data(as_text=True)

    assert "Removed from the HTML version" not in page


def test_another_users_letter_preview_is_404(client, db, make_user, auth):
    message = MessageFactory(owner=make_user(email="stranger@example.com"), subject="Secret", body="secret body")
    db.session.commit()
    make_user(email="user@example.com")
    auth.login()

    assert client.get(f"/messages/{message.id}/preview.html").status_code == 404


def test_bad_edit_changes_nothing(client, db, owner):
    save(client)
    message = db.session.scalar(sa.select(Message))

    page = save(client, f"/messages/{message.id}/edit", subject="New", body="{{ client.phone }}")

    assert "Unknown placeholder" in page.get_data(as_text=True)
    db.session.expire_all()
    assert message.subject == "Hello {{ client.full_name }}"


def test_delete_message(client, db, owner):
    save(client)
    message = db.session.scalar(sa.select(Message))

    page = submit(client, f"/messages/{message.id}/delete", {}, form_url="/messages/",
                  follow_redirects=True)

    assert "Message deleted." in page.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 0


def test_message_in_use_cannot_be_deleted(client, db, owner):
    mailing = make_mailing(db, owner)

    page = submit(client, f"/messages/{mailing.message_id}/delete", {}, form_url="/messages/",
                  follow_redirects=True)

    assert "used by 1 mailing" in page.get_data(as_text=True)
    assert db.session.get(Message, mailing.message_id) is not None


def test_list_shows_own_messages_with_their_use(client, db, owner, make_user):
    other = make_user(email="other@example.com")
    make_mailing(db, owner, subject="Mine, in use")
    MessageFactory(owner=other, subject="Not mine", body="x")
    db.session.commit()

    page = client.get("/messages/").get_data(as_text=True)

    assert "Mine, in use" in page and "Not mine" not in page


def test_empty_list_says_what_to_do(client, owner):
    page = client.get("/messages/").get_data(as_text=True)

    assert "No messages yet" in page and 'href="/messages/new"' in page


@pytest.mark.parametrize("method, path", [
    ("get", "/messages/{id}/edit"), ("post", "/messages/{id}/edit"),
    ("get", "/messages/{id}/preview"), ("post", "/messages/{id}/delete"),
])
def test_another_users_message_is_404(client, db, make_user, auth, method, path):
    stranger = make_user(email="stranger@example.com")
    message = MessageFactory(owner=stranger, subject="Secret", body="secret body")
    db.session.commit()
    make_user(email="user@example.com")
    auth.login()

    url = path.format(id=message.id)
    if method == "get":
        response = client.get(url)
    else:
        response = submit(client, url, {"subject": "Hacked", "body": "hacked"}, form_url="/messages/")

    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Message, message.id).subject == "Secret"


def test_managers_cannot_use_the_workspace(client, make_user, auth):
    make_user(email="user@example.com", role=Role.MANAGER)
    auth.login()

    assert client.get("/messages/").status_code == 403
    assert client.get("/messages/new").status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    assert client.get("/messages/").location.startswith("/auth/login")


def test_a_stored_message_that_no_longer_passes_the_check_previews_with_the_reason(client, db, owner):
    message = MessageFactory(owner=owner, subject="Sale {{ 7*7 }}", body="Hello")  # straight into the database
    db.session.commit()

    page = client.get(f"/messages/{message.id}/preview")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "This message cannot be sent as it is" in text and "Sale {{ 7*7 }}" in text
