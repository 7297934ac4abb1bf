"""In a real browser: a superuser sets up a mailing in the admin (its pickers work under the CSP)."""
import sqlalchemy as sa

from mailer.models import Mailing, mailing_clients
from tests.browser.conftest import sign_in
from tests.workspace import make_material


def pick(page, field_id, text):
    page.locator(f"#s2id_{field_id}").click()
    page.keyboard.type(text)
    page.locator(".select2-result-label", has_text=text).first.click()


def test_superuser_sets_up_and_deletes_a_mailing_in_the_admin(page, db, make_user):
    make_user(email="root@example.com", is_superuser=True)
    owner = make_user(email="owner@example.com", full_name="Olga Owner")
    message, clients = make_material(db, owner)
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, "root@example.com")

    page.goto("/admin/mailing/new/")
    pick(page, "owner", "Olga")
    pick(page, "message", "Spring")
    pick(page, "recipients", "c1@")
    pick(page, "recipients", "c2@")
    page.locator("#timezone").select_option("Europe/Berlin")
    page.locator("#start_local").fill("2030-03-10T09:00")
    page.locator("#end_local").fill("2030-06-01T09:00")
    page.locator("#frequency").select_option("weekly")
    page.get_by_role("button", name="Save", exact=True).click()

    page.get_by_text("Record was successfully created.").wait_for()
    mailing = db.session.scalar(sa.select(Mailing))
    assert (mailing.owner_id, mailing.message_id, mailing.timezone) == (owner.id, message.id, "Europe/Berlin")
    assert mailing.start_at.isoformat() == "2030-03-10T08:00:00+00:00"  # 09:00 in Berlin
    chosen = sorted(db.session.scalars(sa.select(mailing_clients.c.client_id)))
    assert chosen == [clients[1].id, clients[2].id]

    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    # The message above is parsed before the scripts at the end of the page have run: on a
    # busy machine a click that early would meet no confirmation at all.
    page.wait_for_load_state("load")
    page.locator("form.icon button").first.click()
    page.get_by_text("Record was successfully deleted.").wait_for()
    # Flask-Admin's inline onclick (blocked by the CSP) is replaced by the site's data-confirm.
    assert asked == ["Are you sure you want to delete this record?"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(Mailing)) is None
    assert blocked == [], "no inline handler is left for the CSP to block"
