"""The Flask application factory: extensions, blueprints, error pages, headers, commands."""
from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa
from flask import Flask, current_app, has_request_context, render_template, request, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header
from werkzeug.middleware.proxy_fix import ProxyFix

from mailer import config as settings
from mailer.api.problems import is_api_request
from mailer.app_core import configured_app
from mailer.extensions import babel, cache, csrf, db, limiter, login_manager, mail, migrate


def create_app(config: dict | None = None) -> Flask:
    """Build the app from the environment; ``config`` overrides (tests use it)."""
    app = configured_app(config)
    if app.config["PROXY_HOPS"]:
        # Behind nginx every request comes from 127.0.0.1: rate limits would be shared by all.
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    register_extensions(app)
    register_blueprints(app)
    register_api(app)
    register_admin(app)
    register_errorhandlers(app)
    register_security_headers(app)
    register_template_helpers(app)
    register_commands(app)
    register_cron(app)
    return app


def select_locale() -> str:
    languages = settings.LANGUAGES
    if not has_request_context():  # e.g. the sending engine, or Flask-Admin building its menu
        return current_app.config["DEFAULT_LANGUAGE"]
    if is_api_request() and request.blueprint != "api_reference" and request.headers.get("Accept-Language"):
        # A program says in each request which language its people read (the reference is a page).
        found = _best_language(request.headers["Accept-Language"])
        if found:
            return found
    if current_user and current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    if session.get("language") in languages:
        return session["language"]
    return _best_language(request.headers.get("Accept-Language", "")) \
        or current_app.config["DEFAULT_LANGUAGE"]


@lru_cache(maxsize=256)
def _best_language(accept_language: str) -> str | None:
    """Browsers send a handful of distinct headers: each is parsed once per process."""
    return parse_accept_header(accept_language, LanguageAccept).best_match(settings.LANGUAGES)


def select_timezone() -> str | None:
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user.timezone
    return current_app.config["DEFAULT_TIMEZONE"]  # visitors see the deployment's own zone


def register_extensions(app: Flask) -> None:
    from mailer.models import User

    db.init_app(app)
    migrate.init_app(app, db, directory=str(settings.MIGRATIONS_DIR), render_as_batch=True,
                     compare_type=True)
    csrf.init_app(app)
    csrf.exempt("mailer.unsubscribe.routes.unsubscribe")  # RFC 8058 one-click: no session
    csrf.exempt("mailer.main.routes.set_language")  # checks a signed-in user's token itself
    cache.init_app(app)
    mail.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=select_timezone,
        default_timezone="UTC",
    )
    limiter.init_app(app)

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to open this page.")
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(session_token: str) -> User | None:
        user = db.session.scalar(sa.select(User).where(User.session_token == session_token))
        if user is None or not user.active:
            return None
        return user


def register_blueprints(app: Flask) -> None:
    from mailer.auth import bp as auth_bp
    from mailer.blog import bp as blog_bp
    from mailer.clients import bp as clients_bp
    from mailer.mailings import bp as mailings_bp
    from mailer.messages import bp as messages_bp
    from mailer.main import bp as main_bp
    from mailer.manager import bp as manager_bp
    from mailer.reports import bp as reports_bp
    from mailer.unsubscribe import bp as unsubscribe_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(blog_bp)
    app.register_blueprint(clients_bp)
    app.register_blueprint(messages_bp)
    app.register_blueprint(mailings_bp)
    app.register_blueprint(manager_bp)
    app.register_blueprint(unsubscribe_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    if app.config["APP_ENV"] == "development":
        from mailer.devmail import bp as devmail_bp

        app.register_blueprint(devmail_bp, url_prefix="/dev/mail")


def register_api(app: Flask) -> None:
    from mailer.api import init_api

    init_api(app)


def register_admin(app: Flask) -> None:
    from mailer.admin import init_admin

    init_admin(app)  # after register_extensions: Flask-Admin needs Flask-Babel


def register_errorhandlers(app: Flask) -> None:
    from werkzeug.exceptions import HTTPException

    from mailer.api.errors import api_problem

    def render_error(error, code: int, message=None):
        if is_api_request():
            return api_problem(error)
        return render_template(f"errors/{code}.html", message=message), code

    for code in (400, 403, 404, 405, 413, 429):
        app.register_error_handler(code, lambda e, code=code: render_error(e, code))
    app.register_error_handler(CSRFError, lambda e: render_error(e, 400, "csrf"))

    @app.errorhandler(HTTPException)
    def other_http_error(error):
        return api_problem(error) if is_api_request() else error

    @app.errorhandler(500)
    def internal_error(error):
        db.session.rollback()
        return render_error(error, 500)


def register_security_headers(app: Flask) -> None:
    csp = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )

    @app.after_request
    def add_headers(response):
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def register_template_helpers(app: Flask) -> None:
    from babel.dates import format_skeleton
    from flask_babel import get_locale

    from mailer import template_locale
    from mailer.labels import (ATTEMPT_STATUS_LABELS, BOUNCE_LABELS, FREQUENCY_LABELS,
                               MAILING_STATUS_LABELS)
    from mailer.menu import menu_items
    from mailer.navigation import list_url, url_for_each
    from mailer.reports.replies import attempt_summary, delivery_summary

    def format_day_month(day) -> str:
        """"Oct 25" in English, "25 окт." in Russian: the locale orders the parts."""
        return format_skeleton("MMMd", day, locale=get_locale())

    app.jinja_env.filters.update(
        template_locale.FILTERS, format_day_month=format_day_month,
        attempt_summary=attempt_summary, delivery_summary=delivery_summary,
    )
    # The lazy labels as globals too, for a template importing the macros without a context.
    app.jinja_env.globals.update(mailing_status_labels=MAILING_STATUS_LABELS,
                                 frequency_labels=FREQUENCY_LABELS,
                                 attempt_status_labels=ATTEMPT_STATUS_LABELS,
                                 bounce_labels=BOUNCE_LABELS, url_for_each=url_for_each,
                                 list_url=list_url)

    @app.context_processor
    def helpers():
        return {"menu_items": menu_items, **template_locale.context()}


def register_cron(app: Flask) -> None:
    from mailer.scheduling import task_manager

    task_manager.register(app)


def register_commands(app: Flask) -> None:
    from mailer.cli import register

    register(app)
