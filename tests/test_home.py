"""The home page: an invitation for visitors, a greeting and their own figures for users."""
import re

import sqlalchemy as sa

from mailer.models import Client, MailingStatus
from tests.workspace import make_mailing
from tests.factories import ClientFactory


def shown_figures(page: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r'class="display-6">([\d,]+)<', page)]


def arrange(db, make_user):
    """Two owners; "shared@" is a client of both, so it counts once service-wide."""
    olga = make_user(email="olga@example.com", full_name="Olga Owner")
    ivan = make_user(email="ivan@example.com", full_name="Ivan")
    make_mailing(db, olga, clients=2, status=MailingStatus.RUNNING)
    make_mailing(db, olga, clients=0, status=MailingStatus.PAUSED)
    make_mailing(db, ivan, clients=3, status=MailingStatus.CREATED)
    make_mailing(db, ivan, clients=0, status=MailingStatus.STOPPED)
    ClientFactory(owner=olga, email="shared@example.com", full_name="S")
    ClientFactory(owner=ivan, email="shared@example.com", full_name="S")
    db.session.commit()
    unique = db.session.scalar(sa.select(sa.func.count(sa.distinct(Client.email))))
    return olga, unique


def test_a_visitor_is_invited_to_register_and_sees_the_services_figures(client, db, make_user):
    _olga, unique = arrange(db, make_user)

    page = client.get("/").get_data(as_text=True)

    assert 'href="/auth/register"' in page and "Register for free" in page
    assert "Hello," not in page
    assert unique == 6
    assert shown_figures(page) == [4, 2, unique]  # mailings, active (created or running), clients


def test_a_signed_in_user_is_greeted_with_their_own_figures_first(client, db, make_user, auth):
    _olga, unique = arrange(db, make_user)
    auth.login("olga@example.com")

    page = client.get("/").get_data(as_text=True)

    assert "Hello, Olga Owner!" in page and "Register for free" not in page
    assert shown_figures(page) == [2, 1, 3] + [4, 2, unique]
