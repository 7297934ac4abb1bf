"""The profile page: name, time zone, language."""
import pytest

from mailer.models import User
from tests.conftest import submit


def save_profile(client, **fields):
    data = {"full_name": "Ivan Petrov", "timezone": "America/New_York", "language": "en", **fields}
    return submit(client, "/auth/profile", data, follow_redirects=True)


def test_profile_shows_the_users_details(client, make_user, auth):
    make_user(email="user@example.com", full_name="Ivan Petrov", timezone="Asia/Tokyo")
    auth.login()

    page = client.get("/auth/profile").get_data(as_text=True)

    assert "user@example.com" in page
    assert 'value="Ivan Petrov"' in page
    assert '<option selected value="Asia/Tokyo">' in page


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "Pacific/Chatham", "UTC"])
def test_any_iana_time_zone_can_be_chosen(client, db, make_user, auth, zone):
    user = make_user(email="user@example.com")
    auth.login()

    page = save_profile(client, timezone=zone)

    assert "Profile saved." in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).timezone == zone


@pytest.mark.parametrize("fields, message", [
    ({"timezone": "Moscow/Kremlin"}, "Unknown time zone."),
    ({"timezone": ""}, "Unknown time zone."),
    ({"timezone": "../../etc/passwd"}, "Unknown time zone."),
    ({"language": "de"}, "Choose Russian or English."),
    ({"full_name": "   "}, "Enter your name."),
    ({"timezone": "0" * 300}, "Unknown time zone."),  # answered 500: too long for a file name
    ({"full_name": "Anna\x00"}, "The text contains a NUL character"),  # answered 500 (PostgreSQL)
])
def test_bad_profile_input_is_explained_and_changes_nothing(client, db, make_user, auth, fields, message):
    user = make_user(email="user@example.com", full_name="Old Name", timezone="UTC", language="en")
    auth.login()

    page = save_profile(client, **{"full_name": "New Name", **fields})

    assert message in page.get_data(as_text=True)
    db.session.expire_all()
    saved = db.session.get(User, user.id)
    assert (saved.full_name, saved.timezone, saved.language) == ("Old Name", "UTC", "en")


def test_switching_language_in_profile_changes_the_interface(client, make_user, auth):
    make_user(email="user@example.com", language="en")
    auth.login()

    page = save_profile(client, language="ru").get_data(as_text=True)

    assert 'lang="ru"' in page
    assert "Профиль" in page
