"""Browser fixtures: the app under gunicorn on a free loopback port, and Debian's Chromium.

The server runs on the suite's PostgreSQL database and sends through the
suite's SMTP sink, so a test can arrange data with ``db`` and read mail with
``smtp_sink``. Every test's last page is saved under test-output/browser/,
and the failing page when it fails.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests import provision
from tests.smtp_servers import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = provision.chromium_path()
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "test-output" / "browser"


def _wait_until_serving(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer at {url} within {seconds} s")


@pytest.fixture(scope="session")
def live_server(database_url, smtp_sink, tmp_path_factory):
    """Base URL of the app served by gunicorn (the way production serves it)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("server") / "gunicorn.log"
    cron_dir = tmp_path_factory.mktemp("cron")  # production mode must not reach the user's crontab
    env = {
        **os.environ,
        "MAILER_ENV_FILE": "",
        "APP_ENV": "production",
        "SECRET_KEY": "browser-test-secret",
        "DATABASE_URL": database_url,
        "BASE_URL": base_url,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_sink.port),
        "MAIL_TIMEOUT": "5",
        "RATELIMIT_ENABLED": "false",
        "DEFAULT_LANGUAGE": "en",
        "DEFAULT_TIMEZONE": "UTC",
        "REDIS_URL": "",
        "CRONTAB_FILE": str(cron_dir / "crontab"),
        "SCHEDULER": "flask",
        "SCRIPTS_DIR": str(cron_dir / "scripts"),
        "CRON_LOG": str(cron_dir / "cron.log"),
    }
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--threads", "4", "--access-logfile", "-", "wsgi:app"],
            cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_serving(f"{base_url}/auth/login", process)
    except RuntimeError as error:
        process.kill()
        pytest.fail(f"{error}; server log:\n{log.read_text()}")
    yield base_url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def browser():
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: make test installs it as root "
                    "(apt-get install chromium), or set TEST_CHROMIUM to its path.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.call_report = report
    return report


def new_tab(browser, live_server, viewport=None, locale="en-US", **options):
    """A tab in a browser context of its own (its own cookies), desktop-sized unless told."""
    context = browser.new_context(base_url=live_server, viewport=viewport or {"width": 1280, "height": 900},
                                  locale=locale, **options)
    context.set_default_timeout(10_000)
    return context.new_page()


def keep_screenshot(request, tab, name: str) -> None:
    """Save the tab's page as test-output/browser/<name>.png, or <name>-FAILED.png if the test failed."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    report = getattr(request.node, "call_report", None)
    failed = report is not None and report.failed
    for stale in (f"{name}.png", f"{name}-FAILED.png"):
        (SCREENSHOTS / stale).unlink(missing_ok=True)
    tab.screenshot(path=SCREENSHOTS / (f"{name}-FAILED.png" if failed else f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser, live_server, request):
    """A fresh browser tab (own cookies) at a desktop size; screenshot kept at the end."""
    tab = new_tab(browser, live_server)
    yield tab
    keep_screenshot(request, tab, request.node.name)
    tab.context.close()


def sign_in(page, email: str, password: str = "password123") -> None:
    page.goto("/auth/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("form [type=submit]").last.click()
    page.wait_for_url("**/")
