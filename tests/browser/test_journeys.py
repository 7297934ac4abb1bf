"""The service as people use it, in a real browser, in English and in Russian.

1. A newcomer registers, confirms the e-mail, imports clients, writes a
   message with a placeholder and starts a mailing; the e-mails arrive.
2. A manager blocks that kind of user and stops a mailing; the owner cannot
   resume it.
3. A content manager writes an illustrated article in the admin; readers find
   it on the blog and on the home page, and its view count grows.

Every journey runs in both languages: in Russian it switches the language
with the menu's switch, and every page it sees must be wholly in Russian.
"""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from babel.dates import format_datetime
from PIL import Image

from mailer.models import Mailing, MailingStatus, Post, User
from tests.browser.conftest import keep_screenshot, new_tab, sign_in
from tests.browser.language import LANGUAGE_SWITCH, Text, assert_in_language
from tests.workspace import make_mailing

# The zone each journey's browser lives in, so times are checked away from UTC.
ZONES = {"en": "America/New_York", "ru": "Europe/Moscow"}
PEOPLE = {
    "en": [("ann.lee@example.com", "Ann Lee"), ("bob.stone@example.com", "Bob Stone"),
           ("cleo.park@example.com", "Cleo Park")],
    "ru": [("anna@example.com", "Анна Петрова"), ("boris@example.com", "Борис Иванов"),
           ("vera@example.com", "Вера Соколова")],
}
LANGUAGES = pytest.mark.parametrize("language", ["en", "ru"])


@pytest.fixture
def open_tab(browser, live_server, request):
    """Open browser tabs, each with its own cookies, in a given zone; screenshots kept."""
    tabs = []

    def opener(zone: str = "UTC"):
        tab = new_tab(browser, live_server, timezone_id=zone)
        tab.asked = []
        tab.on("dialog", lambda dialog: (tab.asked.append(dialog.message), dialog.accept()))
        tabs.append(tab)
        return tab

    yield opener
    for number, tab in enumerate(tabs, 1):
        keep_screenshot(request, tab, f"{request.node.name}-{number}")
        tab.context.close()


def switch_language(page, language: str) -> None:
    """Use the menu's language switch, as a person would; English is the default."""
    if language != "en":
        page.get_by_role("button", name=LANGUAGE_SWITCH["en"]).click()
        page.wait_for_load_state()
    assert_in_language(page, language)


def go(page, t, menu_item: str) -> None:
    page.locator("#main-menu").get_by_role("link", name=t(menu_item), exact=True).click()
    page.wait_for_load_state()


def shown(page, language: str, text: str) -> None:
    """``text`` is on the page, and the whole page is in ``language``."""
    page.get_by_text(text, exact=False).first.wait_for()
    assert_in_language(page, language)


def detail(page, t, term: str) -> str:
    return page.locator("dt", has_text=re.compile(rf"^{re.escape(t(term))}$")) \
        .locator("xpath=following-sibling::dd[1]").inner_text()


def wait_for_attempt(page, t, status: str, seconds: float = 30) -> None:
    """Reload the mailing page until its attempts table shows ``status``."""
    badge = page.locator("table .badge", has_text=t(status))
    deadline = datetime.now() + timedelta(seconds=seconds)
    while datetime.now() < deadline:
        if badge.count():
            return
        page.wait_for_timeout(500)
        page.reload()
    raise AssertionError(f"no {status} attempt on {page.url} within {seconds} s")


# --------------------------------------------------------------------------------------
# 1. A newcomer
# --------------------------------------------------------------------------------------

