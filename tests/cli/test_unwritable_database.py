"""`adw run` on a database that cannot take a write: read-only, or full. One clear line
naming the file and what to do, exit 1, no traceback; a run it stopped is not left
`running` when the database still takes a small write, and resumes once fixed.

Real conditions only. Root writes through file modes, so as root a file or directory is
made read-only with `chattr +i` (immutable, which stops root too); otherwise with chmod.
The disk fills through the `adw` process's file size limit (RLIMIT_FSIZE): Python
ignores SIGXFSZ, so a write past it fails with EFBIG, which SQLite reports as
SQLITE_IOERR_WRITE, exactly as a write to a failing or full disk.
"""

import contextlib
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ADW = Path(sys.executable).parent / "adw"
WORKFLOW = ("--workflow", "plan", "--engine", "sim")


def adw(
    repo: Path, *argv: str, file_size_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    """`adw` in `repo`, in a process of its own; with `file_size_limit`, no file it (or
    its agents) writes can grow past that many bytes."""

    def limit() -> None:
        if file_size_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    env = {key: value for key, value in os.environ.items() if not key.startswith("ADW_")}
    return subprocess.run(
        [str(ADW), *argv],
        cwd=repo,
        env={**env, "ADW_RETRY_INITIAL": "0.01", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=limit,
    )


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` (a file or a directory) read-only for this user, root included."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"running as root and `chattr +i` is not available here: {made.stderr}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.fixture
def repo_with_issue(sample_repo: Path) -> Path:
    created = adw(sample_repo, "issue", "new", "--title", "Add a slugify helper", "--body", "x")
    assert created.returncode == 0, created.stderr
    return sample_repo


def database(repo: Path) -> Path:
    return repo / "agents" / "adw_state.db"


def one_clear_line(done: subprocess.CompletedProcess[str]) -> str:
    """The error line of a failed command, checked to be the only line of its kind."""
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "unexpected" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("adw: error: ")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def test_a_read_only_database_file(repo_with_issue: Path) -> None:
    db = database(repo_with_issue)
    before = db.read_bytes()
    with read_only(db):
        error = one_clear_line(adw(repo_with_issue, "run", "1", *WORKFLOW))
    assert f"database {db} cannot be written" in error
    assert "read-only: make both writable" in error
    assert db.read_bytes() == before


def test_a_read_only_database_directory(repo_with_issue: Path) -> None:
    db = database(repo_with_issue)
    with read_only(db.parent):
        error = one_clear_line(adw(repo_with_issue, "run", "1", *WORKFLOW))
    assert f"cannot open database {db}" in error
    assert f"its directory {db.parent} is not writable" in error


def test_a_disk_that_fills_up_mid_run_interrupts_the_run_and_recover_resumes_it(
    repo_with_issue: Path,
) -> None:
    db = database(repo_with_issue)
    # Room for the run to start and a step or two: the write-ahead log then hits the limit.
    done = adw(repo_with_issue, "run", "1", *WORKFLOW, file_size_limit=db.stat().st_size + 65536)

    error = one_clear_line(done)
    assert f"database {db} cannot be written (disk I/O error, SQLITE_IOERR_WRITE)" in error
    assert "the file size limit (`ulimit -f`)" in error
    assert "stopped, interrupted" in error
    assert "`adw recover` resumes it" in error
    [run] = json.loads(adw(repo_with_issue, "runs", "--json").stdout)
    assert run["status"] == "interrupted"
    assert run["step"]  # where it stopped is kept

    recovered = adw(repo_with_issue, "recover")
    assert recovered.returncode == 0, recovered.stderr[-2000:]
    [run] = json.loads(adw(repo_with_issue, "runs", "--json").stdout)
    assert run["status"] == "succeeded"
