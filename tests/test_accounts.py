"""Accounts have one home (mailer/auth/services.py): sign-up, the command line, the demo data
and the admin all make and change users through it."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _calls(name: str) -> dict[str, int]:
    """Files of mailer/ that call ``name(...)`` (a constructor or a function), and how often."""
    found: dict[str, int] = {}
    for source in (ROOT / "mailer").rglob("*.py"):
        tree = ast.parse(source.read_text())
        count = sum(1 for node in ast.walk(tree) if isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", None)) == name)
        if count:
            found[str(source.relative_to(ROOT))] = count
    return found


def test_a_user_is_made_in_one_place_only():
    assert _calls("User") == {"mailer/auth/services.py": 1}


def test_every_way_to_make_an_account_goes_through_create_account():
    callers = set(_calls("create_account"))

    assert {"mailer/auth/services.py", "mailer/cli/users.py", "mailer/cli/seed.py"} <= callers
