"""Built-in steps the runtime performs itself, and the conditions of `when`."""

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from adw_tui.config import process_redactor
from adw_tui.domain.agent import AgentResult, ErrorClass
from adw_tui.domain.errors import AdwError, TrackerError
from adw_tui.domain.fleet import host_name
from adw_tui.domain.issues import PullRequest
from adw_tui.domain.pull_requests import pull_request_body, pull_request_title
from adw_tui.domain.workflow import Action, Condition, StepDef
from adw_tui.runtime import git
from adw_tui.runtime.best_of import awaits_choice
from adw_tui.runtime.outcome import StepOutcome
from adw_tui.runtime.ports import write_ports_env
from adw_tui.runtime.retry import call_with_retry
from adw_tui.runtime.services import RunServices
from adw_tui.runtime.worktree_setup import LOG_NAME, SETUP_DONE, run_setup, setup_command
from adw_tui.trackers.base import PullRequestHost

ActionCall = Callable[[], Awaitable[dict[str, Any]]]
FLEET_HEAD = "fleet_head"
"""The commit of the run's branch last pushed for the fleet (see `carry_branch`)."""
logger = logging.getLogger(__name__)


async def run_action(
    services: RunServices, adw_id: str, step: StepDef, state: dict[str, Any]
) -> StepOutcome:
    try:
        if step.action is Action.SETUP_WORKTREE:
            return StepOutcome.succeeded(step, await _setup_worktree(services, adw_id, state))
        if step.action is Action.FETCH_DOCS:
            # Imported here: httpx and the fetch cost every start of the runtime ~80 ms.
            from adw_tui.runtime.docs_fetch import fetch_docs

            return StepOutcome.succeeded(step, await fetch_docs(services, adw_id, state))
        if step.action is Action.MERGE:
            await git.merge(services.repo, _required(state, "branch_name"), _base(state))
            return StepOutcome.succeeded(step)
        if step.action is Action.PUSH:
            return await _retried(services, step, lambda: _push(services, state))
        if step.action is Action.OPEN_PR:
            return await _retried(
                services, step, lambda: open_pull_request(services, adw_id, state)
            )
    except AdwError as error:
        return StepOutcome.failed(step, str(error), error_class="action_failed")
    raise AssertionError(f"unhandled action {step.action}")


async def condition_unmet(
    condition: Condition, state: dict[str, Any], services: RunServices
) -> str | None:
    """Why `condition` does not hold for the run (its skipped step says so), or None when
    it holds."""
    if condition is Condition.DIFF_NOT_EMPTY:
        worktree = Path(state["worktree_path"]) if state.get("worktree_path") else services.repo
        if await git.has_changes_since(worktree, _base(state)):
            return None
        return "diff_not_empty is false: the branch changed nothing"
    if condition is Condition.HOSTED:
        if not isinstance(services.tracker, PullRequestHost):
            return f"hosted is false: the {services.tracker.name} tracker hosts no pull requests"
        if awaits_choice(state):
            return "a best-of run goes to origin once chosen (adw choose)"
        return None
    raise AssertionError(f"unhandled condition {condition}")


async def _retried(services: RunServices, step: StepDef, action: ActionCall) -> StepOutcome:
    """Run an action that talks to a remote under the step's retry policy: a failure
    that may pass (the network, the remote or its API down) is tried again after the
    policy's backoff; any other fails the step at once."""
    saves: dict[str, Any] = {}

    async def attempt(_: int) -> AgentResult:
        try:
            saves.update(await action())
        except AdwError as error:
            transient = isinstance(error, git.PushFailedError) or (
                isinstance(error, TrackerError) and error.transient
            )
            error_class = ErrorClass.NETWORK if transient else ErrorClass.INVALID_REQUEST
            return AgentResult(success=False, error_class=error_class, error_message=str(error))
        return AgentResult(success=True)

    policy = step.retry_policy(services.settings.retry_policy())
    result, attempts = await call_with_retry(attempt, policy, sleep=services.sleep)
    if result.success:
        return StepOutcome.succeeded(step, saves)
    error_class = "network" if result.transient else "action_failed"
    return StepOutcome.failed(
        step, result.error_message, error_class=error_class, attempts=attempts
    )


def _host(services: RunServices) -> PullRequestHost:
    tracker = services.tracker
    if not isinstance(tracker, PullRequestHost):
        raise AdwError(
            f"the {tracker.name} tracker hosts no pull requests: give the step "
            "`when: hosted`, or use a tracker that does (ADW_TRACKER=github)"
        )
    return tracker


async def _push(services: RunServices, state: dict[str, Any]) -> dict[str, Any]:
    """Push the run's branch to origin (never forced), with the tracker's credentials."""
    _host(services)  # the action refuses a tracker that hosts no repository
    worktree = Path(_required(state, "worktree_path"))
    await push_branch(services, worktree, _required(state, "branch_name"))
    return {"pushed_head": await git.head(worktree)}


async def push_branch(services: RunServices, cwd: Path, branch: str) -> None:
    """Push `branch` from the repository at `cwd` to origin, never forced: the `push`
    action's push, and the dashboard's `P`. With the tracker's credentials when it hosts
    the repository, else with git's own (an SSH key, a credential helper)."""
    await git.push(cwd, branch, env=await remote_environment(services, cwd))


