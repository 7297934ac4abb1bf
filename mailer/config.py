"""Settings, read only from the environment (and the project's ``.env``).

Every variable is documented in ``.env.example``. With nothing set, the app
runs on embedded defaults (SQLite under ``instance/``, in-process cache, mail
to the local sink); outside development a missing ``SECRET_KEY`` stops
start-up.
"""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import load_dotenv

from mailer.delivery import host_slots

PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the checkout (site-packages once installed)
# Where instance/ (SQLite, logs, uploads, the sink) and scripts/ live: the checkout, or, for an
# install with `pip install .`, MAILER_HOME (set in the environment, e.g. /var/lib/mailer).
MAILER_HOME = Path(os.environ.get("MAILER_HOME") or PROJECT_ROOT).resolve()
INSTANCE_PATH = MAILER_HOME / "instance"
_CHECKOUT_MIGRATIONS = PROJECT_ROOT / "migrations"
# In a checkout the migrations sit beside the package; a wheel carries them inside it.
MIGRATIONS_DIR = _CHECKOUT_MIGRATIONS if (PROJECT_ROOT / "wsgi.py").is_file() \
    and (_CHECKOUT_MIGRATIONS / "env.py").is_file() else Path(__file__).resolve().parent / "migrations"
LANGUAGES = ("ru", "en")
ENVIRONMENTS = ("development", "production", "testing")
SCHEDULERS = ("cron", "flask")  # system cron runs the user's crontab; `flask scheduler` runs CRONTAB_FILE


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def load_env_file() -> None:
    """Load the project's ``.env`` (or ``MAILER_ENV_FILE``) without overriding the environment.

    ``MAILER_ENV_FILE`` set to an empty string disables it (tests do this).
    """
    env_file = env_file_path()
    if env_file:
        load_dotenv(env_file, override=False)


def env_file_path() -> str | None:
    """The env file settings come from (absolute, so cron scripts can bake it in); None if off."""
    env_file = os.environ.get("MAILER_ENV_FILE", str(MAILER_HOME / ".env"))
    return os.path.abspath(env_file) if env_file else None


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None


def _dev_secret_key() -> str:
    """A random key kept under instance/, so development sessions survive restarts."""
    key_file = INSTANCE_PATH / "dev_secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    INSTANCE_PATH.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def _path(name: str, default: Path) -> str:
    """A path setting; relative paths are taken from MAILER_HOME (the checkout by default)."""
    value = os.environ.get(name) or ""
    if not value:
        return str(default)
    path = Path(value)
    return str(path if path.is_absolute() else MAILER_HOME / path)


def _delays(name: str, default: str) -> tuple[float, ...]:
    value = os.environ.get(name, default)
    try:
        delays = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"{name} must be seconds separated by commas (e.g. 5,30,120), got {value!r}"
        ) from None
    if any(delay < 0 for delay in delays):
        raise ConfigError(f"{name} must not hold negative delays, got {value!r}")
    return delays


