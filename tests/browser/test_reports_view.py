"""In a real browser: a mailing's chart on a phone, and the reports filter, under the app's CSP."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from mailer.models import AttemptStatus
from tests.browser.conftest import sign_in
from tests.workspace import make_mailing
from tests.factories import AttemptFactory

MOSCOW = ZoneInfo("Europe/Moscow")


def test_mailing_chart_fits_a_phone_and_breaks_no_csp(page, db, make_user):
    owner = make_user(email="olga@example.com", timezone="Europe/Moscow", language="en")
    mailing = make_mailing(db, owner, subject="Weekly offers")
    today = datetime.now(MOSCOW).date()
    for back, sent, failed in ((1, 40, 3), (4, 25, 0), (9, 38, 12)):
        started = datetime.combine(today - timedelta(days=back), time(10), MOSCOW)
        AttemptFactory(mailing=mailing, occurrence_at=started, started_at=started,
                       finished_at=started + timedelta(minutes=2), sent_count=sent,
                       failed_count=failed, server_response="250 2.0.0 OK",
                       status=AttemptStatus.PARTIAL if failed else AttemptStatus.SUCCESS)
    db.session.commit()
    problems = []

    def record(message):
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.append((message.text, message.location.get("url")))

    page.on("console", record)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, "olga@example.com")

    page.goto(f"/mailings/{mailing.id}")

    chart = page.get_by_role("img", name="Sent and failed e-mails per day")
    box = chart.bounding_box()
    assert box is not None and 300 <= box["width"] <= 375 and box["height"] > 100
    assert page.locator("svg.mailing-chart-svg rect.bar-sent").count() == 3
    assert page.locator("svg.mailing-chart-svg rect.bar-failed").count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert problems == []

    page.goto("/attempts/")
    page.get_by_label("Status").select_option("partial")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/attempts/?**status=partial**")
    assert page.locator("main table tbody tr").count() == 2
    assert problems == []


def test_the_mailing_filter_finds_a_mailing_as_one_types(page, db, make_user):
    owner = make_user(email="olga@example.com", language="en")
    other = make_user(email="other@example.com", language="en")
    mailings = [make_mailing(db, owner, subject=f"Issue {n:02d}") for n in range(60)]
    wanted = make_mailing(db, owner, subject="Spring sale")
    make_mailing(db, other, subject="Spring secrets")
    started = datetime.now(MOSCOW) - timedelta(hours=2)
    for mailing in (mailings[0], wanted):
        AttemptFactory(mailing=mailing, occurrence_at=started, started_at=started,
                       finished_at=started, sent_count=1, status=AttemptStatus.SUCCESS)
    db.session.commit()
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    sign_in(page, "olga@example.com")

    page.goto("/attempts/")
    page.locator("#mailing-ts-control").fill("spring")
    options = page.locator(".ts-dropdown .option", has_text="Spring")
    options.first.wait_for()
    assert options.all_inner_texts() == [f"Spring sale (#{wanted.id})"]  # never someone else's
    options.first.click()
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/attempts/?mailing={wanted.id}**")

    assert page.locator("main table tbody tr").count() == 1
    assert "Spring sale" in page.locator("main table tbody").inner_text()
    assert problems == []
