"""The blog: published articles only, newest first, view counts that never lose a view, images."""
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.serving import make_server

from mailer.blog.services import article_body_html
from mailer.models import Post
from tests.factories import PostFactory


@pytest.fixture
def uploads(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    return folder


@pytest.fixture
def app(make_app, smtp_sink, uploads):
    smtp_sink.clear()
    return make_app(UPLOAD_FOLDER=str(uploads))


def now():
    return datetime.now(timezone.utc)


def add_post(db, title="An article", body="Some text.", published_at="now", **fields):
    post = PostFactory(title=title, body=body,
                       published_at=now() if published_at == "now" else published_at, **fields)
    db.session.commit()
    return post


def views_of(db, post):
    db.session.expire_all()
    return db.session.get(Post, post.id).view_count


def test_list_shows_only_published_articles_newest_first_ten_a_page(client, db):
    for n in range(12):
        add_post(db, title=f"Article {n:02d}", published_at=now() - timedelta(days=n + 1))
    add_post(db, title="Tomorrow's article", published_at=now() + timedelta(days=1))
    add_post(db, title="A draft", published_at=None)

    first = client.get("/blog/").get_data(as_text=True)
    second = client.get("/blog/?page=2").get_data(as_text=True)

    titles = [f"Article {n:02d}" for n in range(12)]
    assert [t for t in titles if t in first] == titles[:10]
    assert [first.index(t) for t in titles[:10]] == sorted(first.index(t) for t in titles[:10])
    assert [t for t in titles if t in second] == titles[10:]
    for page in (first, second):
        assert "Tomorrow's article" not in page and "A draft" not in page
    assert 'href="/blog/?page=2"' in first


def test_empty_blog_says_so(client):
    page = client.get("/blog/")

    assert page.status_code == 200
    assert "No articles yet" in page.get_data(as_text=True)


def test_blog_is_in_the_menu_for_everyone(client):
    assert 'href="/blog/"' in client.get("/").get_data(as_text=True)


def test_article_page_shows_the_article(client, db):
    post = add_post(db, title="Spring news", body="Hello, readers.")

    page = client.get(f"/blog/{post.id}")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Spring news" in text and "<p>Hello, readers.</p>" in text
    assert "1 view" in text


@pytest.mark.parametrize("published_in", [timedelta(minutes=5), None])
def test_future_or_draft_article_is_404_and_not_counted(client, db, published_in):
    post = add_post(db, published_at=now() + published_in if published_in else None)

    assert client.get(f"/blog/{post.id}").status_code == 404
    assert views_of(db, post) == 0


def test_unknown_article_is_404(client):
    assert client.get("/blog/999999").status_code == 404


def test_each_request_counts_one_view(client, db):
    post = add_post(db)

    client.get(f"/blog/{post.id}")
    client.get(f"/blog/{post.id}")
    page = client.get(f"/blog/{post.id}").get_data(as_text=True)

    assert views_of(db, post) == 3
    assert "3 views" in page


def test_concurrent_views_are_all_counted(app, db):
    """20 requests at once against a real threaded server: exactly +20, none lost."""
    post = add_post(db)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/blog/{post.id}"
    start = threading.Barrier(20)

    def view(_):
        start.wait()
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(view, range(20)))
    finally:
        server.shutdown()
        thread.join()

    assert statuses == [200] * 20
    assert views_of(db, post) == 20


def test_article_text_is_escaped_and_split_into_paragraphs(client, db):
    post = add_post(db, body="<script>alert(1)</script> & <b>bold</b>\r\n\r\nSecond paragraph\nnext line")

    text = client.get(f"/blog/{post.id}").get_data(as_text=True)

    assert "<script>alert(1)" not in text and "<b>bold" not in text
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;</p>" in text
    assert "<p>Second paragraph<br>\nnext line</p>" in text


def test_article_body_html_is_paragraphs_of_escaped_text():
    post = Post(title="t", body="  First\nline two\n\n\n  \nSecond <i>x</i>\n\n")

    assert str(article_body_html(post)) == (
        "<p>First<br>\nline two</p>\n<p>Second &lt;i&gt;x&lt;/i&gt;</p>"
    )
    assert str(article_body_html(Post(title="t", body=""))) == ""


def test_image_is_shown_and_served(client, db, uploads):
    (uploads / "abc123.png").write_bytes(b"\x89PNG fake bytes")
    post = add_post(db, image="abc123.png")

    listing = client.get("/blog/").get_data(as_text=True)
    article = client.get(f"/blog/{post.id}").get_data(as_text=True)
    image = client.get("/uploads/abc123.png")

    assert 'src="/uploads/abc123.png"' in listing and 'src="/uploads/abc123.png"' in article
    assert image.status_code == 200
    assert image.data == b"\x89PNG fake bytes"
    assert image.mimetype == "image/png"


def test_home_page_renders_with_articles_that_have_images(client, db, uploads):
    (uploads / "abc123.png").write_bytes(b"\x89PNG fake bytes")
    add_post(db, title="Pictured", image="abc123.png")

    page = client.get("/")

    assert page.status_code == 200
    assert "Pictured" in page.get_data(as_text=True)


@pytest.mark.parametrize("path", [
    "/uploads/../secret.txt",
    "/uploads/%2e%2e/secret.txt",
    "/uploads/..%2fsecret.txt",
    "/uploads/%2fetc%2fpasswd",
    "/uploads//etc/passwd",
    "/uploads/missing.png",
])
def test_uploads_never_leave_their_folder(client, uploads, path):
    (uploads.parent / "secret.txt").write_text("TOP-SECRET-CONTENT")

    response = client.get(path, follow_redirects=True)  # "//" is first merged by a redirect

    assert response.status_code == 404
    assert b"TOP-SECRET-CONTENT" not in response.data
