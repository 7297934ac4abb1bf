"""Flask-Admin at ``/admin/``: posts for content managers, everything for superusers.

``init_admin(app)`` builds a new ``Admin`` and new views for each app (a module-level
``Admin`` breaks a second ``create_app()``, flask-admin #910). It must run after
Flask-Babel is initialised, or every admin page fails.

Access: each view's ``is_accessible`` says who may open it (403 otherwise), and a
guard in front of the whole ``/admin`` URL space refuses anyone who is not staff,
static files and unknown URLs included. CSRF: the app-wide ``CSRFProtect`` checks
every admin POST before the view runs; Flask-Admin's templates put the token
(``csrf_token()``) in every form they render.
"""
from __future__ import annotations

from flask import Flask, abort, request
from flask_admin import Admin
from flask_babel import get_locale
from flask_admin.menu import MenuLink
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_login import current_user

from mailer.extensions import db

ADMIN_URL = "/admin"


class _Name(LazyString):
    """A view's name, translated per request, that Flask-Admin may inspect at start-up.

    While a view is made, Flask-Admin tests its name for truth and probes its
    attributes (``hasattr(name, "_action")``); a plain lazy string would be
    translated right then, and an app built inside another app's context (as
    tests do) has no request to choose the language from.
    """

    def __init__(self, lazy: LazyString) -> None:
        super().__init__(lazy._func, *lazy._args, **lazy._kwargs)

    def __bool__(self) -> bool:
        return True

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        return super().__getattr__(attr)


def init_admin(app: Flask) -> Admin:
    from mailer.admin import views
    from mailer.models import Client, Mailing, Message, Post, User

    if "babel" not in app.extensions:
        raise RuntimeError("init_admin needs Flask-Babel initialised first")
    admin = Admin(app, name="Mailer", url=ADMIN_URL, index_view=views.IndexView(url=ADMIN_URL))
    sections = (
        (views.PostView, Post, "post", _l("Posts")),
        (views.MailingView, Mailing, "mailing", _l("Mailings")),
        (views.ClientView, Client, "client", _l("Clients")),
        (views.MessageView, Message, "message", _l("Messages")),
        (views.UserView, User, "user", _l("Users")),
    )
    for view, model, slug, name in sections:
        # Endpoints are prefixed so they never clash with the site's blueprints.
        admin.add_view(view(model, db, name=_Name(name), endpoint=f"admin_{slug}",
                            url=f"{ADMIN_URL}/{slug}"))
    admin.add_link(MenuLink(name=_Name(_l("Back to the site")), endpoint="main.index"))

    @app.before_request
    def admin_for_staff_only():
        in_admin = request.path == ADMIN_URL or request.path.startswith(ADMIN_URL + "/")
        if in_admin and not views.is_staff(current_user):
            abort(403)

    @app.before_request
    def admin_return_address_is_one_line():
        # Flask-Admin redirects to the "url" it is sent (its forms' hidden return address) when
        # the address stays on this site, but a line break in it fails the redirect with a 500.
        if not request.path.startswith(ADMIN_URL + "/"):
            return
        target = request.values.get("url")
        if target and any(ord(char) < 32 or char == "\x7f" for char in target):
            abort(400)

    @app.after_request
    def admin_pages_say_their_language(response):
        # Flask-Admin's layout writes a bare <html>; screen readers and spell
        # checkers need to know the page is Russian or English, like the site's pages.
        if request.path.startswith(ADMIN_URL + "/") and response.mimetype == "text/html" \
                and not response.direct_passthrough:
            page = response.get_data(as_text=True)
            response.set_data(page.replace("<html>", f'<html lang="{get_locale()}">', 1))
        return response

    return admin
