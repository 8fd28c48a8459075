"""Pushing a run's branch to a real bare `origin`: never forced, and each way it can fail
named with what to do."""

import time
from pathlib import Path

import pytest

from adw_tui.runtime.git import (
    GitTimeoutError,
    NoRemoteError,
    PushAuthError,
    PushFailedError,
    PushRejectedError,
    head,
    push,
    remote_url,
    run_git,
)
from tests.fake_github import FakeGitHub
from tests.runtime import commit_file, make_repo, sh


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_repo(tmp_path, monkeypatch)


@pytest.fixture
def origin(repo: Path, tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    sh(tmp_path, "init", "-q", "--bare", str(bare))
    sh(repo, "remote", "add", "origin", str(bare))
    sh(repo, "switch", "-q", "-c", "feature")
    commit_file(repo, "a.txt", "a")
    return bare


async def test_the_branch_lands_on_origin_as_it_is(repo: Path, origin: Path) -> None:
    assert await remote_url(repo) == str(origin)
    await push(repo, "feature")
    assert sh(origin, "rev-parse", "feature") == await head(repo)
    commit_file(repo, "b.txt", "b")
    await push(repo, "feature")  # a fast-forward
    assert sh(origin, "rev-parse", "feature") == await head(repo)


async def test_a_branch_that_moved_on_origin_is_refused_never_forced(
    repo: Path, origin: Path, tmp_path: Path
) -> None:
    await push(repo, "feature")
    other = tmp_path / "other"
    sh(tmp_path, "clone", "-q", "--branch", "feature", str(origin), str(other))
    commit_file(other, "theirs.txt", "theirs")
    sh(other, "push", "-q", "origin", "feature")
    moved = sh(origin, "rev-parse", "feature")
    commit_file(repo, "ours.txt", "ours")
    with pytest.raises(PushRejectedError) as raised:
        await push(repo, "feature")
    assert raised.value.moved
    assert "origin rejected the push of 'feature' (not a fast-forward)" in str(raised.value)
    assert "never forces" in str(raised.value)
    assert sh(origin, "rev-parse", "feature") == moved


async def test_a_remote_that_declines_says_why(repo: Path, origin: Path) -> None:
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(PushRejectedError) as raised:
        await push(repo, "feature")
    assert not raised.value.moved
    assert "pre-receive hook declined" in str(raised.value)
    assert "feature" not in sh(origin, "branch", "--list")


async def test_no_origin_and_an_unreachable_one_say_what_to_do(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(NoRemoteError, match="git remote add origin URL"):
        await push(repo, "main")
    sh(repo, "remote", "add", "origin", str(tmp_path / "gone.git"))
    with pytest.raises(PushFailedError) as raised:
        await push(repo, "main")
    assert "the push of 'main' to origin failed" in str(raised.value)
    assert "check the network" in str(raised.value)


async def test_a_remote_that_refuses_the_credentials_is_not_tried_again(
    repo: Path, github: FakeGitHub
) -> None:
    """An https remote answering 401 (the loopback GitHub, asked without its token): git
    cannot ask for a password, and the push fails for good, saying what to give it."""
    sh(repo, "remote", "add", "origin", f"{github.api_url}/octo/hello.git")
    with pytest.raises(PushAuthError) as raised:
        await push(repo, "main")
    assert "origin refused the credentials for the push of 'main'" in str(raised.value)
    assert "GITHUB_PAT" in str(raised.value)


async def test_a_git_that_hangs_is_stopped_with_its_children(repo: Path) -> None:
    sh(repo, "config", "alias.nap", "!sleep 30")
    started = time.monotonic()
    with pytest.raises(GitTimeoutError, match=r"`git nap` did not finish in 0.5s"):
        await run_git("nap", cwd=repo, timeout_s=0.5)
    assert time.monotonic() - started < 10