async def remote_environment(services: RunServices, cwd: Path) -> dict[str, str]:
    """Git's environment for origin: the tracker's credentials when it hosts the
    repository, else none (git's own: an SSH key, a credential helper)."""
    tracker = services.tracker
    url = await git.remote_url(cwd)
    if url and isinstance(tracker, PullRequestHost):
        return await tracker.push_environment(url)
    return {}


async def open_pull_request(
    services: RunServices, adw_id: str, state: dict[str, Any]
) -> dict[str, Any]:
    """Open the run's pull request, or update the one it opened before (`pr_number`)."""
    host = _host(services)
    number = int(_required(state, "issue_number"))
    title = pull_request_title(state.get("issue_class"), number, str(state.get("issue_title", "")))
    body = pull_request_body(_description(state), number, adw_id)
    recorded = state.get("pr_number")

    async def call(_: object) -> PullRequest:
        return await host.open_pull_request(
            head=_required(state, "branch_name"),
            base=_base(state),
            title=title,
            body=process_redactor().text(body),
            number=int(recorded) if recorded else None,
        )

    pull = await services.call_tracker(call, adw_id=adw_id, step="open_pr")
    return {"pr_number": pull.number, "pr_url": pull.url}


def _description(state: dict[str, Any]) -> str:
    """What the pull request says: the `/pull_request` agent's text (`pr_body`), else the
    plan file's text, else nothing (the body then only closes the issue)."""
    if state.get("pr_body"):
        return str(state["pr_body"])
    plan, worktree = state.get("plan_file"), state.get("worktree_path")
    if not (plan and worktree):
        return ""
    root = Path(worktree).resolve()
    path = (root / str(plan)).resolve()
    if not path.is_relative_to(root) or not path.is_file():  # an agent named the file
        return ""
    return path.read_text(encoding="utf-8", errors="replace")


async def _setup_worktree(
    services: RunServices, adw_id: str, state: dict[str, Any]
) -> dict[str, Any]:
    """Create (or reuse) trees/<adw_id> on the run's branch, with a port pair of its own;
    a new one gets the worktree set-up hook run in it (see `worktree_setup`).

    A workflow that starts with its worktree has no agent-named branch yet: the branch is
    then `default_branch_name`, saved so that later steps (merge, pull request) use it."""
    branch = state.get("branch_name") or default_branch_name(adw_id, state.get("issue_number"))
    new = not services.worktrees.path_for(adw_id).exists()
    path = await services.worktrees.ensure(adw_id, str(branch), _base(state))
    ports = await services.ports.allocate(adw_id)
    write_ports_env(path, ports)
    settings = services.settings
    command = setup_command(services.repo, settings)
    done = services.output_dir / adw_id / SETUP_DONE
    if new:
        done.unlink(missing_ok=True)
    if command is not None and not done.exists():  # new, or its set-up failed before
        await run_setup(
            command,
            path,
            adw_id=adw_id,
            ports=ports,
            log=services.output_dir / adw_id / LOG_NAME,
            timeout_s=settings.worktree_setup_timeout,
            agent_env=settings.agent_env,
        )
        done.touch()
    return {
        "branch_name": str(branch),
        "worktree_path": str(path),
        "worktree_host": host_name(),
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
    if not recorded:
        return {}
    if state.get("worktree_host", host_name()) != host_name():
        return await _carry_worktree_here(services, adw_id, state)
    if Path(recorded).exists():
        return {}
    branch = state.get("branch_name")
    if not branch or not await git.branch_exists(services.repo, str(branch)):
        raise AdwError(
            f"the worktree {recorded} of run {adw_id} was removed, and its branch "
            f"{branch or '(none recorded)'} is gone too, so it cannot be made again: "
            "replay the run from the start (`adw dlq replay ID --from-start`)"
        )
    return await _setup_worktree(services, adw_id, state)


async def _carry_worktree_here(
    services: RunServices, adw_id: str, state: dict[str, Any]
) -> dict[str, Any]:
    """The run's worktree made on this host, for a run another host's worker began: its
    branch as that worker last pushed it (`fleet_head`), or from the base when it never
    pushed (no step of it had ended)."""
    if state.get(FLEET_HEAD):
        branch = _required(state, "branch_name")
        env = await remote_environment(services, services.repo)
        await git.fetch_branch(services.repo, branch, env=env)
    return await _setup_worktree(services, adw_id, state)


async def carry_branch(services: RunServices, state: dict[str, Any]) -> dict[str, Any]:
    """After a step of a run queued for the fleet: push its branch to origin when the
    step moved it (never forced), so a worker on another host can go on from there;
    `{FLEET_HEAD: commit}` once pushed, nothing when there was nothing to push. A push
    that fails is logged and the run goes on (another host then resumes from the last
    commit that was pushed)."""
    worktree, branch = state.get("worktree_path"), state.get("branch_name")
    if not (worktree and branch and Path(worktree).is_dir()):
        return {}
    head = await git.head(Path(worktree))
    if head == state.get(FLEET_HEAD):
        return {}
    try:
        await push_branch(services, Path(worktree), str(branch))
    except AdwError as error:
        logger.warning("branch %s not pushed for the fleet: %s", branch, error)
        return {}
    return {FLEET_HEAD: head}


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
