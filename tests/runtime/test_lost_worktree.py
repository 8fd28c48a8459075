"""A run's worktree removed while it runs: the step fails `worktree_missing`, and the
replay of that dead letter makes the worktree again from the run's branch."""

import shutil
from pathlib import Path

from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.runtime import commit_file, sh
from tests.runtime.test_orchestrator import fast_settings


async def remove_the_worktree_mid_run(repo: Path, store: Store) -> str:
    """A `plan` run whose planner's first call fails (a transient fault) and whose
    worktree directory is deleted while the retry waits: the retry cannot start. Returns
    the run's adw_id, dead-lettered."""

    async def delete_then_retry(_seconds: float) -> None:
        for worktree in (repo / "trees").iterdir():
            shutil.rmtree(worktree)

    issue = await store.issues.create("Add a slugify helper", "Turn titles into slugs.")
    orchestrator = Orchestrator(store, repo, fast_settings(repo), sleep=delete_then_retry)
    adw_id = await orchestrator.launch(
        issue.number, workflow="plan", engine_env={"ADW_SIM_FAULTS": "feature=fail_once"}
    )
    run = await orchestrator.wait(adw_id)
    await orchestrator.aclose()
    assert run.status is RunStatus.DEAD_LETTERED
    return adw_id


async def test_replay_makes_a_removed_worktree_again_from_the_runs_branch(
    repo: Path, store: Store, tmp_path: Path
) -> None:
    adw_id = await remove_the_worktree_mid_run(repo, store)
    [letter] = await store.dead_letters.list()
    assert (letter.step, letter.error_class) == ("plan", "worktree_missing")
    assert "does not exist" in letter.error_message
    state = (await store.get_version(adw_id, letter.state_version)).state.as_data()
    worktree, branch = Path(state["worktree_path"]), state["branch_name"]
    assert not worktree.exists()
    # Work on the branch that the removal kept must be there when the run goes on.
    sh(repo, "worktree", "prune")
    elsewhere = tmp_path / "elsewhere"
    sh(repo, "worktree", "add", "-q", str(elsewhere), branch)
    kept = commit_file(elsewhere, "notes.md", "kept on the branch\n")
    sh(repo, "worktree", "remove", str(elsewhere))

    orchestrator = Orchestrator(store, repo, fast_settings(repo))
    run = await orchestrator.wait(await orchestrator.replay(letter.id))
    await orchestrator.aclose()

    assert run.status is RunStatus.SUCCEEDED
    assert (worktree / "notes.md").read_text() == "kept on the branch\n"
    assert sh(worktree, "branch", "--show-current") == branch
    assert sh(worktree, "merge-base", "--is-ancestor", kept, "HEAD") == ""
    final = (await store.load(adw_id)).state.as_data()
    assert final["plan_file"]
    assert (worktree / ".ports.env").is_file()
    audit = await store.audit.entries(adw_id=adw_id)
    assert [entry.detail for entry in audit if entry.action == "worktree.restored"] == [
        {"path": str(worktree), "branch": branch}
    ]


async def test_a_removed_worktree_whose_branch_is_gone_too_fails_clearly(
    repo: Path, store: Store
) -> None:
    adw_id = await remove_the_worktree_mid_run(repo, store)
    [letter] = await store.dead_letters.list()
    branch = (await store.load(adw_id)).state.as_data()["branch_name"]
    sh(repo, "worktree", "prune")
    sh(repo, "branch", "-D", branch)

    orchestrator = Orchestrator(store, repo, fast_settings(repo))
    run = await orchestrator.wait(await orchestrator.replay(letter.id))
    await orchestrator.aclose()

    assert run.status is RunStatus.DEAD_LETTERED
    [again] = await store.dead_letters.list()
    assert (again.step, again.error_class) == ("plan", "worktree_missing")
    assert f"its branch {branch} is gone too" in again.error_message
    assert "--from-start" in again.error_message
