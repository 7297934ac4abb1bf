"""Every page state of every role, judged by tools nobody here wrote: the W3C Nu HTML checker
(0 errors) and axe-core in Chromium (0 violations), in English and Russian, at desktop and phone
widths, with forms sent empty, and in the states only a form's answer shows (SENT); and nothing on them
breaks the Content-Security-Policy. New pages join PAGES (tests/browser/test_pages.py) and are
judged with the rest."""
from __future__ import annotations

from pathlib import Path

import axe_playwright_python
import pytest

from mailer.models import User
from tests.browser.conftest import new_tab, sign_in
from tests.html_checker import nu_errors
from tests.browser.test_pages import FORMS, PAGES, PHONE, SENT, _slug, send_form, workspace  # noqa: F401  (fixture)

AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
ADMIN_PAGES = {
    "content_manager": ["/admin/", "/admin/post/", "/admin/post/new/", "/admin/post/edit/?id={post}"],
    "superuser": ["/admin/", "/admin/mailing/", "/admin/mailing/edit/?id={mailing}", "/admin/client/",
                  "/admin/message/", "/admin/message/edit/?id={message}", "/admin/user/",
                  "/admin/user/edit/?id={owner}"],
}
SIGN_IN = {"user": "olga@example.com", "manager": "boss@example.com",
           "content_manager": "editor@example.com", "superuser": "root@example.com"}
AXE_VIOLATIONS = """async () => (await axe.run(document)).violations.map(v =>
  `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`)"""


def axe_violations(page) -> list[str]:
    page.evaluate(AXE)  # by the driver: the pages' own CSP allows no script of ours
    return page.evaluate(AXE_VIOLATIONS)


def _visit(page, url: str, folder: Path, name: str, problems: list[str], keep_html: bool) -> None:
    response = page.goto(url)
    if response is None or response.status != 200:
        problems.append(f"{url}: HTTP {response.status if response else 'no response'}")
        return
    if keep_html:
        (folder / f"{name}.html").write_text(response.text(), encoding="utf-8")
    problems.extend(f"{url}: axe {violation}" for violation in axe_violations(page))


def _judge(browser, live_server, db, ids, role, language, pages, forms, tmp_path, html_checker,
           sent_forms=()):
    if role in SIGN_IN:
        db.session.query(User).filter_by(email=SIGN_IN[role]).update({"language": language})
        db.session.commit()
    problems: list[str] = []
    for viewport in ({"width": 1280, "height": 900}, PHONE):
        page = new_tab(browser, live_server, viewport, locale="ru-RU" if language == "ru" else "en-US")
        page.on("dialog", lambda dialog: dialog.accept())  # destructive forms ask first
        page.on("console", lambda message: problems.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text else None)
        if role in SIGN_IN:
            sign_in(page, SIGN_IN[role])
        desktop = viewport["width"] > PHONE["width"]
        for path in pages:
            _visit(page, path.format(**ids), tmp_path, f"{language}-{_slug(role, path)}", problems, desktop)
        for path in forms if desktop else ():
            page.goto(path.format(**ids))
            with page.expect_navigation() as sent:
                page.locator("main form[method=post]").last.locator("[type=submit]").last.click()
            (tmp_path / f"{language}-empty-{_slug(role, path)}.html").write_text(sent.value.text(),
                                                                                  encoding="utf-8")
            problems.extend(f"{path} sent empty: axe {v}" for v in axe_violations(page))
        for path, action, fields in sent_forms:
            response = send_form(page, path.format(**ids), action, fields)
            if response.status != 200:
                problems.append(f"{action} sent: HTTP {response.status}")
                continue
            if desktop:
                (tmp_path / f"{language}-sent-{_slug(role, action)}.html").write_text(response.text(),
                                                                                       encoding="utf-8")
            problems.extend(f"{action} sent: axe {v}" for v in axe_violations(page))
        page.context.close()
    problems.extend(nu_errors(html_checker, tmp_path))
    return problems


@pytest.fixture
def staff(db, make_user):
    make_user(email="editor@example.com", full_name="Erin Editor", role="content_manager")
    make_user(email="root@example.com", full_name="Root", role="user", is_superuser=True)


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_is_valid_html_and_accessible(browser, live_server, db, workspace, role, language,
                                                 tmp_path, html_checker):
    problems = _judge(browser, live_server, db, workspace, role, language, PAGES[role],
                      FORMS.get(role, []), tmp_path, html_checker, SENT.get(role, []))

    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("role", list(ADMIN_PAGES))
def test_every_admin_page_is_valid_html_and_accessible(browser, live_server, db, workspace, staff, role,
                                                       language, tmp_path, html_checker):
    ids = {**workspace, "owner": db.session.query(User.id).filter_by(email="olga@example.com").scalar()}
    problems = _judge(browser, live_server, db, ids, role, language, ADMIN_PAGES[role], [], tmp_path,
                      html_checker)

    assert problems == [], "\n".join(problems)
