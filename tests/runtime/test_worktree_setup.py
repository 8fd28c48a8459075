"""The worktree set-up hook, run for real in a new run worktree by the `worktree` step:
once per new worktree, in it, with the run's id and ports, its output logged, and its
failure the step's failure with the output's last lines. ADW_TREES_DIR places them."""

from pathlib import Path

from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.runtime.test_orchestrator import fast_settings

HOOK = """#!/bin/sh
echo "setting up $ADW_ID on $BACKEND_PORT/$FRONTEND_PORT"
pwd > setup-ran-here.txt
echo "$ADW_WORKTREE" >> setup-ran-here.txt
"""


def write_hook(repo: Path, text: str) -> Path:
    hook = repo / ".adw" / "hooks" / "worktree-setup"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(text)
    hook.chmod(0o755)
    return hook


async def plan_run(store: Store, orchestrator: Orchestrator) -> str:
    issue = await store.issues.create("Add a slugify helper", "x")
    return await orchestrator.launch(issue.number, workflow="plan")


async def test_the_hook_runs_once_in_each_new_worktree(
    repo: Path, store: Store, tmp_path: Path
) -> None:
    write_hook(repo, HOOK)
    trees = tmp_path / "elsewhere"
    async with Orchestrator(store, repo, fast_settings(repo, trees_dir=str(trees))) as runs:
        adw_id = await plan_run(store, runs)
        assert (await runs.wait(adw_id)).status is RunStatus.SUCCEEDED
    state = (await store.load(adw_id)).state
    worktree = trees / adw_id
    assert state.worktree_path == str(worktree)
    ran = (worktree / "setup-ran-here.txt").read_text().splitlines()
    assert ran == [str(worktree), str(worktree)]
    log = (repo / "agents" / adw_id / "worktree-setup.log").read_text()
    assert log.startswith(f"setting up {adw_id} on {state.backend_port}/{state.frontend_port}")


async def test_a_failing_hook_fails_the_worktree_step_with_its_output(
    repo: Path, store: Store
) -> None:
    write_hook(repo, "#!/bin/sh\necho 'npm ERR! missing script: install'\nexit 3\n")
    async with Orchestrator(store, repo, fast_settings(repo)) as runs:
        adw_id = await plan_run(store, runs)
        assert (await runs.wait(adw_id)).status is RunStatus.DEAD_LETTERED
    [letter] = await store.dead_letters.list()
    assert letter.step == "worktree"
    assert "the worktree set-up exited 3" in letter.error_message
    assert "npm ERR! missing script: install" in letter.error_message
    # Fixed, then replayed: the set-up runs in the worktree the failed run left.
    write_hook(repo, HOOK)
    async with Orchestrator(store, repo, fast_settings(repo)) as runs:
        assert await runs.replay(letter.id) == adw_id
        assert (await runs.wait(adw_id)).status is RunStatus.SUCCEEDED
    assert (repo / "trees" / adw_id / "setup-ran-here.txt").is_file()


async def test_the_setting_wins_and_a_hook_that_is_not_executable_says_so(
    repo: Path, store: Store
) -> None:
    hook = write_hook(repo, HOOK)
    hook.chmod(0o644)
    async with Orchestrator(store, repo, fast_settings(repo)) as runs:
        refused = await plan_run(store, runs)
        assert (await runs.wait(refused)).status is RunStatus.DEAD_LETTERED
    [letter] = await store.dead_letters.list()
    assert "is not executable: `chmod +x .adw/hooks/worktree-setup`" in letter.error_message
    settings = fast_settings(repo, worktree_setup="echo from-config > configured.txt")
    async with Orchestrator(store, repo, settings) as runs:
        issue = await store.issues.create("Add a title helper", "x")
        adw_id = await runs.launch(issue.number, workflow="plan")
        assert (await runs.wait(adw_id)).status is RunStatus.SUCCEEDED
    assert (repo / "trees" / adw_id / "configured.txt").read_text() == "from-config\n"
