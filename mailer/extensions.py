"""Flask extensions, created unbound and initialised in the app factory.

``db`` and ``babel`` are what every process needs. The web's own extensions
(logins, CSRF, cache, rate limits, Flask-Mail, migrations) are made the first
time something imports them, so a sending process, which never does, does not
pay for loading them (bench/crowded_minute.py measures its memory).
"""
import sqlalchemy as sa
from flask_babel import Babel
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
babel = Babel()


def _migrate():
    from flask_migrate import Migrate

    return Migrate()


def _login_manager():
    from flask_login import LoginManager

    return LoginManager()


def _csrf():
    from flask_wtf import CSRFProtect

    return CSRFProtect()


def _cache():
    from flask_caching import Cache

    return Cache()


def _mail():
    from mailer.delivery.smtp import TimeoutMail

    return TimeoutMail()


def _limiter():
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    return Limiter(key_func=get_remote_address)


_WEB_ONLY = {"migrate": _migrate, "login_manager": _login_manager, "csrf": _csrf,
             "cache": _cache, "mail": _mail, "limiter": _limiter}


def __getattr__(name: str):
    """One instance of each web extension, made on first import (PEP 562)."""
    if name not in _WEB_ONLY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    extension = _WEB_ONLY[name]()
    globals()[name] = extension
    return extension
