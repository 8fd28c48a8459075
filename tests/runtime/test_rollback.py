"""Rollback of a run's state, and of its worktree, against a real repository and store:
every refusal writes nothing and leaves the worktree as it was."""

import shutil
from pathlib import Path

import pytest

from adw_tui.config import load_settings
from adw_tui.domain.errors import RunActiveError, VersionNotFoundError
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.git import DirtyWorktreeError
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.rollback import RollbackError, rollback_run
from adw_tui.store import Store
from tests.runtime import sh
from tests.runtime.worktree_runs import WorktreeRun, seed_worktree_run


@pytest.fixture
async def run(store: Store, repo: Path) -> WorktreeRun:
    return await seed_worktree_run(store, repo)


async def assert_untouched(store: Store, run: WorktreeRun) -> None:
    """Still at version 3, and the worktree still at version 3's commit."""
    assert (await store.get_run(run.adw_id)).version == 3
    assert len(await store.history(run.adw_id)) == 3
    assert sh(run.worktree, "rev-parse", "HEAD") == run.heads[2]


async def test_rollback_forks_the_state_and_records_the_worktree_head(
    store: Store, run: WorktreeRun
):
    new_version = await rollback_run(store, run.adw_id, 1, reset_worktree=False, actor="t")

    assert new_version == 4
    version = await store.get_version(run.adw_id, 4)
    assert version.parent == 1
    assert version.reason == "rollback to version 1"
    assert version.state == (await store.get_version(run.adw_id, 1)).state
    assert version.git_head == run.heads[2]  # the worktree was left where it was
    assert sh(run.worktree, "rev-parse", "HEAD") == run.heads[2]


async def test_rollback_with_reset_moves_the_worktree_to_the_versions_commit(
    store: Store, run: WorktreeRun
):
    new_version = await rollback_run(store, run.adw_id, 2, reset_worktree=True, actor="t")

    assert new_version == 4
    assert sh(run.worktree, "rev-parse", "HEAD") == run.heads[1]
    assert sh(run.worktree, "branch", "--show-current") == f"feat-issue-7-adw-{run.adw_id}"
    assert not (run.worktree / "build.py").exists()
    assert (await store.get_version(run.adw_id, 4)).git_head == run.heads[1]


async def test_the_orchestrator_rolls_back_through_the_same_function(
    store: Store, repo: Path, run: WorktreeRun
):
    orchestrator = Orchestrator(store, repo, load_settings(repo))
    assert await orchestrator.rollback(run.adw_id, 1, reset_worktree=True) == 4
    assert sh(run.worktree, "rev-parse", "HEAD") == run.heads[0]
    (entry,) = [
        e for e in await store.audit.entries(adw_id=run.adw_id) if e.action == "run.rollback"
    ]
    assert entry.actor == "operator"


@pytest.mark.parametrize(
    ("path", "text"),
    [("build.py", "changed, not committed\n"), ("notes.txt", "a new file, not ignored\n")],
)
async def test_a_dirty_worktree_is_not_reset_and_nothing_is_written(
    store: Store, run: WorktreeRun, path: str, text: str
):
    (run.worktree / path).write_text(text)

    with pytest.raises(DirtyWorktreeError) as raised:
        await rollback_run(store, run.adw_id, 1, reset_worktree=True, actor="t")

    message = str(raised.value)
    assert str(run.worktree) in message
    assert "commit or stash" in message
    assert "nothing was written" in message
    await assert_untouched(store, run)
    assert (run.worktree / path).read_text() == text


async def test_a_missing_worktree_is_refused(store: Store, run: WorktreeRun):
    shutil.rmtree(run.worktree)

    with pytest.raises(RollbackError, match="no longer exists"):
        await rollback_run(store, run.adw_id, 1, reset_worktree=True, actor="t")

    assert (await store.get_run(run.adw_id)).version == 3
    # Without a reset the missing worktree does not matter: no head is recorded.
    assert await rollback_run(store, run.adw_id, 1, reset_worktree=False, actor="t") == 4
    assert (await store.get_version(run.adw_id, 4)).git_head is None


async def test_an_unknown_commit_is_refused(store: Store, run: WorktreeRun):
    await store.save(
        run.adw_id,
        (await store.load(run.adw_id)).state,
        3,
        reason="head from elsewhere",
        actor="t",
        git_head="0123456789abcdef0123456789abcdef01234567",
    )

    with pytest.raises(RollbackError, match="is not in the repository of worktree"):
        await rollback_run(store, run.adw_id, 4, reset_worktree=True, actor="t")

    assert (await store.get_run(run.adw_id)).version == 4


async def test_a_worktree_on_another_branch_is_not_reset(store: Store, run: WorktreeRun):
    sh(run.worktree, "switch", "-q", "-c", "elsewhere")

    with pytest.raises(RollbackError, match="not the run's branch"):
        await rollback_run(store, run.adw_id, 1, reset_worktree=True, actor="t")

    await assert_untouched(store, run)


async def test_a_version_without_a_git_head_cannot_reset_the_worktree(
    store: Store, run: WorktreeRun
):
    await store.rollback(run.adw_id, 1, actor="t")  # version 4 records no head

    with pytest.raises(RollbackError, match="recorded no git head"):
        await rollback_run(store, run.adw_id, 4, reset_worktree=True, actor="t")

    assert (await store.get_run(run.adw_id)).version == 4


async def test_a_run_without_a_worktree_cannot_reset_it(store: Store):
    await store.create_run({"adw_id": "feedf00d"}, workflow="plan", actor="t", git_head="abc")
    await store.set_status("feedf00d", RunStatus.FAILED, actor="t")

    with pytest.raises(RollbackError, match="has no worktree"):
        await rollback_run(store, "feedf00d", 1, reset_worktree=True, actor="t")

    assert (await store.get_run("feedf00d")).version == 1


@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.RUNNING])
@pytest.mark.parametrize("reset", [False, True])
async def test_an_active_run_is_not_rolled_back(
    store: Store, run: WorktreeRun, status: RunStatus, reset: bool
):
    await store.set_status(run.adw_id, status, actor="t")

    with pytest.raises(RunActiveError, match=f"is {status}.*wait for it or cancel it"):
        await rollback_run(store, run.adw_id, 1, reset_worktree=reset, actor="t")

    await assert_untouched(store, run)


@pytest.mark.parametrize("reset", [False, True])
async def test_an_interrupted_run_is_rolled_back(store: Store, run: WorktreeRun, reset: bool):
    """Nothing executes an interrupted run (every migrated run is one) until it resumes."""
    await store.set_status(run.adw_id, RunStatus.INTERRUPTED, actor="t")

    assert await rollback_run(store, run.adw_id, 2, reset_worktree=reset, actor="t") == 4
    assert (await store.get_version(run.adw_id, 4)).parent == 2


async def test_an_unknown_version_is_refused(store: Store, run: WorktreeRun):
    with pytest.raises(VersionNotFoundError):
        await rollback_run(store, run.adw_id, 9, reset_worktree=True, actor="t")

    await assert_untouched(store, run)
