"""The embedded default: the whole account flow on SQLite, as `make run` uses it."""
import re

import pytest
from flask_migrate import upgrade

from mailer import create_app
from mailer.extensions import db as _db
from tests.conftest import ObservedClient, submit


@pytest.fixture
def sqlite_app(tmp_path, smtp_sink):
    smtp_sink.clear()
    app = create_app({"APP_ENV": "testing", "SECRET_KEY": "k", "BASE_URL": "http://mailer.test",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'mailer.db'}",
                      "MAIL_PORT": smtp_sink.port, "RATELIMIT_ENABLED": False,
                      "DEFAULT_LANGUAGE": "en"})
    app.test_client_class = ObservedClient
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        _db.engine.dispose()


def test_register_verify_and_sign_in_on_sqlite(sqlite_app, smtp_sink):
    client = sqlite_app.test_client()
    submit(client, "/auth/register", {"email": "Anna@Example.com", "full_name": "Anna",
                                      "password": "password123", "password2": "password123"})
    (message,) = smtp_sink.to("anna@example.com")
    (link,) = re.findall(r"http://mailer.test(/auth/verify/\S+)", message.body)

    client.get(link)
    response = submit(client, "/auth/login", {"email": "anna@example.com", "password": "password123"})

    assert response.location == "/"
    assert "Hello, Anna!" in client.get("/").get_data(as_text=True)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_app):
    with sqlite_app.app_context():
        with _db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
