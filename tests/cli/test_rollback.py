"""`adw rollback --reset-worktree`: a real worktree with a commit per state version."""

import asyncio
from pathlib import Path

import pytest

from adw_tui.cli import main
from adw_tui.domain.models import RunStatus
from adw_tui.store import Store
from adw_tui.store.location import DatabaseLocation
from tests.conftest import RepoDatabase
from tests.runtime import sh
from tests.runtime.worktree_runs import WorktreeRun, seed_worktree_run


@pytest.fixture
def db(sample_repo: Path, repo_db: RepoDatabase) -> DatabaseLocation:
    return repo_db.of(sample_repo)


@pytest.fixture
def run(sample_repo: Path, db: DatabaseLocation, monkeypatch: pytest.MonkeyPatch) -> WorktreeRun:
    monkeypatch.chdir(sample_repo)

    async def seed() -> WorktreeRun:
        async with await Store.open(db) as store:
            return await seed_worktree_run(store, sample_repo)

    return asyncio.run(seed())


def versions(db: DatabaseLocation, adw_id: str) -> list[tuple[int, int | None, str | None]]:
    async def read() -> list[tuple[int, int | None, str | None]]:
        async with await Store.open(db) as store:
            return [(v.version, v.parent, v.git_head) for v in await store.history(adw_id)]

    return asyncio.run(read())


def test_rollback_resets_the_worktree_to_the_versions_commit(
    db: DatabaseLocation, run: WorktreeRun, capsys: pytest.CaptureFixture[str]
):
    assert main(["rollback", run.adw_id, "2", "--yes", "--reset-worktree"]) == 0

    out = capsys.readouterr().out
    assert "new version 4" in out
    assert f"worktree {run.worktree} reset to {run.heads[1]}" in out
    assert sh(run.worktree, "rev-parse", "HEAD") == run.heads[1]
    assert versions(db, run.adw_id)[0] == (4, 2, run.heads[1])


def test_rollback_refuses_to_reset_a_dirty_worktree(
    db: DatabaseLocation, run: WorktreeRun, capsys: pytest.CaptureFixture[str]
):
    (run.worktree / "plan.md").write_text("edited by hand\n")

    assert main(["rollback", run.adw_id, "1", "--yes", "--reset-worktree"]) == 1

    err = capsys.readouterr().err
    assert f"{run.worktree} has uncommitted changes: commit or stash them first" in err
    assert len(err.strip().splitlines()) == 1
    assert len(versions(db, run.adw_id)) == 3
    assert sh(run.worktree, "rev-parse", "HEAD") == run.heads[2]
    assert (run.worktree / "plan.md").read_text() == "edited by hand\n"


def test_rollback_of_a_running_run_is_refused_before_asking(
    db: DatabaseLocation, run: WorktreeRun, capsys: pytest.CaptureFixture[str]
):
    async def start() -> None:
        async with await Store.open(db) as store:
            await store.set_status(run.adw_id, RunStatus.RUNNING, actor="t")

    asyncio.run(start())

    assert main(["rollback", run.adw_id, "1"]) == 1

    assert f"run {run.adw_id} is running" in capsys.readouterr().err
    assert len(versions(db, run.adw_id)) == 3
