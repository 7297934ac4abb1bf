"""What a page says in its reader's language and time zone — translations, dates and
numbers — with the locale, the zone and the translations looked up once per render.

Flask-Babel's template callables and its ``format_*`` functions look the request's
locale, zone and translations up again for every string, date and number (a list of
25 rows says "Delete" 25 times and shows 50 dates). A context processor hands each
render a ``PageLocale`` already holding them, and ``_``, ``ngettext`` and the
``format_*`` filters read it from the template's context, which also gets the label
tables (``mailer.labels``) translated once. Since a context processor
runs for each render, a letter rendered under ``force_locale`` gets its own. The
macro files are imported ``with context`` to see them; one imported without falls
back to Flask-Babel and the lazy labels, with the same result.

The dates are Babel's own formats: a named format (``short``, ``medium``...) becomes
the locale's pattern, parsed once, and Babel's pattern formats each value exactly as
``flask_babel.format_datetime``/``format_date`` would (``tests/test_template_locale.py``
holds them equal over a corpus of dates, zones, formats and both languages).
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import flask_babel
from babel import dates, numbers
from jinja2 import pass_context
from markupsafe import Markup

from mailer import labels

NAMED = ("full", "long", "medium", "short")


class PageLocale:
    """One render's locale, time zone and translations, and the date patterns it used."""

    def __init__(self) -> None:
        self.locale = flask_babel.get_locale()
        self.tzinfo = flask_babel.get_timezone()
        self.translations = flask_babel.get_translations()
        self._patterns: dict[tuple[str, str], dates.DateTimePattern] = {}

    def _pattern(self, kind: str, format: str) -> dates.DateTimePattern:
        key = (kind, format)
        if key not in self._patterns:
            self._patterns[key] = dates.parse_pattern(self._pattern_text(kind, format))
        return self._patterns[key]

    def _pattern_text(self, kind: str, format: str) -> str:
        if format not in NAMED:
            return format  # a pattern of its own, e.g. "d MMM y"
        if kind == "date":
            return str(dates.get_date_format(format, locale=self.locale))
        # Babel joins the formatted time and date with the locale's glue ("{1}, {0}"),
        # dropping the glue's quotes; joining the patterns keeps its quoted text literal.
        glue = dates.get_datetime_format(format, locale=self.locale)
        return (str(glue).replace("{0}", str(dates.get_time_format(format, locale=self.locale)))
                .replace("{1}", str(dates.get_date_format(format, locale=self.locale))))

    def _in_zone(self, value: datetime) -> datetime:
        """As Flask-Babel rebases: a naive datetime is UTC, shown in the reader's zone."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        moment = value.astimezone(self.tzinfo)
        return self.tzinfo.normalize(moment) if hasattr(self.tzinfo, "normalize") else moment

    def datetime(self, value: datetime, format: str | None = None) -> str:
        return self._pattern("datetime", format or "medium").apply(self._in_zone(value), self.locale)

    def date(self, value: date | datetime, format: str | None = None) -> str:
        if isinstance(value, datetime):
            value = self._in_zone(value).date()
        return self._pattern("date", format or "medium").apply(value, self.locale)

    def number(self, value, format: str | None = None) -> str:
        return numbers.format_decimal(value, format=format, locale=self.locale)


def context() -> dict:
    """For the app's context processor: the page's locale, and ``_``'s callables bound to it."""
    page = PageLocale()
    translations = page.translations

    # As Jinja's "newstyle" gettext: the translation is always a format string, filled
    # with the keyword arguments, escaped when the template autoescapes (not in text
    # mail). The arguments' names start with "__" so that no template variable clashes.
    @pass_context
    def gettext(__context, __string: str, **variables) -> str:
        return _filled(__context, translations.gettext(__string), variables)

    @pass_context
    def ngettext(__context, __singular: str, __plural: str, __num: int, **variables) -> str:
        variables.setdefault("num", __num)
        return _filled(__context, translations.ngettext(__singular, __plural, __num), variables)

    tables = {name: {key: translations.gettext(msgid) for key, msgid in names.items()}
              for name, names in labels.TEMPLATE_TABLES.items()}
    return {"page_locale": page, "gettext": gettext, "ngettext": ngettext,
            "current_locale": lambda: str(page.locale), **tables}


def _filled(context, text: str, variables: dict) -> str:
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables


def _page_locale(context) -> PageLocale | None:
    page = context.get("page_locale")
    return page if isinstance(page, PageLocale) else None


@pass_context
def format_datetime(context, value: datetime, format: str | None = None) -> str:
    page = _page_locale(context)
    return page.datetime(value, format) if page else flask_babel.format_datetime(value, format)


@pass_context
def format_date(context, value: date | datetime, format: str | None = None) -> str:
    page = _page_locale(context)
    return page.date(value, format) if page else flask_babel.format_date(value, format)


@pass_context
def format_number(context, value, format: str | None = None) -> str:
    page = _page_locale(context)
    return page.number(value, format) if page else flask_babel.format_decimal(value, format)


FILTERS = {"format_datetime": format_datetime, "format_date": format_date,
           "format_number": format_number}
