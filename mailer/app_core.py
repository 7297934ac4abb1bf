"""The part of the app every process builds, and the lean app a sending process runs on.

``configured_app`` is a Flask app with its settings checked and nothing else;
the web app (``mailer.app.create_app``) adds the site to it. A sending process
(a cron line, "send now") needs only the database, translations for the words
it writes to owners, the unsubscribe route its letters link to, and cron upkeep
after a run: ``create_sending_app``. It imports no blueprint of the site, no
admin, no forms, cache or rate limits, so a host running many senders at once
(``MAILING_MAX_PARALLEL``) pays for none of them.
"""
from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

from mailer import config as settings
from mailer import database  # noqa: F401  (SQLite pragmas on every connection)
from mailer.extensions import babel, db


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in the app's URLs: only numbers a row id can be, so ``/mailings/99999999999``
    is a 404 rather than an INTEGER overflow in PostgreSQL.

    The pattern itself stops at 2147483647: Werkzeug tries a rule's methods before its
    converter's range, so a range check alone made PATCH of an impossible id a 405 ("use
    GET") wherever a GET rule shares the path."""

    regex = (r"(?:[1-9]\d{0,8}|1\d{9}|20\d{8}|21[0-3]\d{7}|214[0-6]\d{6}|2147[0-3]\d{5}"
             r"|21474[0-7]\d{4}|214748[0-2]\d{3}|2147483[0-5]\d{2}|21474836[0-3]\d|214748364[0-7])")

    def __init__(self, map, fixed_digits=0, min=1, max=2**31 - 1, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def configured_app(config: dict | None = None) -> Flask:
    """A Flask app with the settings from the environment, ``config`` over them, checked."""
    app = Flask("mailer", instance_path=str(settings.INSTANCE_PATH))
    app.url_map.converters["int"] = RowIdConverter
    values = settings.settings_from_env()
    values.update(config or {})
    settings.check(values)
    app.config.update(values)
    app.config["TESTING"] = app.config["APP_ENV"] == "testing"
    app.logger.setLevel(app.config["LOG_LEVEL"])
    return app


def create_sending_app(config: dict | None = None) -> Flask:
    """The app of a sending process (see the module's docstring)."""
    from mailer.scheduling import task_manager
    from mailer.unsubscribe import bp as unsubscribe_bp

    app = configured_app(config)
    db.init_app(app)
    babel.init_app(app, locale_selector=lambda: app.config["DEFAULT_LANGUAGE"],
                   default_timezone="UTC")
    app.register_blueprint(unsubscribe_bp)
    task_manager.register(app)
    return app
