"""Helpers for the runtime tests: real git repositories in temporary directories, with git
isolated from the user's own configuration."""

import subprocess
from pathlib import Path

import pytest


def sh(cwd: Path, *args: str) -> str:
    """Run git directly (not through the code under test) and return its stdout."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def isolate_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No system or user git configuration, and a fixed identity for commits."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "ADW Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "adw@example.com")


def commit_file(repo: Path, name: str, text: str, message: str | None = None) -> str:
    """Write `name`, commit it, and return the new commit's sha."""
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    sh(repo, "add", name)
    sh(repo, "commit", "-q", "-m", message or f"change {name}")
    return sh(repo, "rev-parse", "HEAD")


def make_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str = "repo") -> Path:
    """A repository on `main` with one commit (README.md) and `*.log` ignored."""
    isolate_git(tmp_path, monkeypatch)
    repo = tmp_path / name
    repo.mkdir()
    sh(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("*.log\n")
    sh(repo, "add", ".gitignore")
    commit_file(repo, "README.md", "hello\n", "initial")
    return repo
