"""Built-in steps the runtime performs itself, and the conditions of `when`."""

from pathlib import Path
from typing import Any

from adw_tui.domain.errors import AdwError
from adw_tui.domain.workflow import Action, Condition, StepDef
from adw_tui.runtime import git
from adw_tui.runtime.outcome import StepOutcome
from adw_tui.runtime.ports import write_ports_env
from adw_tui.runtime.services import RunServices


async def run_action(
    services: RunServices, adw_id: str, step: StepDef, state: dict[str, Any]
) -> StepOutcome:
    try:
        if step.action is Action.SETUP_WORKTREE:
            return StepOutcome.succeeded(step, await _setup_worktree(services, adw_id, state))
        if step.action is Action.MERGE:
            await git.merge(services.repo, _required(state, "branch_name"), _base(state))
            return StepOutcome.succeeded(step)
    except AdwError as error:
        return StepOutcome.failed(step, str(error), error_class="action_failed")
    raise AssertionError(f"unhandled action {step.action}")


async def condition_holds(condition: Condition, state: dict[str, Any], repo: Path) -> bool:
    if condition is Condition.DIFF_NOT_EMPTY:
        worktree = Path(state["worktree_path"]) if state.get("worktree_path") else repo
        return await git.has_changes_since(worktree, _base(state))
    raise AssertionError(f"unhandled condition {condition}")


async def _setup_worktree(
    services: RunServices, adw_id: str, state: dict[str, Any]
) -> dict[str, Any]:
    """Create (or reuse) trees/<adw_id> on the run's branch, with a port pair of its own.

    A workflow that starts with its worktree has no agent-named branch yet: the branch is
    then `default_branch_name`, saved so that later steps (merge, pull request) use it."""
    branch = state.get("branch_name") or default_branch_name(adw_id, state.get("issue_number"))
    path = await services.worktrees.ensure(adw_id, str(branch), _base(state))
    ports = await services.ports.allocate(adw_id)
    write_ports_env(path, ports)
    return {
        "branch_name": str(branch),
        "worktree_path": str(path),
        "backend_port": ports.backend,
        "frontend_port": ports.frontend,
    }


async def restore_worktree(
    services: RunServices, adw_id: str, state: dict[str, Any]
) -> dict[str, Any]:
    """The state changes that give a run back the worktree its state records but that was
    removed: made again from the run's branch, which removing a worktree keeps, as the
    `setup_worktree` action makes one. Nothing to change when the worktree is there or
    the run has none yet; an AdwError when the branch is gone too."""
    recorded = state.get("worktree_path")
    if not recorded or Path(recorded).exists():
        return {}
    branch = state.get("branch_name")
    if not branch or not await git.branch_exists(services.repo, str(branch)):
        raise AdwError(
            f"the worktree {recorded} of run {adw_id} was removed, and its branch "
            f"{branch or '(none recorded)'} is gone too, so it cannot be made again: "
            "replay the run from the start (`adw dlq replay ID --from-start`)"
        )
    return await _setup_worktree(services, adw_id, state)


def default_branch_name(adw_id: str, issue_number: object) -> str:
    """`adw/issue-<n>-<adw_id>`, or `adw/<adw_id>` for a run without an issue."""
    return f"adw/issue-{issue_number}-{adw_id}" if issue_number else f"adw/{adw_id}"


def _required(state: dict[str, Any], key: str) -> str:
    value = state.get(key)
    if not value:
        raise AdwError(f"the run's state has no {key}; an earlier step should have set it")
    return str(value)


def _base(state: dict[str, Any]) -> str:
    return _required(state, "base_branch")