def _ratio(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        ratio = float(value)
    except ValueError:
        ratio = -1.0
    if not 0 < ratio <= 1:
        raise ConfigError(f"{name} must be a fraction above 0 and at most 1 (0.5 is half), "
                          f"got {value!r}")
    return ratio


MAIL_RATES = ("MAIL_RATE_PER_SECOND", "MAIL_RATE_PER_MINUTE", "MAIL_RATE_PER_HOUR")
_RATE_HELP = "a positive number of letters, such as 20 or 0.5 (empty: no limit)"


def _rate(name: str) -> float | None:
    """Letters the mail relay takes per second, minute or hour; None (unset or empty): no limit."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name} must be {_RATE_HELP}, got {value!r}") from None


def settings_from_env() -> dict:
    """Read the environment into a Flask config mapping (validation happens in ``check``)."""
    load_env_file()
    env = os.environ.get("APP_ENV", "production").strip().lower()
    base_url = os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    redis_url = os.environ.get("REDIS_URL") or None
    https = base_url.startswith("https://")
    return {
        "APP_ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or None,
        "BASE_URL": base_url,
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or f"sqlite:///{INSTANCE_PATH / 'mailer.db'}",
        "REDIS_URL": redis_url,
        "CACHE_TYPE": "RedisCache" if redis_url else "SimpleCache",
        "CACHE_REDIS_URL": redis_url,
        "CACHE_DEFAULT_TIMEOUT": _int("CACHE_DEFAULT_TIMEOUT", 300),
        # A Redis that is down must cost a page half a second at most, then it is skipped.
        "CACHE_OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5} if redis_url else {},
        "CACHE_KEY_PREFIX": "mailer:",
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_ENABLED": _flag("RATELIMIT_ENABLED", True),
        "RATELIMIT_SIGN_IN": os.environ.get("RATELIMIT_SIGN_IN", "10 per minute;50 per hour"),
        "RATELIMIT_ACCOUNT_MAIL": os.environ.get("RATELIMIT_ACCOUNT_MAIL", "5 per 15 minutes"),
        "RATELIMIT_TEST_SEND": os.environ.get("RATELIMIT_TEST_SEND", "10 per hour"),
        "RATELIMIT_API": os.environ.get("RATELIMIT_API", "600 per minute"),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "127.0.0.1"),
        "MAIL_PORT": _int("MAIL_PORT", 8025),
        "MAIL_USE_TLS": _flag("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _flag("MAIL_USE_SSL"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "Mailer <noreply@localhost>"),
        "MAIL_RETURN_PATH": os.environ.get("MAIL_RETURN_PATH") or None,
        "MAIL_SENDER_DOMAINS": os.environ.get("MAIL_SENDER_DOMAINS") or "",
        "DKIM_DOMAIN": os.environ.get("DKIM_DOMAIN") or None,
        "DKIM_SELECTOR": os.environ.get("DKIM_SELECTOR") or None,
        "DKIM_PRIVATE_KEY_FILE": os.environ.get("DKIM_PRIVATE_KEY_FILE") or None,
        "MAIL_TIMEOUT": _int("MAIL_TIMEOUT", 10),
        "MAIL_RATE_PER_SECOND": _rate("MAIL_RATE_PER_SECOND"),
        "MAIL_RATE_PER_MINUTE": _rate("MAIL_RATE_PER_MINUTE"),
        "MAIL_RATE_PER_HOUR": _rate("MAIL_RATE_PER_HOUR"),
        "MAIL_SUPPRESS_SEND": False,
        "MAIL_SINK_DIR": _path("MAIL_SINK_DIR", INSTANCE_PATH / "mail"),
        "DEFAULT_TIMEZONE": os.environ.get("DEFAULT_TIMEZONE", "UTC"),
        "DEFAULT_LANGUAGE": os.environ.get("DEFAULT_LANGUAGE", "ru"),
        "LANGUAGES": LANGUAGES,
        "CRONTAB_FILE": _path("CRONTAB_FILE", Path()) if os.environ.get("CRONTAB_FILE") else None,
        "SCHEDULER": os.environ.get("SCHEDULER", "").strip().lower() or None,
        "ALLOW_SQLITE": _flag("ALLOW_SQLITE"),
        "MAILER_INSTANCE": os.environ.get("MAILER_INSTANCE", "default"),
        "MAILER_ENV_FILE": env_file_path(),
        "SCRIPTS_DIR": _path("SCRIPTS_DIR", MAILER_HOME / "scripts"),
        "CRON_LOG": _path("CRON_LOG", INSTANCE_PATH / "logs" / "cron.log"),
        "CRON_PYTHON": os.environ.get("CRON_PYTHON") or None,
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO").upper(),
        "PROXY_HOPS": _int("PROXY_HOPS", 0),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_DURATION": _int("REMEMBER_COOKIE_DAYS", 30) * 86400,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": _int("MAX_UPLOAD_MB", 16) * 1024 * 1024,
        "UPLOAD_FOLDER": _path("UPLOAD_FOLDER", INSTANCE_PATH / "uploads"),
        "MAX_IMAGE_MB": _int("MAX_IMAGE_MB", 5),
        "MAILING_SMTP_TIMEOUT": _int("MAILING_SMTP_TIMEOUT", 30),
        "MAILING_BATCH_SIZE": _int("MAILING_BATCH_SIZE", 50),
        "MAILING_RETRY_DELAYS": _delays("MAILING_RETRY_DELAYS", "5,30,120"),
        "MAILING_LEASE_SECONDS": _int("MAILING_LEASE_SECONDS", 600),
        "MAILING_MAX_FAILURE_RATIO": _ratio("MAILING_MAX_FAILURE_RATIO", 0.5),
        "MAILING_MIN_SAMPLE": _int("MAILING_MIN_SAMPLE", 100),
        "MAILING_MAX_PARALLEL": _int("MAILING_MAX_PARALLEL", host_slots.default_parallel()),
        "BOUNCE_SOFT_LIMIT": _int("BOUNCE_SOFT_LIMIT", 3),
        "BOUNCE_SOFT_DAYS": _int("BOUNCE_SOFT_DAYS", 30),
        "BOUNCE_MAX_BYTES": _int("BOUNCE_MAX_KB", 10240) * 1024,
        "BOUNCE_MAILBOX_PROTOCOL": os.environ.get("BOUNCE_MAILBOX_PROTOCOL", "imap").strip().lower(),
        "BOUNCE_MAILBOX_HOST": os.environ.get("BOUNCE_MAILBOX_HOST") or None,
        "BOUNCE_MAILBOX_PORT": _int("BOUNCE_MAILBOX_PORT", 0),  # 0: the protocol's own
        "BOUNCE_MAILBOX_SECURITY": os.environ.get("BOUNCE_MAILBOX_SECURITY", "ssl").strip().lower(),
        "BOUNCE_MAILBOX_USER": os.environ.get("BOUNCE_MAILBOX_USER") or None,
        "BOUNCE_MAILBOX_PASSWORD": os.environ.get("BOUNCE_MAILBOX_PASSWORD") or None,
        "BOUNCE_MAILBOX_FOLDER": os.environ.get("BOUNCE_MAILBOX_FOLDER") or "INBOX",
        "BOUNCE_MAILBOX_DONE_FOLDER": os.environ.get("BOUNCE_MAILBOX_DONE_FOLDER") or None,
        "BOUNCE_MAILBOX_TIMEOUT": _int("BOUNCE_MAILBOX_TIMEOUT", 30),
        "BOUNCE_FETCH_LIMIT": _int("BOUNCE_FETCH_LIMIT", 500),
        "BOUNCE_FETCH_MINUTES": _int("BOUNCE_FETCH_MINUTES", 5),
    }


def check(config: dict) -> None:
    """Refuse to start on settings that cannot work; fill in development-only defaults."""
    env = config["APP_ENV"]
    if env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    if not config.get("SECRET_KEY"):
        if env != "development":
            raise ConfigError(
                "SECRET_KEY is not set. Set it in the environment or in .env "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))'). "
                "Only APP_ENV=development may run without one."
            )
        config["SECRET_KEY"] = _dev_secret_key()
    try:
        ZoneInfo(config["DEFAULT_TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"DEFAULT_TIMEZONE must be an IANA time zone such as Europe/Moscow, "
            f"got {config['DEFAULT_TIMEZONE']!r}"
        ) from None
    if config["DEFAULT_LANGUAGE"] not in LANGUAGES:
        raise ConfigError(f"DEFAULT_LANGUAGE must be one of {', '.join(LANGUAGES)}")
    if not 1 <= config["MAIL_PORT"] <= 65535:
        raise ConfigError(f"MAIL_PORT must be a port number from 1 to 65535, such as 587, "
                          f"got {config['MAIL_PORT']}")
    if config["MAIL_TIMEOUT"] <= 0:
        raise ConfigError("MAIL_TIMEOUT must be a positive number of seconds")
    for name in MAIL_RATES:
        rate = config.get(name)
        is_number = isinstance(rate, (int, float)) and not isinstance(rate, bool)
        # NaN fails both comparisons; no limit is said by leaving it empty, not by infinity.
        if rate is not None and not (is_number and 0 < rate < float("inf")):
            raise ConfigError(f"{name} must be {_RATE_HELP}, got {rate!r}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", config.get("MAILER_INSTANCE") or ""):
        raise ConfigError("MAILER_INSTANCE must be letters, digits, '.', '_' or '-' (it names "
                          "this install in its crontab lines)")
    if not 0 <= config["PROXY_HOPS"] <= 5:
        raise ConfigError(f"PROXY_HOPS is the number of proxies in front of the app, such as 1 "
                          f"for nginx, got {config['PROXY_HOPS']}")
    if config["MAX_IMAGE_MB"] < 1:
        raise ConfigError("MAX_IMAGE_MB must be at least 1")
    if config["MAILING_SMTP_TIMEOUT"] <= 0:
        raise ConfigError("MAILING_SMTP_TIMEOUT must be a positive number of seconds")
    if config["MAILING_BATCH_SIZE"] < 1:
        raise ConfigError("MAILING_BATCH_SIZE must be at least 1")
    if config["MAILING_LEASE_SECONDS"] < 1:
        raise ConfigError("MAILING_LEASE_SECONDS must be at least 1")
    if config["MAILING_MIN_SAMPLE"] < 1:
        raise ConfigError("MAILING_MIN_SAMPLE must be at least 1")
    if config["MAILING_MAX_PARALLEL"] < 1:
        raise ConfigError("MAILING_MAX_PARALLEL must be at least 1 (how many sending processes "
                          "one host runs at once)")
    _check_bounces(config)
    _check_scheduler(config)
    if env == "production":
        _check_production(config)
    _check_mail_identity(config)


BOUNCE_PROTOCOLS = ("imap", "pop3")
BOUNCE_SECURITY = ("ssl", "starttls", "none")


def _check_bounces(config: dict) -> None:
    for name in ("BOUNCE_SOFT_LIMIT", "BOUNCE_SOFT_DAYS", "BOUNCE_MAX_BYTES", "BOUNCE_MAILBOX_TIMEOUT",
                 "BOUNCE_FETCH_LIMIT"):
        if config[name] < 1:
            raise ConfigError(f"{name.replace('_BYTES', '_KB')} must be at least 1")
    if not 1 <= config["BOUNCE_FETCH_MINUTES"] <= 59:
        raise ConfigError(f"BOUNCE_FETCH_MINUTES must be from 1 to 59 (how often `flask bounces "
                          f"fetch` runs), got {config['BOUNCE_FETCH_MINUTES']}")
    if config["BOUNCE_MAILBOX_PROTOCOL"] not in BOUNCE_PROTOCOLS:
        raise ConfigError(f"BOUNCE_MAILBOX_PROTOCOL must be imap or pop3, "
                          f"got {config['BOUNCE_MAILBOX_PROTOCOL']!r}")
    if config["BOUNCE_MAILBOX_SECURITY"] not in BOUNCE_SECURITY:
        raise ConfigError(f"BOUNCE_MAILBOX_SECURITY must be ssl, starttls or none, "
                          f"got {config['BOUNCE_MAILBOX_SECURITY']!r}")
    if not 0 <= config["BOUNCE_MAILBOX_PORT"] <= 65535:
        raise ConfigError(f"BOUNCE_MAILBOX_PORT must be a port number, got {config['BOUNCE_MAILBOX_PORT']}")
    if config["BOUNCE_MAILBOX_HOST"] and not (config["BOUNCE_MAILBOX_USER"]
                                              and config["BOUNCE_MAILBOX_PASSWORD"]):
        raise ConfigError("BOUNCE_MAILBOX_HOST is set: set BOUNCE_MAILBOX_USER and "
                          "BOUNCE_MAILBOX_PASSWORD too (the bounce mailbox's login)")


def _check_scheduler(config: dict) -> None:
    """Who runs the mailings' lines: system cron (the user's crontab) or `flask scheduler`
    (the lines of CRONTAB_FILE). Unset, it follows from CRONTAB_FILE."""
    scheduler, crontab_file = config.get("SCHEDULER"), config.get("CRONTAB_FILE")
    if scheduler is None:
        scheduler = "flask" if crontab_file and config["APP_ENV"] != "production" else "cron"
        if crontab_file and config["APP_ENV"] == "production":
            raise ConfigError(
                f"CRONTAB_FILE is set ({crontab_file}), but in production nothing runs that file, so "
                "no mailing would send: unset CRONTAB_FILE to use this user's crontab and system "
                "cron, or run `flask scheduler` (deploy/mailer-scheduler.service) and set SCHEDULER=flask")
    if scheduler not in SCHEDULERS:
        raise ConfigError(f"SCHEDULER must be cron or flask, got {scheduler!r}")
    if scheduler == "flask" and not crontab_file:
        raise ConfigError("SCHEDULER=flask runs the lines of CRONTAB_FILE: set it too, "
                          "for example CRONTAB_FILE=/var/lib/mailer/crontab")
    if scheduler == "cron" and crontab_file:
        raise ConfigError(f"SCHEDULER=cron uses this user's crontab, but CRONTAB_FILE is set "
                          f"({crontab_file}): unset one of them")
    config["SCHEDULER"] = scheduler


def _check_production(config: dict) -> None:
    if _flag("FLASK_DEBUG"):  # read after .env: `flask --debug` and .env both set it
        raise ConfigError("FLASK_DEBUG is on in production: its debugger would let any visitor "
                          "run code on the server. Unset FLASK_DEBUG or set it to 0")
    uri = config["SQLALCHEMY_DATABASE_URI"] or ""
    if uri.startswith("sqlite") and not config.get("ALLOW_SQLITE"):
        raise ConfigError(
            "APP_ENV=production needs DATABASE_URL for PostgreSQL, for example "
            "postgresql+psycopg://mailer:secret@localhost/mailer (to run on SQLite on purpose, "
            "set ALLOW_SQLITE=true)")


def _check_mail_identity(config: dict) -> None:
    return_path = config.get("MAIL_RETURN_PATH")
    if return_path and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", return_path):
        raise ConfigError(f"MAIL_RETURN_PATH must be a bare address such as bounces@example.com, "
                          f"got {return_path!r}")
    dkim = {name: config.get(name) for name in ("DKIM_DOMAIN", "DKIM_SELECTOR", "DKIM_PRIVATE_KEY_FILE")}
    if not any(dkim.values()):
        return
    missing = [name for name, value in dkim.items() if not value]
    if missing:
        raise ConfigError(f"DKIM signing needs DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE; "
                          f"{', '.join(missing)} not set")
    # Here, not at the top: the cron script reads settings and must not pay for dkimpy.
    from mailer.delivery.dkim_signing import DkimKeyError, read_private_key

    try:
        read_private_key(dkim["DKIM_PRIVATE_KEY_FILE"])
    except DkimKeyError as error:
        raise ConfigError(f"DKIM_PRIVATE_KEY_FILE: {error}") from None
