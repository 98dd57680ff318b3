"""The host's files are private (issue 12): database, -wal, -shm and key file 0600; keys not beside the data
in a folder others can read; a key file others can read is refused with the fix."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest

from ireserve_devhost import ReferenceHost
from ireserve_devhost.keyring import KEY_FILE_ENV
from ireserve_devhost.keyring import KeyFileError
from ireserve_devhost.keyring import key_file_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A umask that lets everyone read new files, as many desktop systems have."""
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def private_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "private"
    folder.mkdir(mode=0o700)
    return folder


def test_database_wal_shm_and_key_file_are_created_0600(
    pm: pluggy.PluginManager, private_dir: Path, loose_umask: None
) -> None:
    db = private_dir / "host.db"
    with ReferenceHost(db, plugin_manager=pm) as host:
        host.add_object("Room 1")  # a write, so the -wal and -shm files exist
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), key_file_for(db)]
        assert all(path.exists() for path in files)
        assert {str(path.name): _mode(path) for path in files} == {str(path.name): 0o600 for path in files}


def test_an_existing_database_readable_by_others_is_tightened(pm: pluggy.PluginManager, private_dir: Path) -> None:
    db = private_dir / "host.db"
    with ReferenceHost(db, plugin_manager=pm):
        pass
    db.chmod(0o644)
    with ReferenceHost(db, plugin_manager=pm):
        assert _mode(db) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused_with_the_fix(
    pm: pluggy.PluginManager, private_dir: Path, mode: int
) -> None:
    db = private_dir / "host.db"
    with ReferenceHost(db, plugin_manager=pm):
        pass
    key_file_for(db).chmod(mode)
    with pytest.raises(KeyFileError, match=f"chmod 600 {key_file_for(db)}"):
        ReferenceHost(db, plugin_manager=pm)


def test_keys_beside_the_database_in_a_folder_others_can_read_are_refused(
    pm: pluggy.PluginManager, tmp_path: Path, private_dir: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    with pytest.raises(KeyFileError, match="--key-file"):
        ReferenceHost(shared / "host.db", plugin_manager=pm)
    assert not key_file_for(shared / "host.db").exists()  # refused before anything was written
    with pytest.raises(KeyFileError, match="others can read"):
        ReferenceHost(shared / "host.db", plugin_manager=pm, key_file=shared / "elsewhere.keys.json")
    elsewhere = private_dir / "host.keys.json"
    with ReferenceHost(shared / "host.db", plugin_manager=pm, key_file=elsewhere) as host:
        assert _mode(elsewhere) == 0o600 and host.keyring.current == "k1"


def test_the_key_file_env_var_names_its_place(
    pm: pluggy.PluginManager, tmp_path: Path, private_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = private_dir / "from-env.keys.json"
    monkeypatch.setenv(KEY_FILE_ENV, str(elsewhere))
    with ReferenceHost(tmp_path / "host.db", plugin_manager=pm):
        pass
    assert elsewhere.exists() and not (tmp_path / "host.db.keys.json").exists()


def test_the_command_refuses_a_readable_key_file_and_says_how_to_fix_it(private_dir: Path) -> None:
    db = private_dir / "host.db"
    key_file = private_dir / "host.db.keys.json"
    env = {**os.environ, "IRESERVE_DISABLED_PLUGINS": "calendar"}
    env.pop(KEY_FILE_ENV, None)
    first = subprocess.run(
        [sys.executable, "-m", "ireserve_devhost.cli", "status", "--db", str(db)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert first.returncode == 2  # no database yet
    with ReferenceHost(db, plugin_manager=pluggy.PluginManager("ireserve")):
        pass
    key_file.chmod(0o644)
    result = subprocess.run(
        [sys.executable, "-m", "ireserve_devhost.cli", "host", "--db", str(db), "--port", "0"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"chmod 600 {key_file}" in result.stderr
    assert "Traceback" not in result.stderr
