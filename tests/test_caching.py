"""The cache against a real Redis (conftest's private_redis: one per test), including Redis going away."""
import re
import time

import pytest
import sqlalchemy as sa

from mailer.models import Mailing
from tests.conftest import AuthActions, submit
from tests.workspace import make_mailing


@pytest.fixture
def redis_app(make_app, private_redis):
    url, _probe, _server = private_redis
    return make_app(REDIS_URL=url, CACHE_TYPE="RedisCache", CACHE_REDIS_URL=url,
                    CACHE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
                    RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=url)


def total_mailings(page: str) -> int:
    service = page.split("The service in figures", 1)[1]
    return int(re.search(r'class="display-6">([\d,\s]+)<', service).group(1).replace(",", "").strip())


def test_home_figures_are_cached_in_redis_and_cleared_when_a_mailing_changes(redis_app, private_redis, db,
                                                                            make_user):
    _url, probe, _server = private_redis
    owner = make_user(email="owner@example.com")
    visitor = redis_app.test_client()
    assert total_mailings(visitor.get("/").get_data(as_text=True)) == 0
    assert probe.exists("mailer:home:figures")

    make_mailing(db, owner)  # straight into the database: the cache does not know
    stale = total_mailings(visitor.get("/").get_data(as_text=True))
    owner_client = redis_app.test_client()
    AuthActions(owner_client).login("owner@example.com")
    mailing_id = db.session.scalar(sa.select(Mailing.id))
    submit(owner_client, f"/mailings/{mailing_id}/pause", {}, form_url=f"/mailings/{mailing_id}")
    fresh = total_mailings(visitor.get("/").get_data(as_text=True))

    assert (stale, fresh) == (0, 1)


def test_a_client_change_clears_the_figures_too(redis_app, private_redis, db, make_user):
    _url, probe, _server = private_redis
    make_user(email="owner@example.com")
    browser = redis_app.test_client()
    AuthActions(browser).login("owner@example.com")
    browser.get("/")
    assert probe.exists("mailer:home:figures")

    submit(browser, "/clients/new", {"email": "new@example.com", "full_name": "New"})

    assert not probe.exists("mailer:home:figures")


def test_the_site_keeps_serving_when_redis_stops(redis_app, private_redis, db, make_user):
    _url, _probe, server = private_redis
    owner = make_user(email="owner@example.com")
    make_mailing(db, owner)
    visitor = redis_app.test_client()
    assert visitor.get("/").status_code == 200

    server.kill()
    server.wait()
    started = time.monotonic()
    home = visitor.get("/")
    blog = visitor.get("/blog/")
    signed_in = AuthActions(redis_app.test_client()).login("owner@example.com")
    elapsed = time.monotonic() - started

    assert home.status_code == 200 and total_mailings(home.get_data(as_text=True)) == 1
    assert blog.status_code == 200  # the visitors' page cache falls back to rendering
    assert signed_in.status_code == 302 and signed_in.location == "/"
    assert elapsed < 10, f"a dead Redis cost {elapsed:.1f} s"
