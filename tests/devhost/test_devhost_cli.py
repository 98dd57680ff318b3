"""The ``ireserve-devhost`` command line: no database is created by a typo, a damaged one is a one-line
error with exit status 2 (1 stays "needs attention"), and ``--help`` is plain text."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from ireserve_devhost import ReferenceHost
from ireserve_devhost.cli import main
from ireserve_devhost.run import main as run_main


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["sync"], ["rotate-keys"], ["host"]])
def test_a_missing_database_is_an_error_naming_the_path_and_nothing_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    typo = tmp_path / "hots.db"
    assert main([*command, "--db", str(typo)]) == 2
    err = capsys.readouterr().err
    assert str(typo) in err and "--create" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # no database, no key file


def test_python_dash_m_also_needs_create(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["--db", str(tmp_path / "typo.db"), "--port", "0"]) == 2
    assert "no host database" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"this is not a database at all, just text" * 50, "not a readable SQLite database or it is damaged"),
        (b"SQLite format 3\x00" + b"\xff" * 4000, "not a readable SQLite database or it is damaged"),
    ],
)
def test_a_damaged_database_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, words: str
) -> None:
    db = tmp_path / "host.db"
    db.write_bytes(content)
    for command in (["status"], ["sync"], ["rotate-keys"], ["host", "--create"]):
        assert main([*command, "--db", str(db)]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1 and "Traceback" not in err
    assert db.read_bytes() == content and not (tmp_path / "host.db.keys.json").exists()


def test_a_sqlite_file_of_something_else_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    assert main(["status", "--db", str(db)]) == 2
    assert "not a reference host's" in capsys.readouterr().err


def test_an_unreadable_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "host.db"
    with ReferenceHost(db):
        pass
    db.chmod(0)
    if os.access(db, os.R_OK):  # root reads anything: nothing to test then
        pytest.skip("running as root, every file is readable")
    assert main(["status", "--db", str(db)]) == 2
    assert "permission denied" in capsys.readouterr().err


def test_an_existing_database_works_and_create_is_only_needed_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "host.db"
    with ReferenceHost(db):
        pass
    assert main(["status", "--db", str(db)]) == 0
    assert "No integrations configured." in capsys.readouterr().out


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["host", "--help"], ["status", "--help"]):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 0
        text = capsys.readouterr().out
        assert text.strip() and not any(mark in text for mark in ("``", ":func:", ":class:", ":mod:", ":data:"))
    assert "--create" in _help(["host", "--help"], capsys)


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main(argv)
    return capsys.readouterr().out
