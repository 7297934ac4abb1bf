"""The API judged by schemathesis against its own OpenAPI document, as its CLI runs it on a live
server: every operation with the document's examples, its boundaries, fuzzed data it allows
and data it does not, then sequences that follow the document's links (a client created,
read, changed, deleted). No answer may be a server error or break the document (status,
content type, headers, body schema), and no request the document forbids may be accepted.

One check is left out: "schema-valid request rejected" (ST202). Our rules say more than JSON
Schema can: an address email-validator accepts, a window ending in the future, a message of
one's own, placeholders that exist. Such a request gets a 422 naming the field, which
test_api.py holds to the web forms' words.

"Send now" is left to test_api.py too: each call starts a real sending process.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


from mailer.models import Role
from tests.api_support import token_for
from tests.workspace import make_mailing

ST = str(Path(sys.executable).with_name("st"))
# A fixed seed keeps CI repeatable; SCHEMATHESIS_SEED=random explores afresh.
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261129")


def _config(tmp_path: Path, owner_token: str, manager_token: str) -> Path:
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'headers = {{ Authorization = "Bearer {owner_token}" }}\n'
        "[[operations]]\n"
        'include-path-regex = "^/api/v1/manager/"\n'
        f'headers = {{ Authorization = "Bearer {manager_token}" }}\n'
    )
    return config


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(
        live_app, app, db, make_user, tmp_path):
    owner = make_user(email="owner@example.com", language="en", timezone="Europe/Moscow")
    manager = make_user(email="manager@example.com", role=Role.MANAGER, language="en")
    make_mailing(db, owner, clients=3)
    config = _config(tmp_path, token_for(owner), token_for(manager))
    command = [ST, "--no-color", "--config-file", str(config), "run", f"{live_app}/api/v1/openapi.json",
               "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "25",
               "--exclude-checks", "positive_data_acceptance", "--exclude-path-regex", "/send-now$",
               "--workers", "1", "--request-timeout", "30"]
    if SEED != "random":
        command += ["--seed", SEED]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-12000:]
    assert "✅ Stateful" in report and "✅ Fuzzing" in report, report[-3000:]
    document = app.test_client().get("/api/v1/openapi.json").json
    operations = sum(method in ("get", "post", "patch", "delete") for path, item in document["paths"].items()
                     if not path.endswith("/send-now") for method in item)
    assert f"Tested: {operations}" in report, report[-3000:]
