"""The shape of the code, read from its source: arrows point down, no import cycle, no long
function, and each rule's one home is the one every module asks."""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mailer"
BLUEPRINTS = ("auth", "blog", "clients", "devmail", "mailings", "main", "manager", "messages",
              "reports", "unsubscribe")
LONGEST_FUNCTION = 60


@cache
def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@cache
def imports_of(name: str) -> frozenset[str]:
    """Every mailer module ``name`` imports, at the top or inside a function (an import put in
    a function to dodge a cycle is still a cycle)."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules()}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            for alias in node.names:
                if f"{module}.{alias.name}" in modules():
                    found.add(f"{module}.{alias.name}")
                elif module in modules():
                    found.add(module)
    found.discard(name)
    return frozenset(found)


def cycles() -> list[list[str]]:
    """The import graph's strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in imports_of(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in modules():
        if module not in index:
            visit(module)
    return found


def test_no_module_of_mailer_is_part_of_an_import_cycle():
    assert cycles() == []


def test_the_cycle_finder_sees_a_cycle_through_a_lazy_import(tmp_path, monkeypatch):
    """The check above would pass on a finder that sees nothing: here it must see one."""
    (tmp_path / "mailer").mkdir()
    (tmp_path / "mailer" / "__init__.py").write_text("")
    (tmp_path / "mailer" / "engine.py").write_text("from mailer import services\n")
    (tmp_path / "mailer" / "services.py").write_text("def run():\n    from mailer.engine import x\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    monkeypatch.setattr(f"{__name__}.PACKAGE", tmp_path / "mailer")
    modules.cache_clear()
    imports_of.cache_clear()
    try:
        assert cycles() == [["mailer.engine", "mailer.services"]]
    finally:
        modules.cache_clear()
        imports_of.cache_clear()


def test_delivery_and_scheduling_import_no_blueprint():
    """Arrows point down: the sending engine and the TaskManager use the lifecycle and the
    models, never a blueprint (the engine and the mailing services imported each other)."""
    for name in modules():
        if name.startswith(("mailer.delivery", "mailer.scheduling")):
            reached = {module for module in imports_of(name)
                       if module.split(".")[1:2] and module.split(".")[1] in BLUEPRINTS}
            assert reached == set(), name


def test_nothing_imports_a_blueprints_routes_but_its_own_package():
    for name in modules():
        for module in imports_of(name):
            blueprint, _, leaf = module.removeprefix("mailer.").partition(".")
            if blueprint in BLUEPRINTS and leaf == "routes":
                assert name == f"mailer.{blueprint}", (name, module)


def _lines_outside_literals(function: ast.AST) -> int:
    """A function's lines, less those of the collection literals in it (a settings table is
    data, however long)."""
    lines = set(range(function.lineno, function.end_lineno + 1))
    for node in ast.walk(function):
        if isinstance(node, (ast.Dict, ast.List, ast.Tuple, ast.Set)) and \
                node.end_lineno - node.lineno >= 5:
            lines -= set(range(node.lineno + 1, node.end_lineno))
    return len(lines)


def test_no_function_is_longer_than_sixty_lines_outside_its_data_tables():
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = _lines_outside_literals(node)
                if length > LONGEST_FUNCTION:
                    long.append(f"{name}.{node.name}: {length} lines")
    assert long == []


def test_a_long_function_is_counted_and_a_long_table_is_not():
    source = "def f():\n" + "    x = 1\n" * 61 + "def g():\n    return {\n" + \
        "        'a': 1,\n" * 80 + "    }\n"
    f, g = ast.parse(source).body
    assert _lines_outside_literals(f) == 62
    assert _lines_outside_literals(g) <= 4


def test_which_statuses_send_is_said_only_in_the_models():
    """``MailingStatus.sends`` / ``Mailing.may_send`` is the rule; nobody else lists the
    sending statuses (the cron script's quick look has its own SQL, tied to the rule by
    tests/test_cron_entry.py)."""
    spelled_out = []
    for name, path in modules().items():
        if name in ("mailer.models", "mailer.delivery.cron_entry"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                members = {element.attr for element in node.elts
                           if isinstance(element, ast.Attribute)
                           and isinstance(element.value, ast.Name)
                           and element.value.id == "MailingStatus"}
                if {"CREATED", "RUNNING"} <= members:
                    spelled_out.append(f"{name}:{node.lineno}")
    assert spelled_out == []


def test_views_leave_the_transaction_to_the_services():
    """Services own the transaction: no route module, admin view or command commits by itself
    (the unsubscribe view and ``flask seed`` once did). The admin rolls back after a refusal,
    so the form it shows again reads the row as it is."""
    committing = []
    for name, path in modules().items():
        if not (name.endswith(".routes") or name.startswith(("mailer.admin.", "mailer.cli."))):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "commit":
                committing.append(f"{name}:{node.lineno}")
    assert committing == []


def _third_party_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_only_delivery_talks_smtp_and_only_scheduling_knows_cron():
    """One module per concern (STYLE.md): delivery/ knows SMTP, scheduling/ knows crontab."""
    strays = []
    for name, path in modules().items():
        imported = _third_party_imports(path)
        if "smtplib" in imported and not name.startswith("mailer.delivery."):
            strays.append(f"{name} imports smtplib")
        if "crontab" in imported and not name.startswith("mailer.scheduling."):
            strays.append(f"{name} imports crontab")
    assert strays == []