@LANGUAGES
def test_newcomer_registers_imports_clients_and_sends_a_personal_mailing(
        open_tab, db, smtp_sink, language):
    t, zone = Text(language), ZONES[language]
    people = PEOPLE[language]
    name = "Мария Кузнецова" if language == "ru" else "Maria Lopez"
    email = f"maria.{language}@example.com"
    page = open_tab(zone)
    page.goto("/")
    switch_language(page, language)
    page.get_by_role("link", name=t("Register for free")).click()

    # A mistake first: the passwords differ. The error shows beside the field, in this language.
    page.get_by_label(t("E-mail")).fill(email)
    page.get_by_label(t("Full name")).fill(name)
    page.get_by_label(t("Password"), exact=True).fill("correct horse 1")
    page.get_by_label(t("Repeat the password")).fill("correct horse 2")
    page.locator("main").get_by_role("button", name=t("Register")).click()
    shown(page, language, t("The passwords do not match."))
    assert page.locator("#password2 ~ .invalid-feedback").inner_text() == t("The passwords do not match.")
    assert db.session.scalar(sa.select(User).where(User.email == email)) is None

    page.get_by_label(t("Password"), exact=True).fill("correct horse 1")
    page.get_by_label(t("Repeat the password")).fill("correct horse 1")
    page.locator("main").get_by_role("button", name=t("Register")).click()
    shown(page, language, t("Account created. We sent a confirmation link to %(email)s.", email=email))

    (letter,) = [m for m in smtp_sink.wait_for(1, timeout=10) if email in m.envelope_to]
    link = next(url for url in letter.links() if "/auth/" in url)
    page.goto(link)
    shown(page, language, t("Your e-mail is confirmed. You can sign in now."))
    page.get_by_label(t("E-mail")).fill(email)
    page.get_by_label(t("Password"), exact=True).fill("correct horse 1")
    page.locator("main").get_by_role("button", name=t("Sign in")).click()
    shown(page, language, t("Hello, %(name)s!", name=name))

    go(page, t, "Clients")
    shown(page, language, t("No clients yet. Add your first client, or import them all at once from a CSV file."))
    page.get_by_role("link", name=t("Import clients from a CSV file")).click()
    csv = "email,full_name\n" + "".join(f"{address},{who}\n" for address, who in people)
    page.get_by_label(t("CSV file")).set_input_files(
        files=[{"name": "clients.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
    page.locator("main").get_by_role("button", name=t("Import"), exact=True).click()
    shown(page, language, t("Import done. Added: %(added)d, updated: %(updated)d, unchanged: %(unchanged)d.",
                            added=3, updated=0, unchanged=0))

    go(page, t, "Messages")
    page.get_by_role("link", name=t("Write a message")).first.click()
    subject = "Новости для {{ client.full_name }}" if language == "ru" else "News for {{ client.full_name }}"
    page.get_by_label(t("Subject")).fill(subject)
    page.get_by_label(t("Body")).fill("{{ client.full_name }}, 10%!")
    page.locator("main").get_by_role("button", name=t("Save")).click()
    shown(page, language, t("Message saved."))

    go(page, t, "Mailings")
    page.get_by_role("link", name=t("New mailing")).first.click()
    assert zone in page.locator("main form").inner_text()
    start = datetime.now(ZoneInfo(zone)).replace(second=0, microsecond=0)
    page.get_by_label(t("Message"), exact=True).select_option(label=subject)
    page.get_by_label(t("Send to all my clients")).check()
    page.get_by_label(t("Start"), exact=True).fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label(t("End"), exact=True).fill((start + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label(t("Frequency")).select_option("daily")
    page.locator("main").get_by_role("button", name=t("Save")).click()
    shown(page, language, t("Mailing saved."))
    # Times are in this user's zone and language (their zone came from the browser).
    assert detail(page, t, "Start") == format_datetime(start, "medium", tzinfo=ZoneInfo(zone), locale=language)
    assert detail(page, t, "Times shown in") == zone

    wait_for_attempt(page, t, "success")
    assert_in_language(page, language)
    letters = {m.envelope_to[0]: m for m in smtp_sink.wait_for(4, timeout=10) if m is not letter}
    assert sorted(letters) == sorted(address for address, _ in people)
    for address, who in people:
        assert letters[address].subject == subject.replace("{{ client.full_name }}", who)
        assert letters[address].body.startswith(f"{who}, 10%!")
    attempt = page.locator("tr", has=page.locator(".badge", has_text=t("success")))
    assert attempt.locator("td").nth(3).inner_text() == "3"


# --------------------------------------------------------------------------------------
# 2. A manager
# --------------------------------------------------------------------------------------

@LANGUAGES
def test_manager_blocks_a_user_and_stops_their_mailing_for_good(open_tab, db, make_user, language):
    t = Text(language)
    owner_name = "Олег Смирнов" if language == "ru" else "Owen Smith"
    subject = "Скидки недели" if language == "ru" else "Deals of the week"
    owner = make_user(email="owen@example.com", full_name=owner_name, language=language)
    make_user(email="boss@example.com", full_name="Boss", role="manager", language="en")
    mailing = make_mailing(db, owner, subject=subject, clients=0, status=MailingStatus.RUNNING)
    mailing.message.body = "Здравствуйте, {{ client.full_name }}!" if language == "ru" else "Hi!"
    db.session.commit()
    reason = "Жалобы получателей" if language == "ru" else "Complaints from recipients"

    owner_tab = open_tab()
    sign_in(owner_tab, "owen@example.com")
    go(owner_tab, t, "Mailings")
    shown(owner_tab, language, subject)

    manager = open_tab()
    sign_in(manager, "boss@example.com")
    switch_language(manager, language)
    go(manager, t, "Users")
    row = manager.locator("tr", has_text="owen@example.com")
    row.get_by_role("button", name=t("Block")).click()
    shown(manager, language, t("%(email)s is blocked: signed out, cannot sign in, mailings do not send.",
                               email="owen@example.com"))
    assert manager.asked == [t("Block %(email)s? They are signed out and their mailings stop sending "
                               "until you unblock them.", email="owen@example.com")]

    # The owner is signed out at their next click, and cannot sign back in.
    owner_tab.reload()
    assert "/auth/login" in owner_tab.url
    assert_in_language(owner_tab, language)
    owner_tab.get_by_label(t("E-mail")).fill("owen@example.com")
    owner_tab.get_by_label(t("Password"), exact=True).fill("password123")
    owner_tab.locator("main").get_by_role("button", name=t("Sign in")).click()
    shown(owner_tab, language, t("This account is blocked. Contact the service's manager."))

    go(manager, t, "All mailings")
    manager.get_by_role("link", name=subject).click()
    manager.get_by_label(t("Reason (the owner sees it)")).fill(reason)
    manager.get_by_role("button", name=t("Stop the mailing")).click()
    shown(manager, language, t("Mailing stopped. Its owner cannot resume it."))
    go(manager, t, "Users")
    manager.locator("tr", has_text="owen@example.com").get_by_role("button", name=t("Unblock")).click()
    shown(manager, language, t("%(email)s is unblocked.", email="owen@example.com"))

    sign_in(owner_tab, "owen@example.com")
    go(owner_tab, t, "Mailings")
    owner_tab.get_by_role("link", name=subject).click()
    shown(owner_tab, language, t("A manager stopped this mailing. It no longer sends and cannot be resumed."))
    shown(owner_tab, language, t("Reason: %(reason)s", reason=reason))
    assert owner_tab.locator("h1 .badge").inner_text() == t("stopped")
    for action in ("Resume", "Pause", "Edit", "Send now"):
        assert owner_tab.locator("main").get_by_role("button", name=t(action), exact=True).count() == 0
        assert owner_tab.locator("main").get_by_role("link", name=t(action), exact=True).count() == 0
    db.session.expire_all()
    assert db.session.get(Mailing, mailing.id).status is MailingStatus.STOPPED


# --------------------------------------------------------------------------------------
# 3. A content manager
# --------------------------------------------------------------------------------------

def png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "PNG")
    return buffer.getvalue()


@LANGUAGES
def test_content_manager_publishes_an_illustrated_article_that_readers_find(
        open_tab, db, make_user, language):
    t = Text(language)
    make_user(email="writer@example.com", full_name="Wendy Writer", role="content_manager")
    title = "Как писать письма" if language == "ru" else "How to write letters"
    body = "Коротко и по делу." if language == "ru" else "Short and to the point."
    writer = open_tab()
    sign_in(writer, "writer@example.com")
    switch_language(writer, language)

    go(writer, t, "Admin")
    assert_in_language(writer, language)
    writer.get_by_role("link", name=t("Posts")).first.click()
    assert_in_language(writer, language)
    writer.locator("a[href*='/admin/post/new/']").first.click()
    assert_in_language(writer, language)
    writer.get_by_label(t("Title")).fill(title)
    writer.get_by_label(t("Text")).fill(body)
    writer.get_by_label(t("Image")).set_input_files(
        files=[{"name": "cover.png", "mimeType": "image/png", "buffer": png("teal")}])
    a_minute_ago = datetime.now(ZoneInfo("UTC")) - timedelta(minutes=1)
    writer.get_by_label(t("Publication time")).fill(a_minute_ago.strftime("%Y-%m-%dT%H:%M"))
    writer.locator("form [type=submit]").first.click()
    writer.locator(".alert").first.wait_for()
    assert_in_language(writer, language)
    post = db.session.scalar(sa.select(Post).where(Post.title == title))
    assert post is not None and post.image

    reader = open_tab()
    reader.goto("/")
    switch_language(reader, language)
    home_card = reader.locator(".card", has_text=title)
    assert home_card.locator("img").evaluate("img => img.naturalWidth") == 64
    go(reader, t, "Blog")
    assert_in_language(reader, language)
    reader.get_by_role("link", name=title).first.click()
    shown(reader, language, body)
    assert reader.locator("main img").first.evaluate("img => img.naturalWidth") == 64
    views = [reader.locator(".view-count").inner_text()]
    reader.reload()
    views.append(reader.locator(".view-count").inner_text())
    assert [re.sub(r"\D", "", v) for v in views] == ["1", "2"]
    assert_in_language(reader, language)

    writer.reload()
    row = writer.locator("tr", has_text=title)
    assert "2" in row.inner_text()
