"""Every page, as each role sees it: on a phone, with labelled fields, errors beside them,
and destructive actions that ask first."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from mailer import api_tokens
from mailer.models import AttemptStatus, Bounce, Client
from tests.browser.conftest import SCREENSHOTS, new_tab, sign_in
from tests.workspace import make_mailing
from tests.factories import AttemptFactory, DeliveryFactory, PostFactory

PHONE = {"width": 375, "height": 812}

# Which role opens which pages; "{mailing}", "{attempt}", "{message}", "{client}", "{post}" are
# filled with the ids of the test's own objects.
PAGES = {
    "visitor": ["/", "/auth/login", "/auth/register", "/auth/reset", "/auth/verify", "/blog/",
                "/blog/{post}", "/api/v1/docs"],
    "user": ["/", "/mailings/", "/mailings/new", "/mailings/{mailing}", "/mailings/{mailing}/edit",
             "/mailings/{mailing}/attempts/{attempt}", "/clients/", "/clients/new",
             "/clients/{client}/edit", "/clients/import", "/messages/", "/messages/new",
             "/messages/{message}/preview", "/messages/{message}/edit", "/attempts/",
             "/auth/profile", "/blog/"],
    "manager": ["/manager/mailings", "/manager/mailings/{mailing}", "/manager/users", "/attempts/"],
}
# Forms a person can send empty: each must answer with an error beside a field.
FORMS = {
    "visitor": ["/auth/login", "/auth/register", "/auth/reset"],
    "user": ["/mailings/new", "/clients/new", "/messages/new", "/clients/import"],
    "manager": ["/manager/mailings/{mailing}"],
}
# Page states that only a form's answer shows: (the page with the form, the form's action, what
# is typed into it before it is sent).
SENT = {
    # The profile with the tokens listed and a new token's secret shown, once.
    "user": [("/auth/profile", "/auth/profile/api-tokens", {"#token-name": "Newsletter export"})],
}

UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && el.type !== 'submit' && el.type !== 'button'
                && el.offsetParent !== null && !el.classList.contains('ts-hidden-accessible'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.name || el.id || el.outerHTML.slice(0, 80))"""

ERRORS_AWAY_FROM_THEIR_FIELD = """() => [...document.querySelectorAll('main .is-invalid')]
  .filter(el => el.offsetParent !== null || el.id.endsWith('-ts-control'))
  .filter(el => {
    const box = el.closest('.mb-3, .form-check') || el.parentElement;
    const error = box.querySelector('.invalid-feedback');
    return !error || !error.textContent.trim() || error.offsetParent === null;
  })
  .map(el => el.name || el.id)"""

UNCONFIRMED_DESTRUCTIVE_FORMS = """() => [...document.forms]
  .filter(f => /\\/(delete|block|stop|send-now|revoke)$/.test(new URL(f.action).pathname) && !f.dataset.confirm)
  .map(f => new URL(f.action).pathname)"""


@pytest.fixture
def workspace(db, make_user):
    owner = make_user(email="olga@example.com", full_name="Olga Owner")
    make_user(email="boss@example.com", full_name="Boss", role="manager")
    mailing = make_mailing(db, owner, subject="Weekly offers with a rather long subject line", clients=3)
    started = datetime.now(timezone.utc) - timedelta(days=1)
    attempt = AttemptFactory(mailing=mailing, occurrence_at=started, started_at=started,
                             finished_at=started + timedelta(minutes=1), sent_count=2, failed_count=1,
                             server_response="550 5.1.1 <c2@example.com>: Recipient address rejected",
                             status=AttemptStatus.PARTIAL)
    # Letters that came back: the client page says why, the attempt page marks them.
    bounced, complained, _third = db.session.scalars(sa.select(Client).order_by(Client.id)).all()
    bounced.suppressed_at, bounced.suppressed_reason = started, (
        "5.1.1 550 5.1.1 <c0@example.com>: Recipient address rejected: User unknown in virtual "
        "mailbox table")
    complained.unsubscribed_at = started
    DeliveryFactory(client=bounced, attempt=attempt, bounce=Bounce.HARD, bounced_at=started,
                    bounce_reason=bounced.suppressed_reason)
    DeliveryFactory(client=complained, attempt=attempt, bounce=Bounce.COMPLAINT, bounced_at=started,
                    bounce_reason="complaint (abuse) reported by dns; mail.example.net")
    post = PostFactory(author=owner, title="Five habits of good newsletters", body="Text " * 200,
                       published_at=started)
    # The blog list's card with a picture.
    PostFactory(author=owner, title="Our new bakery", body="Pictures " * 50, image="bakery.png",
                published_at=started - timedelta(hours=1))
    db.session.commit()
    # API tokens in the profile: one a program used yesterday, one that never expires.
    api_tokens.create_token(owner, "Shop sync", 90).token.last_used_at = started
    api_tokens.create_token(owner, "Nightly report script with a rather long name", None)
    db.session.commit()
    return {"mailing": mailing.id, "attempt": attempt.id, "message": mailing.message_id,
            "post": post.id, "client": db.session.scalar(sa.select(Client.id).order_by(Client.id))}


