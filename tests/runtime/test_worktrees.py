"""WorktreeManager against real repositories: create, reuse, validate, remove, concurrency."""

import asyncio
import shutil
from pathlib import Path

import pytest

from adw_tui.runtime.git import (
    DirtyWorktreeError,
    InvalidBranchNameError,
    MissingBranchError,
    is_dirty,
)
from adw_tui.runtime.worktrees import WorktreeError, WorktreeManager
from tests.runtime import commit_file, make_repo, sh

RUN = "0a1b2c3d"
BRANCH = f"feat-issue-7-adw-{RUN}-add-login"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_repo(tmp_path, monkeypatch)


@pytest.fixture
def manager(repo: Path) -> WorktreeManager:
    return WorktreeManager(repo, copy_files=[".env", "app/.env", "missing.env"])


def git_worktrees(repo: Path) -> list[str]:
    return [
        line.removeprefix("worktree ")
        for line in sh(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


# -- create --------------------------------------------------------------------------------


async def test_create_adds_a_worktree_on_a_new_branch_from_base(
    repo: Path, manager: WorktreeManager
) -> None:
    path = await manager.create(RUN, BRANCH, "main")

    assert path == repo / "trees" / RUN
    assert sh(path, "branch", "--show-current") == BRANCH
    assert sh(path, "rev-parse", "HEAD") == sh(repo, "rev-parse", "main")
    assert str(path) in git_worktrees(repo)
    assert not await is_dirty(repo)  # trees/ is excluded, so the main worktree stays clean


async def test_create_excludes_the_agents_directory(repo: Path, manager: WorktreeManager) -> None:
    await manager.create(RUN, BRANCH, "main")
    (repo / "agents" / RUN).mkdir(parents=True)
    (repo / "agents" / RUN / "raw_output.jsonl").write_text("{}\n")

    assert "/agents/" in (repo / ".git" / "info" / "exclude").read_text().splitlines()
    assert not await is_dirty(repo)
    assert sh(repo, "status", "--porcelain", "--untracked-files=all") == ""


async def test_create_copies_the_files_that_exist(repo: Path, manager: WorktreeManager) -> None:
    (repo / ".env").write_text("SECRET=1\n")
    (repo / "app").mkdir()
    (repo / "app" / ".env").write_text("APP=1\n")

    path = await manager.create(RUN, BRANCH, "main")

    assert (path / ".env").read_text() == "SECRET=1\n"
    assert (path / "app" / ".env").read_text() == "APP=1\n"
    assert not (path / "missing.env").exists()
    assert manager.copy_files_into(path) == [".env", "app/.env"]
    (path / ".ports.env").write_text("BACKEND_PORT=9100\n")
    assert not await is_dirty(path)  # copies and .ports.env can never be committed by accident


async def test_create_from_a_missing_base(repo: Path, manager: WorktreeManager) -> None:
    with pytest.raises(MissingBranchError, match="branch 'release' does not exist"):
        await manager.create(RUN, BRANCH, "release")
    assert not (repo / "trees" / RUN).exists()


async def test_create_refuses_an_invalid_branch_name(manager: WorktreeManager) -> None:
    with pytest.raises(InvalidBranchNameError):
        await manager.create(RUN, "bad name", "main")


async def test_create_refuses_an_existing_worktree(manager: WorktreeManager) -> None:
    await manager.create(RUN, BRANCH, "main")
    with pytest.raises(WorktreeError, match="already exists"):
        await manager.create(RUN, BRANCH, "main")


async def test_create_ignores_uncommitted_changes_of_the_main_worktree(
    repo: Path, manager: WorktreeManager
) -> None:
    (repo / "README.md").write_text("work in progress\n")
    path = await manager.create(RUN, BRANCH, "main")
    assert (path / "README.md").read_text() == "hello\n"


async def test_create_checks_out_an_existing_branch_as_it_is(
    repo: Path, manager: WorktreeManager
) -> None:
    path = await manager.create(RUN, BRANCH, "main")
    work = commit_file(path, "work.txt", "done\n")
    await manager.remove(RUN)

    again = await manager.create(RUN, BRANCH, "main")

    assert sh(again, "rev-parse", "HEAD") == work


async def test_create_from_a_remote_tracking_branch(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    sh(tmp_path, "clone", "-q", str(repo), str(clone))
    path = await WorktreeManager(clone).create(RUN, BRANCH, "origin/main")
    assert sh(path, "rev-parse", "HEAD") == sh(repo, "rev-parse", "main")


async def test_trees_dir_outside_the_repository(repo: Path, tmp_path: Path) -> None:
    manager = WorktreeManager(repo, trees_dir=tmp_path / "elsewhere")
    path = await manager.create(RUN, BRANCH, "main")
    assert path == tmp_path / "elsewhere" / RUN
    assert [w.path for w in await manager.list()] == [path]


@pytest.mark.parametrize("adw_id", ["", ".", "..", "a/b"])
def test_run_id_must_name_one_directory(manager: WorktreeManager, adw_id: str) -> None:
    with pytest.raises(WorktreeError, match="cannot name a worktree directory"):
        manager.path_for(adw_id)


def test_copy_files_must_stay_inside_the_repository(repo: Path) -> None:
    with pytest.raises(ValueError, match="paths inside the repository"):
        WorktreeManager(repo, copy_files=["../secrets"])


# -- concurrency ---------------------------------------------------------------------------


async def test_ten_concurrent_creates_all_succeed(repo: Path, manager: WorktreeManager) -> None:
    ids = [f"{n:08x}" for n in range(10)]
    paths = await asyncio.gather(*(manager.create(i, f"run-{i}", "main") for i in ids))
    assert paths == [repo / "trees" / i for i in ids]
    assert sorted(w.branch or "" for w in await manager.list()) == [f"run-{i}" for i in ids]


async def test_concurrent_creates_from_a_remote_branch_all_succeed(
    repo: Path, tmp_path: Path
) -> None:
    """Unserialised, these collide on .git/config (git records each branch's upstream)."""
    clone = tmp_path / "clone"
    sh(tmp_path, "clone", "-q", str(repo), str(clone))
    manager = WorktreeManager(clone)
    ids = [f"{n:08x}" for n in range(10)]
    await asyncio.gather(*(manager.create(i, f"run-{i}", "origin/main") for i in ids))
    assert len(await manager.list()) == 10


# -- ensure --------------------------------------------------------------------------------


async def test_ensure_creates_then_reuses(manager: WorktreeManager) -> None:
    path = await manager.ensure(RUN, BRANCH, "main")
    (path / "scratch.txt").write_text("kept\n")
    assert await manager.ensure(RUN, BRANCH, "main") == path
    assert (path / "scratch.txt").read_text() == "kept\n"


async def test_ensure_recreates_a_deleted_directory_from_its_branch(
    manager: WorktreeManager,
) -> None:
    path = await manager.create(RUN, BRANCH, "main")
    work = commit_file(path, "work.txt", "done\n")
    shutil.rmtree(path)

    again = await manager.ensure(RUN, BRANCH, "main")

    assert again == path
    assert sh(path, "rev-parse", "HEAD") == work


async def test_ensure_refuses_a_directory_git_does_not_know(
    repo: Path, manager: WorktreeManager
) -> None:
    (repo / "trees" / RUN).mkdir(parents=True)
    with pytest.raises(WorktreeError, match="exists but git does not list it"):
        await manager.ensure(RUN, BRANCH, "main")
    assert (repo / "trees" / RUN).is_dir()


async def test_ensure_refuses_a_worktree_on_another_branch(manager: WorktreeManager) -> None:
    path = await manager.create(RUN, BRANCH, "main")
    sh(path, "switch", "-q", "-c", "other")
    with pytest.raises(WorktreeError, match=f"is on other, not '{BRANCH}'"):
        await manager.ensure(RUN, BRANCH, "main")


# -- validate ------------------------------------------------------------------------------


async def test_validate_all_agree(manager: WorktreeManager) -> None:
    path = await manager.create(RUN, BRANCH, "main")
    status = await manager.validate(RUN, str(path))
    assert (status.valid, status.state_matches, status.on_disk, status.known_to_git) == (
        True,
        True,
        True,
        True,
    )
    assert status.branch == BRANCH
    assert status.message == f"worktree {path} is consistent (branch {BRANCH})"


async def test_validate_directory_missing(manager: WorktreeManager) -> None:
    path = await manager.create(RUN, BRANCH, "main")
    shutil.rmtree(path)
    status = await manager.validate(RUN, str(path))
    assert (status.valid, status.state_matches, status.on_disk, status.known_to_git) == (
        False,
        True,
        False,
        True,
    )
    assert status.message == (
        f"git lists worktree {path} but the directory is gone: run `git worktree prune` "
        f"(branch {BRANCH} is kept)"
    )


async def test_validate_directory_unknown_to_git(repo: Path, manager: WorktreeManager) -> None:
    path = repo / "trees" / RUN
    path.mkdir(parents=True)
    status = await manager.validate(RUN, str(path))
    assert (status.valid, status.on_disk, status.known_to_git) == (False, True, False)
    assert f"{path} exists but git does not list it as a worktree" in status.message
    assert "delete it, and run `git worktree prune`" in status.message


async def test_validate_state_path_differs(tmp_path: Path, manager: WorktreeManager) -> None:
    path = await manager.create(RUN, BRANCH, "main")
    old = tmp_path / "old-checkout" / "trees" / RUN
    status = await manager.validate(RUN, str(old))
    assert (status.valid, status.state_matches, status.on_disk, status.known_to_git) == (
        False,
        False,
        True,
        True,
    )
    assert status.message == (
        f"the run state records worktree {old} but run {RUN}'s worktree belongs at {path}: "
        f"set worktree_path to {path} in the run state"
    )


async def test_validate_state_records_no_path(manager: WorktreeManager) -> None:
    path = await manager.create(RUN, BRANCH, "main")
    status = await manager.validate(RUN, None)
    assert (status.valid, status.state_path, status.on_disk) == (False, None, True)
    assert f"set worktree_path to {path}" in status.message


async def test_validate_worktree_gone_everywhere(manager: WorktreeManager) -> None:
    path = await manager.create(RUN, BRANCH, "main")
    await manager.remove(RUN)
    status = await manager.validate(RUN, str(path))
    assert (status.on_disk, status.known_to_git) == (False, False)
    assert "no longer exists (neither on disk nor in git)" in status.message
    nothing = await manager.validate("ffffffff", None)
    assert nothing.message == "run ffffffff has no worktree"


# -- remove, prune, list -------------------------------------------------------------------


async def test_remove_keeps_the_branch(repo: Path, manager: WorktreeManager) -> None:
    path = await manager.create(RUN, BRANCH, "main")
    (path / "debug.log").write_text("ignored files go with the worktree\n")
    await manager.remove(RUN)
    assert not path.exists()
    assert str(path) not in git_worktrees(repo)
    assert sh(repo, "branch", "--list", BRANCH) != ""


async def test_remove_refuses_a_dirty_worktree_unless_forced(manager: WorktreeManager) -> None:
    path = await manager.create(RUN, BRANCH, "main")
    (path / "README.md").write_text("unsaved\n")

    with pytest.raises(DirtyWorktreeError) as caught:
        await manager.remove(RUN)

    assert str(caught.value) == (
        f"{path} has uncommitted changes: commit them there, or remove the worktree with "
        "force to discard them"
    )
    assert (path / "README.md").read_text() == "unsaved\n"
    await manager.remove(RUN, force=True)
    assert not path.exists()


async def test_remove_refuses_an_untracked_file(manager: WorktreeManager) -> None:
    path = await manager.create(RUN, BRANCH, "main")
    (path / "new.py").write_text("print()\n")
    with pytest.raises(DirtyWorktreeError):
        await manager.remove(RUN)


async def test_remove_of_a_missing_worktree_is_a_no_op(manager: WorktreeManager) -> None:
    await manager.remove(RUN)
    path = await manager.create(RUN, BRANCH, "main")
    shutil.rmtree(path)
    await manager.remove(RUN)  # prunes git's record
    assert await manager.list() == []


async def test_remove_never_deletes_a_directory_git_does_not_know(
    repo: Path, manager: WorktreeManager
) -> None:
    (repo / "trees" / RUN).mkdir(parents=True)
    (repo / "trees" / RUN / "precious.txt").write_text("mine\n")
    with pytest.raises(WorktreeError, match="git does not list it"):
        await manager.remove(RUN, force=True)
    assert (repo / "trees" / RUN / "precious.txt").exists()


async def test_prune_drops_deleted_worktrees(repo: Path, manager: WorktreeManager) -> None:
    path = await manager.create(RUN, BRANCH, "main")
    shutil.rmtree(path)
    assert [w.prunable for w in await manager.list()] == [True]
    await manager.prune()
    assert await manager.list() == []


async def test_list_has_only_the_runs_worktrees(
    repo: Path, tmp_path: Path, manager: WorktreeManager
) -> None:
    sh(repo, "worktree", "add", "-q", "-b", "by-hand", str(tmp_path / "by-hand"))
    path = await manager.create(RUN, BRANCH, "main")
    [info] = await manager.list()
    assert (info.path, info.branch, info.head) == (path, BRANCH, sh(repo, "rev-parse", "main"))
