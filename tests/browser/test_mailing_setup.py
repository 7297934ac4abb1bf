"""In a real browser: a user sets up a mailing and sees when it will send, in their own zone."""
from datetime import datetime, timezone

import sqlalchemy as sa

from mailer.models import Client, Mailing, mailing_clients
from tests.browser.conftest import sign_in
from tests.factories import ClientFactory, MessageFactory


def test_user_sets_up_a_mailing_and_sees_the_next_five_sends_in_new_york_time(page, db, make_user):
    owner = make_user(email="anna@example.com", timezone="America/New_York", language="en")
    MessageFactory(owner=owner, subject="Spring news", body="Hi {{ client.full_name }}")
    for n in range(1500):
        ClientFactory(owner=owner, email=f"client{n:04}@example.com", full_name=f"Client {n:04}")
    ClientFactory(owner=owner, email="gone@example.com", full_name="Gone Away",
                  unsubscribed_at=datetime(2026, 1, 5, tzinfo=timezone.utc))
    db.session.commit()
    sign_in(page, "anna@example.com")

    page.goto("/mailings/new")
    assert "America/New_York" in page.locator("main form").inner_text()
    page.get_by_label("Message", exact=True).select_option(label="Spring news")
    picker = page.locator("#client_ids-ts-control")
    picker.fill("gone@")
    assert page.locator(".ts-dropdown .option", has_text="Gone Away").inner_text().endswith("unsubscribed")
    for wanted in ("Client 1234", "client0042@"):
        picker.fill(wanted)
        page.locator(".ts-dropdown .option", has_text=wanted).first.click()
    page.get_by_label("Start", exact=True).fill("2027-03-10T09:00")
    page.get_by_label("End", exact=True).fill("2027-06-01T09:00")
    page.get_by_label("Frequency", exact=True).select_option("weekly")
    page.get_by_role("button", name="Save").click()

    page.get_by_text("Mailing saved.").wait_for()
    sends = page.locator("ol.next-send-times li").all_inner_texts()
    # 9:00 in New York on each date, though the clocks go forward on 14 March 2027.
    assert [text.replace("\u202f", " ") for text in sends] == [
        "Wednesday, March 10, 2027, 9:00:00 AM Eastern Standard Time",
        "Wednesday, March 17, 2027, 9:00:00 AM Eastern Daylight Time",
        "Wednesday, March 24, 2027, 9:00:00 AM Eastern Daylight Time",
        "Wednesday, March 31, 2027, 9:00:00 AM Eastern Daylight Time",
        "Wednesday, April 7, 2027, 9:00:00 AM Eastern Daylight Time",
    ]
    mailing = db.session.scalar(sa.select(Mailing))
    chosen = db.session.scalars(
        sa.select(Client.email).join(mailing_clients).where(mailing_clients.c.mailing_id == mailing.id)
        .order_by(Client.email)
    ).all()
    assert chosen == ["client0042@example.com", "client1234@example.com"]
