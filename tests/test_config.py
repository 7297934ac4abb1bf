"""Settings come from the environment; bad or missing production settings stop start-up."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailer import create_app
from mailer.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def _clean_env() -> dict:
    """This process's environment without any mailer setting in it."""
    from mailer.config import settings_from_env

    names = set(settings_from_env()) | {"DATABASE_URL", "REDIS_URL", "APP_ENV", "SECRET_KEY",
                                         "REMEMBER_COOKIE_DAYS", "FLASK_DEBUG"}
    return {k: v for k, v in os.environ.items() if k not in names}


def run_flask(*args, env_changes: dict, cwd=ROOT) -> subprocess.CompletedProcess:
    env = _clean_env()
    env.update({"MAILER_ENV_FILE": "", "FLASK_SKIP_DOTENV": "1", **env_changes})
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=60)


def test_production_without_secret_key_stops_with_a_clear_message():
    result = run_flask("routes", env_changes={"APP_ENV": "production"})

    assert result.returncode != 0
    assert "mailer cannot start: SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_with_secret_key_starts(tmp_path):
    result = run_flask("routes", env_changes={
        "APP_ENV": "production", "SECRET_KEY": "x" * 40, "ALLOW_SQLITE": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"})

    assert result.returncode == 0, result.stderr
    assert "auth.login" in result.stdout
    assert "devmail" not in result.stdout


def test_env_file_is_read_when_the_environment_is_silent(tmp_path):
    env_file = tmp_path / "mailer.env"
    env_file.write_text("APP_ENV=production\nSECRET_KEY=from-the-env-file-0123456789\n"
                        f"DATABASE_URL=sqlite:///{tmp_path / 'db.sqlite'}\nALLOW_SQLITE=true\n"
                        "BASE_URL=https://m.example\n")

    probe = subprocess.run(
        [sys.executable, "-c",
         "from wsgi import app; "
         "print(app.config['SECRET_KEY'], app.config['BASE_URL'], app.config['SESSION_COOKIE_SECURE'])"],
        cwd=ROOT, env={**_clean_env(), "MAILER_ENV_FILE": str(env_file)},
        capture_output=True, text=True, timeout=60)

    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["from-the-env-file-0123456789", "https://m.example", "True"]


@pytest.mark.parametrize("overrides, words", [
    ({"APP_ENV": "staging"}, "APP_ENV must be one of"),
    ({"DEFAULT_TIMEZONE": "Europe/Atlantis"}, "DEFAULT_TIMEZONE must be an IANA time zone"),
    ({"DEFAULT_LANGUAGE": "de"}, "DEFAULT_LANGUAGE must be one of"),
    ({"MAIL_TIMEOUT": 0}, "MAIL_TIMEOUT must be a positive number"),
    ({"APP_ENV": "production", "SECRET_KEY": None}, "SECRET_KEY is not set"),
    ({"MAIL_PORT": 70000}, "MAIL_PORT must be a port number from 1 to 65535, such as 587, got 70000"),
    ({"MAIL_PORT": 0}, "MAIL_PORT must be a port number"),
    ({"SCHEDULER": "systemd"}, "SCHEDULER must be cron or flask"),
    ({"SCHEDULER": "flask", "CRONTAB_FILE": None}, "SCHEDULER=flask runs the lines of CRONTAB_FILE"),
    ({"SCHEDULER": "cron", "CRONTAB_FILE": "/tmp/crontab"}, "unset one of them"),
    ({"APP_ENV": "production", "CRONTAB_FILE": "/srv/mailer/instance/crontab"},
     "in production nothing runs that file, so no mailing would send"),
    ({"MAILING_MAX_PARALLEL": 0}, "MAILING_MAX_PARALLEL must be at least 1"),
])
def test_bad_settings_are_refused_by_name(database_url, overrides, words):
    config = {"APP_ENV": "testing", "SECRET_KEY": "k", "SQLALCHEMY_DATABASE_URI": database_url}

    with pytest.raises(ConfigError, match=words):
        create_app({**config, **overrides})


def test_production_refuses_sqlite_unless_told_it_is_on_purpose(tmp_path):
    settings = {"APP_ENV": "production", "SECRET_KEY": "x" * 40, "CRONTAB_FILE": None,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'db.sqlite'}"}

    with pytest.raises(ConfigError, match="APP_ENV=production needs DATABASE_URL for PostgreSQL"):
        create_app(settings)
    assert create_app({**settings, "ALLOW_SQLITE": True}).config["APP_ENV"] == "production"


def test_production_with_the_example_settings_stops_naming_each_fix(tmp_path):
    """An administrator who copies .env.example and only changes APP_ENV learns, one line at a
    time and without a traceback, what production needs."""
    example = (ROOT / ".env.example").read_text().replace("APP_ENV=development", "APP_ENV=production")
    env_file = tmp_path / "mailer.env"
    env_file.write_text(example.replace("SECRET_KEY=\n", "SECRET_KEY=" + "k" * 40 + "\n"))

    first = run_flask("routes", env_changes={"MAILER_ENV_FILE": str(env_file)})
    env_file.write_text(env_file.read_text().replace("CRONTAB_FILE=instance/crontab", "CRONTAB_FILE="))
    second = run_flask("routes", env_changes={"MAILER_ENV_FILE": str(env_file)})
    env_file.write_text(env_file.read_text().replace("FLASK_DEBUG=1", "FLASK_DEBUG=0"))
    third = run_flask("routes", env_changes={"MAILER_ENV_FILE": str(env_file)})

    for result in (first, second, third):
        assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "mailer cannot start: CRONTAB_FILE is set" in first.stderr
    assert "FLASK_DEBUG is on in production" in second.stderr
    assert "APP_ENV=production needs DATABASE_URL" in third.stderr


def test_non_numeric_number_setting_is_refused(monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "twenty-five")

    with pytest.raises(ConfigError, match="MAIL_PORT must be a whole number"):
        create_app({"APP_ENV": "testing", "SECRET_KEY": "k"})


def test_embedded_defaults_need_no_settings(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "MAIL_PORT", "CRONTAB_FILE"):
        monkeypatch.delenv(name, raising=False)

    app = create_app({"APP_ENV": "testing", "SECRET_KEY": "k"})

    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{ROOT / 'instance' / 'mailer.db'}"
    assert app.config["CACHE_TYPE"] == "SimpleCache"
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert (app.config["MAIL_SERVER"], app.config["MAIL_PORT"]) == ("127.0.0.1", 8025)


def test_redis_url_switches_cache_and_rate_limits_to_redis(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")

    app = create_app({"APP_ENV": "testing", "SECRET_KEY": "k"})

    assert app.config["CACHE_TYPE"] == "RedisCache"
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"


def test_env_example_documents_every_setting():
    source = (ROOT / "mailer" / "config.py").read_text()
    import re

    read = set(re.findall(r'(?:environ\.get|_flag|_int|_path|_delays|_ratio|_rate)\(\s*"([A-Z_]+)"', source)) - {"MAILER_ENV_FILE", "MAILER_HOME"}
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_]+)=", example, flags=re.M))

    assert read - documented == set(), "settings read but not in .env.example"
    assert "MAILER_HOME" in example and "MAILER_ENV_FILE" in example, "read before .env: documented as such"
