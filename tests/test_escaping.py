"""Stored text shown back: every user text field and every blog post is escaped, on every page."""
from datetime import timedelta

import pytest

from mailer.models import (AttemptStatus, Client, DeliveryStatus, MailingStatus, Post, Role, utcnow)
from tests.conftest import AuthActions
from tests.workspace import make_mailing
from tests.factories import AttemptFactory, DeliveryFactory, PostFactory

PAYLOADS = [
    '<script>alert("xss")</script>',
    '<img src=x onerror=alert(1)>',
    '"><svg onload=alert(1)>',
    "javascript:alert(1)//<a href='javascript:alert(1)'>x</a>",
    "{{ 7*7 }}{% raw %}",
]
# The raw pieces that must never reach a page unescaped.
DANGEROUS = ("<script>alert", "<img src=x", "<svg onload", "<a href='javascript")


@pytest.fixture
def stored(db, make_user):
    """Every text a user, a mail server or a writer can store, holding the payloads."""
    payload = " ".join(PAYLOADS)
    owner = make_user(email="owner@example.com", full_name=f"Owner {payload}"[:200])
    make_user(email="boss@example.com", role=Role.MANAGER)
    mailing = make_mailing(db, owner, subject=f"News {payload}"[:255], clients=1,
                           status=MailingStatus.STOPPED)
    mailing.message.body = f"Body {payload}"
    mailing.stop_reason = f"Reason {payload}"
    client = db.session.query(Client).filter_by(owner_id=owner.id).one()
    client.full_name = f"Client {payload}"[:200]
    client.comment = f"Comment {payload}"
    started = utcnow() - timedelta(hours=1)
    attempt = AttemptFactory(mailing=mailing, occurrence_at=started, started_at=started, finished_at=started,
                             status=AttemptStatus.PARTIAL, sent_count=0, failed_count=1,
                             server_response=f"550 {payload}")
    DeliveryFactory(attempt=attempt, client_id=client.id, email=client.email,
                    status=DeliveryStatus.FAILED, server_reply=f"550 {payload}")
    PostFactory(title=f"Title {payload}"[:200], body=f"Para {payload}\n\n{payload}",
                published_at=started, author=owner)
    db.session.commit()
    return {"mailing": mailing.id, "client": client.id, "message": mailing.message_id,
            "attempt": attempt.id, "post": db.session.query(Post).one().id}


PAGES = {
    "owner@example.com": ["/", "/mailings/", "/mailings/{mailing}", "/mailings/{mailing}/attempts/{attempt}",
                          "/clients/", "/clients/{client}/edit", "/messages/", "/messages/{message}/preview",
                          "/messages/{message}/edit", "/attempts/", "/auth/profile", "/blog/",
                          "/blog/{post}"],
    "boss@example.com": ["/manager/mailings", "/manager/mailings/{mailing}", "/manager/users", "/attempts/"],
    None: ["/", "/blog/", "/blog/{post}"],
}


@pytest.mark.parametrize("who", list(PAGES), ids=["owner", "manager", "visitor"])
def test_every_stored_text_is_shown_escaped(make_app, stored, who):
    client = make_app().test_client()
    if who:
        AuthActions(client).login(who)
    shown = 0
    for path in PAGES[who]:
        page = client.get(path.format(**stored)).get_data(as_text=True)
        assert not [piece for piece in DANGEROUS if piece in page], path
        shown += page.count("&lt;script&gt;alert(") + page.count("&lt;script&gt;alert(&#34;")
    assert shown >= len(PAGES[who])  # the payloads were on the pages, escaped