def _tab(browser, live_server, role, viewport):
    page = new_tab(browser, live_server, viewport)
    page.on("dialog", lambda dialog: dialog.accept())  # destructive forms ask first
    page.csp_violations = []
    page.on("console", lambda message: page.csp_violations.append((page.url, message.text))
            if "Content Security Policy" in message.text else None)
    if role == "user":
        sign_in(page, "olga@example.com")
    elif role == "manager":
        sign_in(page, "boss@example.com")
    return page.context, page


def _slug(role: str, path: str) -> str:
    return f"{role}{re.sub(r'[^a-z0-9]+', '-', path.lower()).rstrip('-')}"


def send_form(page, path: str, action: str, fields: dict):
    """Open ``path``, fill in its form that posts to ``action``, send it: the answer."""
    page.goto(path)
    form = page.locator(f'main form[action="{action}"]')
    for selector, value in fields.items():
        form.locator(selector).fill(value)
    with page.expect_navigation() as sent:
        form.locator("[type=submit]").click()
    return sent.value


def _phone_problems(page, response, url: str) -> list[str]:
    if response.status != 200:
        return [f"{url}: HTTP {response.status}"]
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        problems.append(f"{url}: {width} px wide on a {PHONE['width']} px phone")
    if not page.locator(".navbar-toggler").is_visible():
        problems.append(f"{url}: the menu does not fold away on a phone")
    unlabelled = page.evaluate(UNLABELLED_CONTROLS)
    if unlabelled:
        problems.append(f"{url}: fields without a label: {unlabelled}")
    unconfirmed = page.evaluate(UNCONFIRMED_DESTRUCTIVE_FORMS)
    if unconfirmed:
        problems.append(f"{url}: destructive forms that do not ask first: {unconfirmed}")
    return problems


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_fits_a_phone_and_labels_every_field(browser, live_server, db, workspace, role):
    ids = workspace
    folder = SCREENSHOTS / "phone"
    folder.mkdir(parents=True, exist_ok=True)
    context, page = _tab(browser, live_server, role, PHONE)
    problems = []
    for path in PAGES[role]:
        url = path.format(**ids)
        response = page.goto(url)
        page.screenshot(path=folder / f"{_slug(role, path)}.png", full_page=True)
        problems.extend(_phone_problems(page, response, url))
    for path, action, fields in SENT.get(role, []):
        response = send_form(page, path.format(**ids), action, fields)
        page.screenshot(path=folder / f"{_slug(role, action)}-sent.png", full_page=True)
        problems.extend(_phone_problems(page, response, f"{action} sent"))
    page.locator(".navbar-toggler").click()
    page.locator("#main-menu").get_by_role("link").first.wait_for()
    context.close()
    assert problems == []
    assert page.csp_violations == []  # the pages honour the Content-Security-Policy


@pytest.mark.parametrize("role", list(FORMS))
def test_an_empty_form_shows_each_error_beside_its_field(browser, live_server, db, workspace, role):
    context, page = _tab(browser, live_server, role, {"width": 1280, "height": 900})
    problems = []
    for path in FORMS[role]:
        url = path.format(**workspace)
        page.goto(url)
        form = page.locator("main form[method=post]").last
        before = page.url
        form.locator("[type=submit]").last.click()
        page.wait_for_load_state()
        shown = page.locator("main .invalid-feedback:visible, main .alert-danger:visible")
        if page.url != before and not shown.count():
            problems.append(f"{url}: an empty form was accepted")
        elif not shown.count():
            problems.append(f"{url}: no error shown")
        away = page.evaluate(ERRORS_AWAY_FROM_THEIR_FIELD)
        if away:
            problems.append(f"{url}: errors not beside {away}")
        page.screenshot(path=SCREENSHOTS / f"empty-form-{_slug(role, path)}.png", full_page=True)
    context.close()
    assert problems == []
