"""Fixtures: a real PostgreSQL database for the run, a real SMTP sink, the app.

The database is created on the server named by TEST_DATABASE_URL (default:
local PostgreSQL, as tests/provision.py finds it) under a throwaway name,
migrated with the project's Alembic history, emptied after each test and
dropped at the end. A sqlite:// TEST_DATABASE_URL runs the suite on a
temporary SQLite file.

Before any test runs, the machine is checked for what the selected tests need
(tests/provision.py); anything missing ends the run with one line per thing.
"""
from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import uuid

os.environ["MAILER_ENV_FILE"] = ""  # the developer's .env never leaks into tests

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from werkzeug.serving import make_server

from mailer import create_app
from mailer.extensions import db as _db
from tests import provision
from tests.html_checker import html_checker  # noqa: F401  (fixture)
from tests.mail_servers import exim_server, postfix_server  # noqa: F401  (fixtures)
from tests.mailbox_server import bounce_world  # noqa: F401  (fixture)
from tests.smtp_servers import SmtpSink, free_port


def pytest_collection_finish(session):
    """Stop before the first test if the machine lacks what the selected tests need."""
    if session.config.option.collectonly or not session.items:
        return
    fixtures = {name for item in session.items for name in getattr(item, "fixturenames", ())}
    missing = provision.unmet_for_fixtures(fixtures)
    if missing:
        pytest.exit("this machine lacks what the selected tests need (make test provides it as root):\n"
                    + "\n".join(f"- {line}" for line in missing), returncode=provision.CHECK_ONLY_EXIT)


