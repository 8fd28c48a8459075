"""Runs to step into: a `plan` run the simulated agent ran for real (a worktree, step
attempts with session ids), and a Claude Code session added to its timeline, as a step
that Claude Code ran would have left it."""

from pathlib import Path

from adw_tui.domain.agent import AgentResult
from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store

CLAUDE_SESSION = "5f0c8a52-7d8e-4c1b-9a3e-2b6d4e8f1a07"


async def finished_run(store: Store, orchestrator: Orchestrator) -> str:
    """A succeeded `plan` run of a new issue, by the simulated agent."""
    issue = await store.issues.create("Add a slugify helper", "Turn a title into a slug.")
    adw_id = await orchestrator.launch(issue.number, workflow="plan")
    assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
    return adw_id


async def add_claude_session(store: Store, adw_id: str, session_id: str = CLAUDE_SESSION) -> None:
    """A later step of the run that Claude Code answered in session `session_id`."""
    attempt = await store.steps.start(
        adw_id, "review", visit=1, attempt=1, agent="reviewer", engine="claude"
    )
    await store.steps.finish(
        attempt, StepStatus.SUCCEEDED, result=AgentResult(success=True, session_id=session_id)
    )


async def worktree_of(store: Store, adw_id: str) -> Path:
    worktree = (await store.load(adw_id)).state.worktree_path
    assert worktree is not None
    return Path(worktree)
