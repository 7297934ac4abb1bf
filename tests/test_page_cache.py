"""Visitors' pages served whole from the cache: never stale after a change, never someone else's."""
import re
from datetime import timedelta

from flask import render_template_string

from mailer.blog import services as blog
from mailer.extensions import db as _db
from mailer.main.services import figures_changed
from mailer.models import MailingStatus, User, utcnow
from tests.conftest import CSRF_RE
from tests.workspace import make_mailing

def token(page: str) -> str:
    return CSRF_RE.search(page).group(1)


def figures(page: str) -> list[str]:
    return re.findall(r'class="display-6">([\d,]+)<', page)


def test_visitors_get_the_same_cached_page_and_no_session_cookie(app, client):
    first = client.get("/")
    other = app.test_client()
    second = other.get("/")

    assert first.get_data() == second.get_data()
    assert "Set-Cookie" not in first.headers and "Set-Cookie" not in second.headers
    assert 'name="csrf_token"' not in second.get_data(as_text=True)
    switched = other.post("/language/ru", data={"next": "/"})  # the form as the page has it
    assert switched.status_code == 302
    assert 'lang="ru"' in other.get("/").get_data(as_text=True)


def test_a_page_holding_a_form_token_is_never_shared(app, client):
    """Should a visitors' page ever show a form, each visitor still gets a token of their own."""
    from mailer import page_cache

    @page_cache.for_visitors("form-page", 60)
    def form_page():
        return render_template_string('<input name="csrf_token" value="{{ csrf_token() }}">')

    app.add_url_rule("/form-page", view_func=form_page)
    first = token(client.get("/form-page").get_data(as_text=True))
    second = token(app.test_client().get("/form-page").get_data(as_text=True))

    assert first != second


def test_the_home_figures_change_at_once_for_visitors_when_a_mailing_is_added(app, client, db, make_user):
    owner = make_user(email="olga@example.com")
    before = figures(client.get("/").get_data(as_text=True))
    make_mailing(db, owner, status=MailingStatus.RUNNING)
    with app.app_context():
        figures_changed()  # what the service layer's mailing_changed signal does

    after = figures(client.get("/").get_data(as_text=True))

    assert before == ["0", "0", "0"] and after == ["1", "1", "1"]


def test_a_new_article_shows_at_once_on_the_cached_blog_list(app, client, db, make_user):
    author_id = make_user(email="writer@example.com", role="content_manager").id
    assert "No articles yet" in client.get("/blog/").get_data(as_text=True)
    with app.test_request_context():
        blog.create_post(_db.session.get(User, author_id), blog.PostData(title="Fresh news", body="Text",
                                               published_at=utcnow() - timedelta(minutes=1)))

    assert "Fresh news" in client.get("/blog/").get_data(as_text=True)
    assert "Fresh news" in client.get("/").get_data(as_text=True)


def test_a_signed_in_user_never_gets_the_visitors_page(client, make_user, auth):
    make_user(email="user@example.com", full_name="Olga Owner")
    assert "Register for free" in client.get("/").get_data(as_text=True)
    auth.login()

    page = client.get("/").get_data(as_text=True)

    assert "Hello, Olga Owner!" in page and "Register for free" not in page


def test_a_waiting_flash_message_is_shown_not_hidden_by_the_cache(client, make_user, auth):
    make_user(email="user@example.com")
    client.get("/")  # cached for visitors
    auth.login()

    signed_out = auth.logout()

    assert signed_out.status_code == 302
    assert "You have signed out." in client.get("/").get_data(as_text=True)


def test_each_language_and_blog_page_is_its_own_copy(app, client):
    english = client.get("/").get_data(as_text=True)
    russian = client.get("/", headers={"Accept-Language": "ru"}).get_data(as_text=True)

    assert 'lang="en"' in english and 'lang="ru"' in russian
    assert client.get("/blog/?page=1").status_code == 200
    assert client.get("/blog/?page=abc&x=<script>").status_code == 200  # served, not cached