def _create_database(server_url: str, tmp_path_factory) -> tuple[str, callable]:
    url = sa.make_url(server_url)
    if url.get_backend_name() == "sqlite":
        path = tmp_path_factory.mktemp("db") / "mailer.db"
        return f"sqlite:///{path}", lambda: None
    name = f"mailer_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            # UTF-8 whatever the cluster's default: a cluster made under LANG=C is SQL_ASCII
            conn.execute(sa.text(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0'))
    except sa.exc.OperationalError as error:
        pytest.exit(
            f"PostgreSQL is not reachable at {url.render_as_string(hide_password=True)}: "
            f"{error.orig}. make test starts it (as root), or set TEST_DATABASE_URL.",
            returncode=provision.CHECK_ONLY_EXIT,
        )

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def cron_log(tmp_path_factory) -> str:
    """This run's own script log, so two suites on one machine never share one."""
    return str(tmp_path_factory.mktemp("logs") / "cron.log")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, cron_log):
    server_url, problem = provision.database_server()
    if server_url is None:
        pytest.exit(f"PostgreSQL: {problem}. make test starts it (as root), or set TEST_DATABASE_URL.",
                    returncode=provision.CHECK_ONLY_EXIT)
    url, drop = _create_database(server_url, tmp_path_factory)
    app = create_app(_base_config(url, smtp_port=1, cron_log=cron_log))
    with app.app_context():
        upgrade()
        _db.engine.dispose()
    yield url
    drop()


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def cron_daemon():
    """Debian's cron daemon, running (make test installs and starts it as root)."""
    problem = provision.cron_problem()
    if problem:
        pytest.fail(f"cron: {problem}; make test installs and starts it as root (apt-get install cron; cron).")


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own on a free port, so stopping it touches nothing else
    and two suites on one machine never share one: (URL, a client, the process)."""
    import redis

    port = free_port()
    server = subprocess.Popen([provision.redis_server_path(), "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    probe = redis.Redis.from_url(url, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 30
    while True:
        try:
            probe.ping()
            break
        except redis.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"redis-server on port {port} did not come up (exit code {server.poll()})")
            time.sleep(0.05)
    yield url, probe, server
    server.kill()
    server.wait()


def _base_config(database_url: str, smtp_port: int, cron_log: str) -> dict:
    return {
        "APP_ENV": "testing",
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "BASE_URL": "http://mailer.test",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_port,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_USERNAME": None,
        "MAIL_PASSWORD": None,
        "MAIL_TIMEOUT": 2,
        "REDIS_URL": None,
        "CACHE_TYPE": "SimpleCache",
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_ENABLED": False,
        "DEFAULT_TIMEZONE": "UTC",
        "DEFAULT_LANGUAGE": "en",
        "CRONTAB_FILE": None,
        "CRON_LOG": cron_log,
    }


def _empty_tables() -> None:
    tables = [table.name for table in reversed(_db.metadata.sorted_tables)]
    if _db.engine.dialect.name == "postgresql":
        _db.session.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            _db.session.execute(sa.text(f"DELETE FROM {table}"))
    _db.session.commit()


class ObservedClient(FlaskClient):
    """A test client after whose requests the test's own session re-reads the database."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        if has_app_context():
            _db.session.expire_all()
        return response


@pytest.fixture
def make_app(database_url, smtp_sink, cron_log, tmp_path):
    """Build an app on the test database with some settings changed.

    Outside APP_ENV=testing the app keeps cron in step, so unless a test names its
    CRONTAB_FILE (None: the real user crontab, on purpose, under an instance of its own) the
    lines go to a file of the test's own and never to this machine's crontab."""
    apps = []

    def factory(**overrides):
        if overrides.get("APP_ENV", "testing") != "testing" and "CRONTAB_FILE" not in overrides:
            overrides = {"CRONTAB_FILE": str(tmp_path / "crontab"), "SCHEDULER": "flask",
                         "SCRIPTS_DIR": str(tmp_path / "scripts"), **overrides}
        app = create_app({**_base_config(database_url, smtp_sink.port, cron_log), **overrides})
        app.test_client_class = ObservedClient
        apps.append(app)
        return app

    yield factory
    if apps:
        with apps[0].app_context():
            _empty_tables()
    for app in apps:
        with app.app_context():
            _db.engine.dispose()


@pytest.fixture
def app(make_app, smtp_sink):
    smtp_sink.clear()
    return make_app()


@pytest.fixture
def db(make_app, app):
    """The database as the test sees it: a session of its own, outside any request.

    It lives in the app context of a second app instance on the same database,
    because a request on an app whose context is already pushed would reuse
    that context (and its ``g``, where Flask-Login caches the signed-in user).
    """
    observer = make_app()
    with observer.app_context():
        yield _db


@pytest.fixture
def live_app(app):
    """``app`` served over HTTP on a free port in a thread (for programs that call the API)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')


def csrf_token(client, url: str) -> str:
    """The CSRF token of the form on ``url``, as a browser would read it."""
    page = client.get(url)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token in the form at {url} (status {page.status_code})"
    return match.group(1)


def submit(client, url: str, data: dict, form_url: str | None = None, **kwargs):
    """POST a form with the CSRF token taken from the page that shows it."""
    token = csrf_token(client, form_url or url)
    return client.post(url, data={"csrf_token": token, **data}, **kwargs)


def signed_long_ago(app, salt: str, payload, hours: float) -> str:
    """A real token of the app's, signed ``hours`` ago (to test expiry without waiting)."""
    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - hours * 3600)

    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=salt, signer=PastSigner).dumps(payload)


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email="user@example.com", password="password123", **extra):
        """Sign in as ``email``; whoever was signed in on this client signs out first (the
        sign-in page sends a signed-in user home)."""
        if self._client.get("/auth/login").status_code == 302:
            self.logout()
        return submit(self._client, "/auth/login", {"email": email, "password": password, **extra})

    def logout(self):
        return submit(self._client, "/auth/logout", {}, form_url="/")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def owner(make_user, auth):
    """The user whose workspace a test works in, signed in: user@example.com, "Olivia Owner",
    in New York (so wall-clock times and UTC differ), reading English."""
    user = make_user(email="user@example.com", full_name="Olivia Owner",
                     timezone="America/New_York", language="en")
    auth.login()
    return user


@pytest.fixture
def make_user(db):
    """Create a user directly (verified and active unless told otherwise)."""
    from tests.factories import UserFactory

    def factory(**fields):
        user = UserFactory(**fields)
        db.session.commit()
        return user

    return factory
