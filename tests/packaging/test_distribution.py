"""What a host installs: the plugin's wheel holds the plugin and nothing of the lab, and loads on its own.

The wheels are built from this checkout (no build isolation: the test extra brings setuptools), their file
lists and metadata are read, and a fresh virtualenv with only the contract's and the plugin's wheels
(plus their declared dependencies from the package index) loads the plugin through the ``ireserve``
entry point with pluggy, as a production host would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAB_WORDS = ("emulator", "devhost", "world", "demo", "benchmark", "calendar_emulators", "ireserve_lab", "tests/")


#: what a fresh clone does not hold (and what another test or build may be writing meanwhile)
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", ".ci-venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".*_cache", ".hypothesis",
    "artifacts", "results", "*.sqlite3",
)  # fmt: skip


def _build(projects: list[Path], out: Path) -> None:
    """Wheels of ``projects`` into ``out``, with one pip (each pip start costs seconds on a loaded machine)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", *map(str, projects)]
        + ["-w", str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two wheels, built from a copy of this checkout: an in-tree build writes build/ and *.egg-info
    into the checkout (read meanwhile by tests running in parallel) and would pack a stale build/lib."""
    source, out = tmp_path_factory.mktemp("source") / "checkout", tmp_path_factory.mktemp("wheels")
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCES)
    _build([source, source / "hookspecs"], out)
    (plugin,) = out.glob("ireserve_calendar_plugin-*.whl")
    (contract,) = out.glob("ireserve_hookspecs-*.whl")
    return {"plugin": plugin, "contract": contract}


def _metadata(wheel: Path) -> tuple[list[str], list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(archive.read(meta_name).decode())
    return names, meta.get_all("Requires-Dist") or []


def test_the_plugin_wheel_holds_the_plugin_and_nothing_of_the_lab(wheels: dict[str, Path]) -> None:
    names, _ = _metadata(wheels["plugin"])
    modules = [n for n in names if n.endswith(".py")]
    assert modules, "the wheel holds no module at all"
    assert all(n.startswith("ireserve_calendar_plugin/") for n in modules), sorted(
        n for n in modules if not n.startswith("ireserve_calendar_plugin/")
    )
    lab = sorted(n for n in names if any(word in n.lower() for word in LAB_WORDS))
    assert not lab, f"lab code inside the plugin's wheel: {lab}"
    assert not [n for n in names if n.startswith("hookspecs/")], "the contract belongs to ireserve-hookspecs"


def test_the_plugin_depends_on_the_contract_and_not_on_werkzeug(wheels: dict[str, Path]) -> None:
    _, requires = _metadata(wheels["plugin"])
    runtime = [r for r in requires if "extra ==" not in r]
    names = {r.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in runtime}
    assert "ireserve-hookspecs" in names
    assert names == {"pluggy", "requests", "google-auth", "cryptography", "marshmallow", "ireserve-hookspecs"}, names
    assert not any("werkzeug" in r.lower() for r in requires)


def test_exactly_one_distribution_owns_the_contract(wheels: dict[str, Path]) -> None:
    names, requires = _metadata(wheels["contract"])
    assert sorted(n for n in names if n.endswith(".py")) == [
        "hookspecs/__init__.py",
        "hookspecs/forms.py",
        "hookspecs/markers.py",
        "hookspecs/spec.py",
        "hookspecs/types.py",
    ]
    assert [r.split(">")[0] for r in requires] == ["pluggy"]


_LOAD = """
import importlib.util, pluggy, hookspecs
pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
pm.add_hookspecs(hookspecs.spec)
loaded = pm.load_setuptools_entrypoints(hookspecs.PROJECT_NAME)
assert loaded == 1, loaded
pm.check_pending()
names = sorted(name for name, _ in pm.list_name_plugin())
from ireserve_calendar_plugin.providers.registry import load_providers
providers = sorted(load_providers().names())
lab = [m for m in ("werkzeug", "ireserve_devhost", "calendar_emulators", "ireserve_lab")
       if importlib.util.find_spec(m) is not None]
# CalDAV is offered without its extra, and says what to install when it is used
from ireserve_calendar_plugin.providers.caldav import CalDavProvider
try:
    CalDavProvider().backend(None)
    hint = "backend built without the extra"
except Exception as exc:
    hint = f"{type(exc).__name__}: {exc}"
print(names, providers, lab)
print(hint)
"""


def test_the_wheel_alone_in_a_fresh_venv_loads_through_the_entry_point(wheels: dict[str, Path], tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # without pip of its own (seeding pip into a venv is most of this test's time): our pip installs into it
    # with --python, so the venv holds the two wheels and their declared dependencies, nothing else
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile"]
        + [str(wheels["contract"]), str(wheels["plugin"])],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    run = subprocess.run([str(python), "-c", _LOAD], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    loaded, hint = run.stdout.strip().splitlines()
    # the wheel alone has no [caldav] extra: the provider is still registered (a host lists it) and, when
    # used, names the one install step it needs
    assert loaded == "['calendar'] ['caldav', 'google', 'outlook'] []", run.stdout
    assert hint.startswith("NotConfiguredError: ") and "pip install 'ireserve-calendar-plugin[caldav]'" in hint, hint
