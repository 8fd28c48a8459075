"""What the run detail screen asks the Orchestrator: a run's worktree diff against its
base, and a retry of a stopped run. Real repositories, store and simulated agent."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.git import MissingBranchError
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.runtime import commit_file
from tests.runtime.test_orchestrator import fast_settings
from tests.runtime.worktree_runs import seed_worktree_run


@pytest.fixture
async def orchestrator(store: Store, repo: Path) -> AsyncIterator[Orchestrator]:
    orchestrator = Orchestrator(store, repo, fast_settings(repo))
    try:
        yield orchestrator
    finally:
        await orchestrator.aclose()


async def test_the_diff_holds_the_run_s_commits_and_uncommitted_work_since_it_forked(
    store: Store, repo: Path, orchestrator: Orchestrator
):
    run = await seed_worktree_run(store, repo)
    commit_file(repo, "LATER.md", "main moved on after the fork\n")
    (run.worktree / "plan.md").write_text("plan.md\nedited, not committed\n")
    (run.worktree / "notes").mkdir()
    (run.worktree / "notes" / "new.txt").write_text("a new file\n")
    (run.worktree / ".ports.env").write_text("BACKEND_PORT=9100\n")  # ignored

    diff = await orchestrator.worktree_diff(run.adw_id)

    assert diff.base == "main"  # the state records none: the repository's default branch
    assert diff.fork_point == run.heads[0]
    assert diff.worktree == run.worktree
    files = [line.removeprefix("+++ b/") for line in diff.text.splitlines() if line[:6] == "+++ b/"]
    assert files == ["build.py", "plan.md", "notes/new.txt"]
    assert "+edited, not committed" in diff.text
    assert not diff.empty


async def test_a_worktree_without_changes_has_an_empty_diff(
    store: Store, repo: Path, orchestrator: Orchestrator
):
    run = await seed_worktree_run(store, repo)
    state = (await store.load(run.adw_id)).state.as_data()
    await store.save(run.adw_id, {**state, "base_branch": run.heads[2]}, 3, "base", "test")
    diff = await orchestrator.worktree_diff(run.adw_id)
    assert diff.empty
    assert diff.fork_point == run.heads[2]


async def test_a_diff_needs_a_worktree_and_its_base(
    store: Store, repo: Path, orchestrator: Orchestrator
):
    await store.create_run({"adw_id": "aaaa1111"}, workflow="plan", actor="test")
    with pytest.raises(AdwError, match="run aaaa1111 has no worktree yet"):
        await orchestrator.worktree_diff("aaaa1111")
    gone = {"adw_id": "bbbb2222", "worktree_path": str(repo / "trees" / "bbbb2222")}
    await store.create_run(gone, workflow="plan", actor="test")
    with pytest.raises(AdwError, match=r"the worktree of run bbbb2222 is gone"):
        await orchestrator.worktree_diff("bbbb2222")
    run = await seed_worktree_run(store, repo)
    state = (await store.load(run.adw_id)).state.as_data()
    await store.save(run.adw_id, {**state, "base_branch": "release"}, 3, "base", "test")
    with pytest.raises(MissingBranchError, match="branch 'release' does not exist"):
        await orchestrator.worktree_diff(run.adw_id)


async def launch_plan(store: Store, orchestrator: Orchestrator, **launch: object) -> str:
    issue = await store.issues.create("Add a slugify helper", "Turn titles into URL slugs.")
    return await orchestrator.launch(issue.number, workflow="plan", **launch)  # type: ignore[arg-type]


async def test_retry_replays_a_dead_letter_from_the_failed_step(
    store: Store, orchestrator: Orchestrator
):
    adw_id = await launch_plan(
        store, orchestrator, engine_env={"ADW_SIM_FAULTS": "generate_branch_name=auth"}
    )
    assert (await orchestrator.wait(adw_id)).status is RunStatus.DEAD_LETTERED
    [letter] = await store.dead_letters.list()

    assert await orchestrator.retry(adw_id) == adw_id
    assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED

    steps = [(a.step, a.status) for a in await store.steps.for_run(adw_id)]
    assert steps[:3] == [
        ("classify", StepStatus.SUCCEEDED),  # not run again
        ("name_branch", StepStatus.FAILED),
        ("name_branch", StepStatus.SUCCEEDED),  # the new attempt
    ]
    replayed = await store.dead_letters.get(letter.id)
    assert [replay.from_step for replay in replayed.replays] == ["name_branch"]
    with pytest.raises(AdwError, match="succeeded: there is nothing to retry"):
        await orchestrator.retry(adw_id)


async def test_retry_resumes_a_cancelled_run_with_its_last_engine(store: Store, repo: Path):
    # The settings name an engine that is not installed: the retry must keep the run's.
    orchestrator = Orchestrator(store, repo, fast_settings(repo, engine="claude"))
    adw_id = await launch_plan(
        store, orchestrator, engine="sim", engine_env={"ADW_SIM_FAULTS": "classify_issue=hang"}
    )
    for _ in range(400):  # until the agent has started (and hangs)
        if [a for a in await store.steps.for_run(adw_id) if a.pgid]:
            break
        await asyncio.sleep(0.025)
    with pytest.raises(AdwError, match=f"run {adw_id} is running: only a stopped run"):
        await orchestrator.retry(adw_id)
    await orchestrator.cancel(adw_id)
    [cancelled] = await store.steps.for_run(adw_id)
    assert (cancelled.status, cancelled.error_message) == (
        StepStatus.FAILED,
        "cancelled: the run was stopped",
    )

    await orchestrator.retry(adw_id)
    assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
    await orchestrator.aclose()
    attempts = await store.steps.for_run(adw_id)
    assert {a.engine for a in attempts if a.engine} == {"sim"}
    assert [a.step for a in attempts][:2] == ["classify", "classify"]


async def test_retry_refuses_what_is_not_stopped(store: Store, orchestrator: Orchestrator):
    await store.create_run({"adw_id": "cccc3333"}, workflow="plan", actor="test")
    with pytest.raises(AdwError, match="run cccc3333 is queued: only a stopped run"):
        await orchestrator.retry("cccc3333")
    await store.create_run({"adw_id": "dddd4444"}, workflow="plan", actor="test")
    await store.set_status("dddd4444", RunStatus.DEAD_LETTERED, actor="test")
    with pytest.raises(AdwError, match="no pending dead letter"):
        await orchestrator.retry("dddd4444")
