"""`adw logs`: a real simulated run's lines, and `--follow` across a rotation."""

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import RepoDatabase, adw_environment

ADW = [sys.executable, "-m", "adw_tui"]


def environment() -> dict[str, str]:
    return adw_environment(ADW_ENGINE="sim", COLUMNS="300")


def adw(repo: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ADW, *argv], cwd=repo, env=environment(), capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def repo(tmp_path: Path, repo_db: RepoDatabase) -> Path:
    """A repository holding issue 1, and its database on each engine."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for argv in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "first"]):
        subprocess.run(["git", "-C", str(repo), *argv], check=True, capture_output=True)
    assert adw(repo, "issue", "new", "--title", "Slugs", "--body", "Add slugify.").returncode == 0
    return repo


def test_logs_show_one_runs_lines_and_follow_them_across_a_rotation(repo: Path) -> None:
    ran = adw(repo, "run", "1", "--workflow", "plan", "--json")
    assert ran.returncode == 0, ran.stderr
    adw_id = json.loads(ran.stdout)["adw_id"]
    log = repo / "agents" / "adw.log"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert {entry["adw_id"] for entry in entries} == {adw_id}
    started = [entry for entry in entries if entry["event"] == "step.started"]
    assert {entry["workflow"] for entry in started} == {"plan"}
    assert "classify" in {entry["step"] for entry in started}
    assert entries[-1]["event"] == "run.succeeded"

    shown = adw(repo, "logs", adw_id)
    assert shown.returncode == 0, shown.stderr
    assert "step.started workflow=plan step=classify" in shown.stdout
    assert "run.succeeded" in shown.stdout.splitlines()[-1]
    assert "not found" in adw(repo, "logs", "deadbeef").stderr

    follower = subprocess.Popen(
        [*ADW, "logs", adw_id, "--follow"],
        cwd=repo,
        env=environment(),
        stdout=subprocess.PIPE,
    )
    try:
        assert "run.succeeded" in _read_until(follower, "run.succeeded")
        with log.open("a") as file:  # a later line, and one of another run
            file.write(json.dumps({"adw_id": adw_id, "event": "later.one"}) + "\n")
            file.write(json.dumps({"adw_id": "0ther000", "event": "other.run"}) + "\n")
        log.rename(log.with_name("adw.log.1"))  # rotated by another process
        log.write_text(json.dumps({"adw_id": adw_id, "event": "after.rotation"}) + "\n")
        seen = _read_until(follower, "after.rotation")
        assert "later.one" in seen
        assert "other.run" not in seen
    finally:
        follower.terminate()
        follower.wait(timeout=10)


def _read_until(process: subprocess.Popen[bytes], text: str, timeout_s: float = 30.0) -> str:
    """What the process printed until `text` (or the time ran out: then fail)."""
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout_s
    while text.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([descriptor], [], [], 0.1)
        if ready:
            seen += os.read(descriptor, 65536)
    assert text.encode() in seen, seen
    return seen.decode()
