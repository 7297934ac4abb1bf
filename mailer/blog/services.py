"""Blog articles: the public pages' queries, view counts, and every change of a post.

The admin changes posts only through ``create_post``, ``update_post`` and
``delete_post``: they store or remove the image files with the row and call
``post_changed`` after each commit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from markupsafe import Markup, escape

from mailer import caching, page_cache
from mailer.blog.images import CheckedImage, delete_image, save_image
from mailer.extensions import db
from mailer.models import Post, User, utcnow

PER_PAGE = 10


def _published(now: datetime | None = None):
    return Post.published_at <= (now or utcnow())


def published_posts_page(page: int):
    """Published articles, newest first (a Flask-SQLAlchemy Pagination)."""
    query = sa.select(Post).where(_published()).order_by(Post.published_at.desc(), Post.id.desc())
    return db.paginate(query, page=page, per_page=PER_PAGE, error_out=False)


def published_post(post_id: int) -> Post | None:
    return db.session.scalar(sa.select(Post).where(Post.id == post_id, _published()))


def record_view(post_id: int) -> int | None:
    """Count one view of a published article; returns the new count (None: no such article).

    One UPDATE in the database, so concurrent views never overwrite each other,
    and it runs on every request even when the article itself comes from a cache.
    """
    views = db.session.execute(
        sa.update(Post)
        .where(Post.id == post_id, _published())
        .values(view_count=Post.view_count + 1)
        .returning(Post.view_count)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    db.session.commit()
    return views


_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")


def article_body_html(post: Post) -> Markup:
    """The article's plain-text body as HTML paragraphs; the author's text is always escaped.

    Blank lines separate paragraphs, single line breaks are kept as ``<br>``.
    Depends only on the post's body, so it is cached by it (``caching.article_body_key``).
    """
    text = (post.body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs = [part.strip("\n") for part in _BLANK_LINES.split(text) if part.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in part.split("\n")))
        for part in paragraphs
    )


def post_changed(post_id: int) -> None:
    """Called after every committed create, update and delete of a post: caches let go of it
    (its rendered body needs no clearing: an edited body is cached under a key of its own)."""
    caching.forget(caching.HOME_POSTS)
    page_cache.forget_pages("home", "blog")


# --- changes (the admin) ------------------------------------------------------------------

@dataclass
class PostData:
    title: str
    body: str
    published_at: datetime | None  # aware; None keeps the post a draft
    new_image: CheckedImage | None = None
    remove_image: bool = False


def _upload_folder() -> str:
    return current_app.config["UPLOAD_FOLDER"]


def _save(post: Post, data: PostData) -> str | None:
    """Assign the data and commit; returns the image the post no longer uses (to delete)."""
    old_image = post.image
    new_image = save_image(data.new_image, _upload_folder()) if data.new_image else None
    post.title = data.title
    post.body = data.body
    post.published_at = data.published_at
    if new_image:
        post.image = new_image
    elif data.remove_image:
        post.image = None
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        delete_image(new_image, _upload_folder())
        raise
    return old_image if old_image and old_image != post.image else None


def create_post(author: User | None, data: PostData) -> Post:
    post = Post(author=author, view_count=0)
    db.session.add(post)
    _save(post, data)
    post_changed(post.id)
    return post


def update_post(post: Post, data: PostData) -> None:
    unused = _save(post, data)
    delete_image(unused, _upload_folder())
    post_changed(post.id)


def delete_post(post: Post) -> None:
    post_id, image = post.id, post.image
    db.session.delete(post)
    db.session.commit()
    delete_image(image, _upload_folder())
    post_changed(post_id)
