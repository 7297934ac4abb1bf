"""Russian and English: the user's language, else the browser's; complete catalogs."""
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.conftest import submit
from tests.workspace import make_mailing

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "mailer" / "translations"


def test_browser_language_is_used_for_visitors(client):
    russian = client.get("/auth/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    english = client.get("/auth/login", headers={"Accept-Language": "en-GB,en;q=0.8"})

    assert 'lang="ru"' in russian.get_data(as_text=True)
    assert "Войти" in russian.get_data(as_text=True)
    assert 'lang="en"' in english.get_data(as_text=True)
    assert "Sign in" in english.get_data(as_text=True)


def test_unsupported_browser_language_gets_the_default(make_app):
    client = make_app(DEFAULT_LANGUAGE="ru").test_client()

    assert 'lang="ru"' in client.get("/", headers={"Accept-Language": "de-DE"}).get_data(as_text=True)


def test_signed_in_users_language_wins_over_the_browser(client, make_user, auth):
    make_user(email="user@example.com", language="ru")
    auth.login()

    page = client.get("/auth/profile", headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert 'lang="ru"' in page and "Профиль" in page


def test_the_browser_keeps_the_users_language_after_sign_out_and_when_blocked(client, db, make_user, auth):
    user = make_user(email="user@example.com", language="ru")
    auth.login()
    auth.logout()
    signed_out = client.get("/auth/login", headers={"Accept-Language": "en"}).get_data(as_text=True)

    auth.login()
    user.active = False  # blocked by a manager: signed out at the next request
    db.session.commit()
    blocked = client.get("/mailings/", headers={"Accept-Language": "en"}, follow_redirects=True)

    assert 'lang="ru"' in signed_out and "Войти" in signed_out
    assert "/auth/login" in blocked.request.path and 'lang="ru"' in blocked.get_data(as_text=True)


def test_visitor_can_switch_language(client):
    """A visitor's form carries no token (their choice is theirs alone, kept in their session)."""
    response = client.post("/language/ru", data={"next": "/auth/login"})

    assert response.location == "/auth/login"
    assert "Войти" in client.get("/auth/login", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_signed_in_user_switching_language_keeps_it_in_their_profile(client, db, make_user, auth):
    user = make_user(email="user@example.com", language="en")
    auth.login()

    forged = client.post("/language/ru", data={"next": "/mailings/"})
    assert forged.status_code == 400  # saved to the account: only from our own page
    response = submit(client, "/language/ru", {"next": "/mailings/"}, form_url="/")

    assert response.status_code == 302 and response.location == "/mailings/"
    db.session.refresh(user)
    assert user.language == "ru"
    assert "Рассылки" in client.get("/mailings/").get_data(as_text=True)


def test_language_switch_never_redirects_off_site(client):
    response = client.post("/language/en", data={"next": "https://evil.example.com/"})

    assert response.location == "/"


def test_unknown_language_is_404(client):
    assert client.post("/language/de").status_code == 404


def test_account_mail_is_in_the_users_language(client, make_user, smtp_sink):
    make_user(email="user@example.com", language="ru")

    submit(client, "/auth/reset", {"email": "user@example.com"}, headers={"Accept-Language": "en"})

    (message,) = smtp_sink.to("user@example.com")
    assert "парол" in message.subject.lower()
    assert "Здравствуйте" in message.body


def _catalog(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def test_every_message_has_a_russian_translation():
    def untranslated(message) -> bool:
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        return message.fuzzy or not all(forms)  # every plural form counts

    missing = [m.id for m in _catalog("ru") if m.id and untranslated(m)]

    assert missing == []


def test_catalogs_are_up_to_date_with_the_code(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
                    "-k", "_l", "-k", "lazy_gettext", "-k", "lazy_pgettext:1c,2", "--no-location",
                    "-o", str(pot), "."],
                   cwd=ROOT, check=True, capture_output=True)
    with open(pot, "rb") as file:
        in_code = {m.id for m in read_po(file) if m.id}

    for language in ("ru", "en"):
        in_catalog = {m.id for m in _catalog(language) if m.id}
        assert in_code - in_catalog == set(), f"{language}: run make update-translations"
        assert in_catalog - in_code == set(), f"{language}: stale messages, run make update-translations"


@pytest.mark.parametrize("language, zone, clients_line, start", [
    ("en", "America/New_York", "Clients: 1,200", "Mar 10, 2027, 4:30:00\u202fAM"),
    ("ru", "Asia/Vladivostok", "Клиентов: 1\u00a0200", "10 мар. 2027\u202fг., 19:30:00"),
])
def test_numbers_dates_and_times_follow_the_users_language_and_zone(
        client, db, make_user, auth, language, zone, clients_line, start):
    owner = make_user(email="user@example.com", language=language, timezone=zone)
    mailing = make_mailing(db, owner, clients=1200, start=datetime(2027, 3, 10, 9, 30, tzinfo=timezone.utc))
    auth.login()

    clients_page = client.get("/clients/").get_data(as_text=True)
    mailing_page = client.get(f"/mailings/{mailing.id}").get_data(as_text=True)

    assert clients_line in clients_page
    assert f"<dd class=\"col-7\">{start}</dd>" in mailing_page
