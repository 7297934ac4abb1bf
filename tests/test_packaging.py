"""`pip install .` gives a working mailer outside the checkout: templates, static files, both
catalogs and the migrations inside the package, the `mailer` command, data under MAILER_HOME."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package as `pip install .` builds and installs it (dependencies: the suite's own)."""
    site = tmp_path_factory.mktemp("site")
    built = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                            "--target", str(site), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    return site


def run(installed, home: Path, *args, code: str | None = None):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MAILER_", "APP_ENV"))}
    env.update({"PYTHONPATH": str(installed), "MAILER_HOME": str(home), "APP_ENV": "development",
                "MAILER_ENV_FILE": str(home / "mailer.env"), "FLASK_SKIP_DOTENV": "1"})
    command = [sys.executable, "-c", code] if code else [str(installed / "bin" / "mailer"), *args]
    return subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, timeout=120)


def test_an_installed_mailer_migrates_serves_both_languages_and_keeps_its_data_in_mailer_home(
        installed, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "mailer.env").write_text("APP_ENV=development\nDEFAULT_LANGUAGE=ru\n")

    upgraded = run(installed, home, "db", "upgrade")
    served = run(installed, home, code=(
        "import mailer; from mailer.wsgi import app; c = app.test_client(); "
        "print(mailer.__file__); "
        "print(c.get('/auth/login', headers={'Accept-Language': 'ru'}).get_data(as_text=True)); "
        "print('css', c.get('/static/css/app.css').status_code)"))
    commands = run(installed, home, "--help")
    # A cron line's script, run as cron runs it: with an empty environment.
    written = run(installed, home, code=(
        "from mailer.config import settings_from_env; from mailer.scheduling import cron; "
        "config = cron.CronConfig.from_config(settings_from_env()); "
        "print(cron.script_text(config, 99))"))
    script = home / "99_script.py"
    script.write_text(written.stdout)
    by_cron = subprocess.run([sys.executable, str(script)], cwd="/", env={"PATH": "/usr/bin:/bin",
                             "PYTHONPATH": str(installed)}, capture_output=True, text=True, timeout=120)

    assert upgraded.returncode == 0, upgraded.stderr
    assert (home / "instance" / "mailer.db").exists(), "the database is under MAILER_HOME"
    assert served.returncode == 0, served.stderr
    assert served.stdout.splitlines()[0].startswith(str(installed)), "the installed copy, not the checkout"
    assert '<html lang="ru"' in served.stdout and "Войти" in served.stdout, "templates and the Russian catalog"
    assert "css 200" in served.stdout
    for command in ("doctor", "db", "cron", "scheduler", "force-mail", "seed", "users"):
        assert command in commands.stdout
    assert by_cron.returncode == 2 and "mailing 99 does not exist" in by_cron.stdout + by_cron.stderr, \
        "the script found MAILER_HOME's database with nothing but what it holds itself"
    assert not (installed / "instance").exists() and not (installed / "scripts").exists()
