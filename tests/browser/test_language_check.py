"""The journeys' language check itself: it must catch a page left in the other language."""
from tests.browser.language import Text, untranslated


def test_an_english_interface_string_on_a_russian_page_is_caught():
    page = f"{Text('ru')('Mailings')}\nMailing saved.\nАнна Петрова"
    assert untranslated(page, "ru") != []
    assert untranslated(page.replace("Mailing saved.", Text("ru")("Mailing saved.")), "ru") == []


def test_a_flask_admin_string_left_in_english_is_caught_too():
    assert untranslated("Записи · Save and Add Another", "ru") != []


def test_user_text_and_the_language_switch_are_not_mistaken_for_the_interface():
    assert untranslated("Anna Lee · Bob · English · c1@example.com", "ru") == []
    assert untranslated("Ann Lee · Русский", "en") == []
    assert untranslated("Hello, Анна!", "en") != []
