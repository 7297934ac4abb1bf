"""What `make test` finds, names and provides (tests/provision.py), against the real machine."""
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from tests import provision
from tests.smtp_servers import free_port

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=300)


def test_the_login_probe_tells_a_welcome_from_a_refusal_and_from_silence(database_url, smtp_sink):
    url = make_url(database_url)
    host, port = url.host, url.port or 5432

    assert provision.postgres_login(host, port, url.username) in ("ok", "password")
    assert provision.postgres_login(host, port, "no_such_role_here") in (
        'role "no_such_role_here" does not exist', "password")
    closed = free_port()
    assert provision.postgres_login("127.0.0.1", closed, "postgres").startswith(
        f"nothing answers on 127.0.0.1:{closed}")
    assert provision.postgres_login("127.0.0.1", smtp_sink.port, "postgres") == (
        f"127.0.0.1:{smtp_sink.port} does not speak PostgreSQL's protocol")


def test_check_names_each_missing_thing_in_one_line_with_its_variable_and_starts_nothing(tmp_path):
    closed = free_port()
    result = _run([sys.executable, "-m", "tests.provision", "--check"],
                  TEST_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{closed}/postgres",
                  TEST_REDIS_SERVER=str(tmp_path / "redis-server"), TEST_CHROMIUM=str(tmp_path / "chromium"))

    assert result.returncode == 3, result.stderr
    lines = {line.split(":", 1)[0]: line for line in result.stderr.splitlines() if line.startswith("- ")}
    assert {"- PostgreSQL", "- Redis", "- Chromium"} <= set(lines), result.stderr
    assert f"nothing answers on 127.0.0.1:{closed}" in lines["- PostgreSQL"]
    assert "TEST_DATABASE_URL" in lines["- PostgreSQL"]
    assert f"{tmp_path / 'redis-server'} not found" in lines["- Redis"] and "TEST_REDIS_SERVER" in lines["- Redis"]
    assert f"{tmp_path / 'chromium'} not found" in lines["- Chromium"] and "TEST_CHROMIUM" in lines["- Chromium"]
    assert "installing" not in result.stderr and "starting" not in result.stderr


def test_on_a_machine_that_has_everything_provisioning_says_and_starts_nothing():
    result = _run([sys.executable, "-m", "tests.provision"])

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_pytest_run_directly_stops_before_the_first_test_when_the_selected_tests_lack_chromium(tmp_path):
    result = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests/browser/test_pages.py"],
                  TEST_CHROMIUM=str(tmp_path / "chromium"))

    assert result.returncode == 3, result.stdout
    assert f"- Chromium: {tmp_path / 'chromium'} not found" in result.stdout
    assert " passed" not in result.stdout and " failed" not in result.stdout and " error" not in result.stdout


def test_tests_that_need_no_browser_run_without_one(tmp_path):
    result = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                   "tests/test_schedule.py::test_weekly_berlin_keeps_nine_oclock_across_spring_forward"],
                  TEST_CHROMIUM=str(tmp_path / "chromium"))

    assert result.returncode == 0, result.stdout
    assert "1 passed" in result.stdout
