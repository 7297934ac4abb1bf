"""The pages' own formatting of dates and numbers, and their bound translations, held equal to
Flask-Babel's reference over a corpus: every date format the templates use and more, both
languages, zones with summer time, half hours and quarter hours, naive and aware values."""
from datetime import date, datetime, timedelta, timezone
from itertools import product
from zoneinfo import ZoneInfo

import flask_babel
import pytest
import pytz
from flask import g, render_template_string

from mailer import template_locale

ZONES = ["UTC", "Europe/Moscow", "America/New_York", "Asia/Kolkata", "Pacific/Chatham",
         "Australia/Lord_Howe", "America/Sao_Paulo"]
FORMATS = [None, "short", "medium", "long", "full", "d MMM y, HH:mm", "EEEE, d MMMM y 'at' h:mm a"]
DATE_FORMATS = [None, "short", "medium", "long", "full", "d MMM y", "EEEE, d MMMM y 'г.'"]


def moments() -> list[datetime]:
    """Every 7 h 13 min over a year (each hour of the day and each month, both sides of every
    summer-time change in the zones above), the edges of days and years, and aware ones."""
    start = datetime(2026, 1, 1)
    naive = [start + timedelta(minutes=433 * n) for n in range(0, 365 * 24 * 60 // 433)]
    naive += [datetime(2026, 12, 31, 23, 59, 59), datetime(2027, 1, 1), datetime(2026, 3, 29, 0, 59),
              datetime(2026, 3, 29, 1, 0), datetime(2026, 10, 25, 0, 59), datetime(2026, 10, 25, 1, 0)]
    aware = [moment.replace(tzinfo=timezone.utc) for moment in naive[::17]]
    aware += [moment.replace(tzinfo=ZoneInfo("Asia/Tokyo")) for moment in naive[::23]]
    return naive + aware


@pytest.fixture
def reader(app):
    """A request in the given language and time zone, as a signed-in reader would make it."""

    def enter(language: str, zone: str):
        context = app.test_request_context("/")
        context.push()
        flask_babel.refresh()
        g._flask_babel.babel_locale = flask_babel.get_locale().parse(language)
        g._flask_babel.babel_tzinfo = pytz.timezone(zone)
        return context

    return enter


@pytest.mark.parametrize("language", ["en", "ru"])
def test_dates_are_formatted_exactly_as_flask_babel_formats_them(reader, language):
    values = moments()
    checked = 0
    for zone in ZONES:
        context = reader(language, zone)
        try:
            page = template_locale.PageLocale()
            assert str(page.locale) == language and str(page.tzinfo) == zone
            for value, format in product(values, FORMATS):
                assert page.datetime(value, format) == flask_babel.format_datetime(value, format), \
                    (value, format, zone)
                checked += 1
            for value, format in product(values, DATE_FORMATS):
                assert page.date(value, format) == flask_babel.format_date(value, format), \
                    (value, format, zone)
                checked += 1
            for day in (date(2026, 1, 1), date(2026, 2, 28), date(2028, 2, 29), date(2026, 11, 29)):
                for format in DATE_FORMATS:
                    assert page.date(day, format) == flask_babel.format_date(day, format)
        finally:
            context.pop()
    assert checked > 100_000


@pytest.mark.parametrize("language", ["en", "ru"])
def test_numbers_are_formatted_exactly_as_flask_babel_formats_them(reader, language):
    context = reader(language, "UTC")
    try:
        page = template_locale.PageLocale()
        for value in [0, 1, 7, 999, 1000, 12345, 100_000, 1_234_567, 10**12, -42, 0.5, 2.25, 1 / 3]:
            for format in (None, "#,##0.#%", "#,##0.00"):
                assert page.number(value, format) == flask_babel.format_decimal(value, format)
    finally:
        context.pop()


def test_the_filters_format_in_the_readers_language_and_zone(reader):
    context = reader("ru", "Europe/Moscow")
    try:
        html = render_template_string(
            "{{ moment | format_datetime('short') }}|{{ moment | format_date('long') }}|"
            "{{ count | format_number }}", moment=datetime(2026, 11, 29, 21, 30), count=100000)
    finally:
        context.pop()
    assert html == "30.11.2026, 00:30|30 ноября 2026\u202fг.|100\xa0000"


def test_translations_are_filled_escaped_in_pages_and_as_written_in_text(reader):
    context = reader("ru", "UTC")
    try:
        page = render_template_string("{{ _('Clients: %(count)s', count=shown) }}|"
                                      "{{ ngettext('%(num)s view', '%(num)s views', 5) }}",
                                      shown="<b>7</b>")
        text = render_template_string("{% autoescape false %}{{ _('Clients: %(count)s', count=shown) }}"
                                      "{% endautoescape %}", shown="<b>7</b>")
    finally:
        context.pop()
    assert page == "Клиентов: &lt;b&gt;7&lt;/b&gt;|5 просмотров"
    assert text == "Клиентов: <b>7</b>"


def test_a_letter_rendered_under_force_locale_gets_its_own_language(reader):
    context = reader("en", "UTC")
    try:
        with flask_babel.force_locale("ru"):
            inside = render_template_string("{{ _('Clients') }} {{ 1234567 | format_number }}")
        outside = render_template_string("{{ _('Clients') }} {{ 1234567 | format_number }}")
    finally:
        context.pop()
    assert inside == "Клиенты 1\xa0234\xa0567"
    assert outside == "Clients 1,234,567"
