"""Scouts must not write: whatever they change in the worktree (a tracked file, a new
file, a commit) is recorded and undone, and what was there before them (uncommitted
work, untracked files, ignored files) stays."""

import subprocess
from pathlib import Path

from adw_tui.runtime.scout_guard import tree_state, undo_changes


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


async def test_changes_are_recorded_and_undone_and_earlier_work_stays(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "t")
    git(repo, "config", "user.email", "t@example.invalid")
    (repo / ".gitignore").write_text("ignored/\n")
    (repo / "README.md").write_text("readme\n")
    (repo / "app.py").write_text("app\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    head = git(repo, "rev-parse", "HEAD")
    # Before the scouts: uncommitted work, an untracked file (its name a gitignore
    # pattern), an ignored one.
    (repo / "README.md").write_text("readme, edited by the run\n")
    (repo / "notes [draft]*.txt").write_text("mine\n")
    (repo / "ignored").mkdir()
    (repo / "ignored" / "cache").write_text("c\n")
    before = await tree_state(repo)
    assert await undo_changes(repo, before) is None  # nothing changed: nothing done

    (repo / "app.py").write_text("app, changed by a scout\n")
    (repo / "new" / "deep").mkdir(parents=True)
    (repo / "new" / "deep" / "file.py").write_text("x\n")
    git(repo, "add", "app.py")
    git(repo, "commit", "-qm", "a scout commits")

    changes = await undo_changes(repo, before)
    assert changes is not None
    assert "app.py" in changes.diff_stat
    assert changes.untracked == ["new/deep/file.py"]
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / "app.py").read_text() == "app\n"
    assert not (repo / "new").exists()
    assert (repo / "README.md").read_text() == "readme, edited by the run\n"
    assert (repo / "notes [draft]*.txt").read_text() == "mine\n"
    assert (repo / "ignored" / "cache").is_file()
