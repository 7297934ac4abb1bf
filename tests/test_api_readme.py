"""The README's API example, run as written (bash and curl) against a live server: clients
made, a mailing started, and the letters it sent read back."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api_support import token_for

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    section = README.read_text(encoding="utf-8").split("## The API", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return block


@pytest.fixture
def curl() -> str:
    """curl, as the README's reader runs it (make test installs it: tests/provision.py)."""
    return shutil.which("curl")


def test_the_readme_example_makes_clients_sends_a_mailing_and_reads_who_got_it(curl, live_app, db, make_user,
                                                                                  smtp_sink):
    owner = make_user(email="owner@example.com", language="en")
    script = readme_example().replace("API=http://127.0.0.1:5000/api/v1", f"API={live_app}/api/v1")
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "TOKEN": token_for(owner)})
    assert run.returncode == 0, run.stdout + run.stderr
    last_line = run.stdout.strip().splitlines()[-1]
    assert '"email":"anna@example.com"' in last_line and '"email":"ben@example.com"' in last_line
    assert last_line.count('"status":"sent"') == 2
    letters = smtp_sink.wait_for(2)
    assert sorted(letter.envelope_to[0] for letter in letters) == ["anna@example.com", "ben@example.com"]
