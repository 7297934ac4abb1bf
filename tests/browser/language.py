"""The app's own catalogs, for journeys that run in either language.

A journey finds buttons and links by their text in the active language
(``t("Save")``), so it drives the page the way a reader of that language
would, and ``assert_in_language`` checks a whole page: the ``lang`` of the
document, and no string of the other language left on the screen.
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import flask_admin
from babel.messages.mofile import read_mo

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CATALOGS = (
    PROJECT_ROOT / "mailer/translations/ru/LC_MESSAGES/messages.mo",
    Path(flask_admin.__file__).parent / "translations/ru/LC_MESSAGES/admin.mo",
)
CYRILLIC = re.compile("[А-Яа-яЁё]")
# The language switch names the other language in that language, on purpose.
LANGUAGE_SWITCH = {"en": "Русский", "ru": "English"}


@cache
def _english_to_russian() -> dict[str, str]:
    pairs: dict[str, str] = {}
    for path in CATALOGS:
        with open(path, "rb") as file:
            for message in read_mo(file):
                if not message.id or not message.string:
                    continue
                if isinstance(message.id, (list, tuple)):
                    for number, english in enumerate(message.id):
                        pairs.setdefault(english, message.string[min(number, len(message.string) - 1)])
                else:
                    pairs.setdefault(message.id, message.string)
    return pairs


class Text:
    """``t("Save")`` is the text a reader of ``language`` sees for the app's "Save"."""

    def __init__(self, language: str):
        self.language = language

    def __call__(self, msgid: str, **values) -> str:
        text = _english_to_russian()[msgid] if self.language == "ru" else msgid
        assert msgid in _english_to_russian(), f"{msgid!r} is not a message of the app"
        return text % values if values else text


@cache
def _english_phrases() -> tuple[re.Pattern, ...]:
    """Whole English messages that would give away an untranslated page.

    Messages with placeholders are cut at them; pieces shorter than two words
    are left out unless they are a single word of five letters or more, so a
    user's own text ("Anna") cannot be mistaken for the interface.
    """
    phrases = set()
    for english, russian in _english_to_russian().items():
        if english == russian:
            continue
        for piece in re.split(r"%\(\w+\)[sd]|%[sd]|\{\w*\}", english):
            piece = piece.strip(" .,:;!?()“”\"'—-")
            if not re.search("[A-Za-z]", piece):
                continue
            if len(piece.split()) >= 2 or len(piece) >= 5:
                phrases.add(piece)
    return tuple(re.compile(rf"(?<![\w-]){re.escape(p)}(?![\w-])") for p in sorted(phrases))


def untranslated(text: str, language: str) -> list[str]:
    """Strings on a page that belong to the other language."""
    text = text.replace(LANGUAGE_SWITCH[language], "")
    if language == "en":
        return sorted(set(CYRILLIC.findall(text)))
    return [pattern.pattern for pattern in _english_phrases() if pattern.search(text)]


def assert_in_language(page, language: str) -> None:
    """The page the browser shows is wholly in ``language`` (user data aside)."""
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == language, page.url
    leftovers = untranslated(page.locator("body").inner_text(), language)
    assert not leftovers, f"{page.url} shows text not in {language}: {leftovers[:10]}"
