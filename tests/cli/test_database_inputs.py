"""`--db` at a file adw must not use: a clear one-line error, and the file left as it was."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from adw_tui.cli import main


def adw(*argv: str) -> subprocess.CompletedProcess[str]:
    """`adw` in a process of its own, so anything printed at interpreter exit is seen too."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ADW_")}
    return subprocess.run(
        [sys.executable, "-m", "adw_tui", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )


def test_another_applications_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "notes.db"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE notes (body TEXT)")
    connection.execute("INSERT INTO notes VALUES ('keep me')")
    connection.commit()
    connection.close()
    before = other.read_bytes()

    completed = adw("--db", str(other), "runs")

    assert completed.returncode == 1
    assert f"{other} is another application's SQLite database (tables: notes)" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert other.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.db"]


def test_a_directory_as_database_is_a_clear_error(tmp_path: Path) -> None:
    completed = adw("--db", str(tmp_path), "runs")

    assert completed.returncode == 1
    assert f"database path {tmp_path} is a directory" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_dead_letter_id_beyond_sqlite_integers_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--db", str(tmp_path / "adw.db"), "dlq", "show", "99999999999999999999999"])

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "expected a positive whole number up to 9223372036854775807" in err
    assert "OverflowError" not in err
