"""Figures and articles for the home page (service-wide ones cached for a short time)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from mailer import caching, page_cache, tallies
from mailer.extensions import db
from mailer.models import SENDING_STATUSES, Mailing, Post, User, utcnow



@dataclass(frozen=True)
class Figures:
    mailings_total: int
    mailings_active: int
    unique_clients: int


def figures(owner: User | None = None) -> Figures:
    """Service-wide figures, or one owner's when ``owner`` is given."""
    mailings = sa.select(sa.func.count(Mailing.id))
    active = mailings.where(Mailing.status.in_(SENDING_STATUSES))
    if owner is not None:
        mailings = mailings.where(Mailing.owner_id == owner.id)
        active = active.where(Mailing.owner_id == owner.id)
    return Figures(
        mailings_total=db.session.scalar(mailings),
        mailings_active=db.session.scalar(active),
        # A user's addresses are unique among their clients, so they count them all.
        unique_clients=(tallies.unique_clients() if owner is None
                        else tallies.of_owner(owner.id).clients),
    )


def random_published_posts(count: int = 3) -> list[Post]:
    return list(
        db.session.scalars(
            sa.select(Post)
            .where(Post.published_at <= utcnow())
            .order_by(sa.func.random())
            .limit(count)
        )
    )


FIGURES_SECONDS = 60
POSTS_SECONDS = 30


def home_figures() -> Figures:
    """The service-wide figures, cached; cleared whenever a mailing or a client changes."""
    return caching.remember(caching.HOME_FIGURES, FIGURES_SECONDS, figures)


def figures_changed(*_args, **_kwargs) -> None:
    caching.forget(caching.HOME_FIGURES)
    page_cache.forget_pages("home")


def home_posts() -> list[Post]:
    """Three random published articles; the choice is kept for a short while."""
    ids = caching.remember(caching.HOME_POSTS, POSTS_SECONDS,
                           lambda: [post.id for post in random_published_posts()])
    if not ids:
        return []
    found = {post.id: post for post in db.session.scalars(
        sa.select(Post).where(Post.id.in_(ids), Post.published_at <= utcnow()))}
    return [found[post_id] for post_id in ids if post_id in found]
