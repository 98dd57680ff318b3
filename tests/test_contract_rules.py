"""Keep the contract and the import rules true (datasette / DESIGN.md style checks)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import hookspecs
from hookspecs import spec

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "ireserve_calendar_plugin"
HOOKS = [name for name, fn in inspect.getmembers(spec, inspect.isfunction) if name.startswith("on_")]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_the_five_hooks_exist() -> None:
    assert sorted(
        ["on_booking_status_changed", "on_config_form", "on_cron_tick", "on_http_route", "on_job"]
    ) == HOOKS


@pytest.mark.parametrize("name", HOOKS)
def test_every_hookspec_documents_every_argument(name: str) -> None:
    fn = getattr(spec, name)
    doc = inspect.getdoc(fn) or ""
    params = list(inspect.signature(fn).parameters)
    assert doc.splitlines()[0].strip(), f"{name} needs a summary line"
    for param in params:
        assert f":param {param}:" in doc, f"{name} does not document {param}"
    assert ":returns:" in doc
    assert all(fn.__annotations__.get(p) for p in params), f"{name} has an untyped argument"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_test(name: str) -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    assert f"def test_hook_{name}" in sources, f"no test_hook_{name}"


def test_hookspecs_import_nothing_of_the_plugin() -> None:
    for path in _modules(Path(hookspecs.__file__).parent):
        bad = {m for m in _imports(path) if m.startswith("ireserve_calendar_plugin")}
        assert not bad, f"{path.name} imports {bad}"


def test_emulators_import_nothing_of_the_plugin() -> None:
    for path in _modules(PKG / "emulators"):
        bad = {
            m for m in _imports(path)
            if (m.startswith("ireserve_calendar_plugin") and not m.startswith("ireserve_calendar_plugin.emulators"))
            or m.startswith("hookspecs")
        }
        assert not bad, f"{path.name} imports {bad}"


def test_devhost_uses_only_the_contract() -> None:
    for path in _modules(PKG / "devhost"):
        bad = {
            m for m in _imports(path)
            if m.startswith("ireserve_calendar_plugin") and not m.startswith("ireserve_calendar_plugin.devhost")
        }
        assert not bad, f"devhost/{path.name} imports {bad}: a host loads the plugin only by entry point"


def test_plugin_core_never_imports_devhost_or_emulators() -> None:
    for path in _modules(PKG):
        rel = path.relative_to(PKG).parts
        edges = ("devhost", "emulators", "cli.py", "world.py", "status.py", "operations.py")
        if rel[0] in edges or rel[0].startswith("demo"):
            continue
        bad = {m for m in _imports(path) if ".devhost" in m or ".emulators" in m}
        assert not bad, f"{'/'.join(rel)} imports {bad}"


def test_sync_engine_knows_no_provider() -> None:
    for path in _modules(PKG / "sync"):
        bad = {m for m in _imports(path) if m.startswith("ireserve_calendar_plugin.providers")}
        assert not bad, f"sync/{path.name} imports {bad}"
