"""Interprets a workflow for one run: step after step, a state version after each.

The position in the workflow (`next_state`) and the visit counts are the run's control,
versioned with its state, so a run continues from its last completed step, and rolling
the state back to an older version also rewinds where the run goes next.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from adw_tui.config import process_redactor
from adw_tui.domain.agent import ErrorClass
from adw_tui.domain.control import LastError, RunControl
from adw_tui.domain.errors import AdwError
from adw_tui.domain.issues import IssueMark
from adw_tui.domain.models import NewDeadLetter, RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.domain.workflow import Action, StepDef, WorkflowDef
from adw_tui.runtime import git
from adw_tui.runtime.actions import (
    carry_branch,
    condition_unmet,
    restore_worktree,
    run_action,
)
from adw_tui.runtime.agent_step import AgentStep
from adw_tui.runtime.breakers import BreakerOpenError
from adw_tui.runtime.events import RunChanged, StepFinished, TrackerFailed
from adw_tui.runtime.outcome import StepOutcome
from adw_tui.runtime.scout_step import ScoutStep
from adw_tui.runtime.services import RUNTIME_ACTOR, RunServices
from adw_tui.runtime.tracing import annotate, span
from adw_tui.store.steps import AttemptEnd
from adw_tui.trackers.base import IssueTracker, post_status

REPORT_CHARS = 1000
"""The longest failure reason an issue comment quotes."""

logger = logging.getLogger(__name__)


class RunExecutor:
    def __init__(
        self,
        services: RunServices,
        adw_id: str,
        workflow: WorkflowDef,
        *,
        engine: str,
        engine_env: dict[str, str] | None = None,
        stopping: Callable[[], bool] = lambda: False,
        pausing: Callable[[], bool] = lambda: False,
    ) -> None:
        """`stopping()` is asked before each step: when true the run stops there,
        interrupted and resumable, instead of starting the step. `pausing()` too: when
        true `execute` returns `paused` there, for the caller to record (a pause that
        comes while a built-in action runs waits for it here: see `in_action`)."""
        self._services = services
        self._adw_id = adw_id
        self._workflow = workflow
        self._engine = engine
        self._engine_env = engine_env or {}
        self._stopping = stopping
        self._pausing = pausing
        self.in_action = False
        """True while a built-in action (git, the set-up hook, the tracker) runs: stopping
        one half-way could leave a worktree or a push half done, so a pause waits for
        the step to end; any other moment can be cancelled."""
        self._worktree_checked = False
        self._paused: tuple[str, str] | None = None
        """(step, session) where a pause stopped the run, until that step runs again."""

    @property
    def workflow_name(self) -> str:
        return self._workflow.name

    async def execute(self) -> RunStatus:
        """Run from the recorded position to a terminal state; return the final status."""
        store = self._services.store
        loaded = await store.load(self._adw_id)
        state = loaded.state.as_data()
        control = loaded.control
        version = loaded.run.version
        fleet = loaded.run.fleet is not None  # its branch goes where other hosts see it
        current = control.next_state or self._workflow.first_state
        await self._mark(state, IssueMark.RUNNING)
        await self._comment(state, "ops", f"running workflow {self._workflow.name} from {current}")
        hooks = await git.hooks_fingerprint(self._services.repo)
        self._paused = await store.steps.paused_session(self._adw_id)
        while True:
            step = self._workflow.states[current]
            if step.terminal:
                return await self._finish(current, step, state, control, version)
            if self._stopping():
                await store.set_status(
                    self._adw_id, RunStatus.INTERRUPTED, actor=RUNTIME_ACTOR, current_step=current
                )
                self._services.bus.publish(RunChanged(self._adw_id, RunStatus.INTERRUPTED))
                return RunStatus.INTERRUPTED
            if self._pausing():
                return RunStatus.PAUSED
            with span(f"step {current}", {"adw.step": current, "adw.id": self._adw_id}) as visit:
                outcome = await self._visit(current, step, state, control)
                annotate(visit, {"adw.step.status": str(outcome.status)})
            state.update(outcome.saves)
            if fleet:
                state.update(await carry_branch(self._services, state))
            if outcome.status in (StepStatus.FAILED, StepStatus.REJECTED):
                control.last_error = LastError(
                    step=current,
                    error_class=outcome.error_class or "unknown",
                    message=outcome.error or "",
                    attempts=outcome.attempts,
                    request=outcome.request,
                )
            next_state = outcome.next_state or self._failure_state()
            if outcome.error_class == ErrorClass.BUDGET:
                # Spent: no fix-up step of the workflow's may call an agent either.
                next_state = self._failure_state()
            control.next_state = next_state
            version = await store.save(
                self._adw_id,
                state,
                version,
                reason=f"{current}: {outcome.status}",
                actor=f"{current}/{step.agent or step.action}",
                git_head=await _head(state),
                control=control,
                ends=outcome.pending,
            )
            await self._comment(state, step.agent or "ops", _step_report(current, outcome))
            hooks = await self._report_hook_changes(current, hooks, state)
            current = next_state

    async def _report_hook_changes(
        self, step: str, before: dict[str, str], state: dict[str, Any]
    ) -> dict[str, str]:
        """Warn (log, audit entry, issue comment) when `step` changed the repository's git
        hooks or `core.hooksPath`; return the fingerprint now."""
        after = await git.hooks_fingerprint(self._services.repo)
        changed = git.hooks_changes(before, after)
        if changed:
            message = (
                f"{step} changed git hooks ({', '.join(changed)}) in {self._services.repo}: "
                "adw's git never runs them, but yours will; review them before using git there"
            )
            logger.warning("run %s: %s", self._adw_id, message)
            await self._services.store.audit.record(
                actor=RUNTIME_ACTOR,
                action="git.hooks_changed",
                adw_id=self._adw_id,
                detail={"step": step, "changed": changed},
            )
            await self._comment(state, "ops", message)
        return after

    async def _visit(
        self, name: str, step: StepDef, state: dict[str, Any], control: RunControl
    ) -> StepOutcome:
        visit = control.visits.get(name, 0) + 1
        if visit > step.visit_limit:
            error = f"{name} ran {step.visit_limit} times without converging"
            outcome = StepOutcome(
                StepStatus.FAILED,
                step.on_exhausted or step.on_failure,
                error=error,
                error_class="exhausted",
            )
            return await self._recorded(name, visit, outcome)
        control.visits[name] = visit
        if not self._worktree_checked:
            self._worktree_checked = True
            refused = await self._restore_worktree(step, state)
            if refused is not None:
                return await self._recorded(name, visit, refused)
        unmet = step.when and await condition_unmet(step.when, state, self._services)
        if unmet:
            skipped = replace(StepOutcome.skipped(step), error=f"skipped: {unmet}")
            return await self._recorded(name, visit, skipped)
        if step.action is not None:
            self.in_action = True
            try:
                outcome = await run_action(self._services, self._adw_id, step, state)
            finally:
                self.in_action = False
            return await self._recorded(name, visit, outcome)
        if step.is_scout:
            scout_step = ScoutStep(
                self._services,
                self._adw_id,
                name,
                step,
                visit=visit,
                engine_env=self._engine_env,
            )
            return await scout_step.run(state)
        paused, self._paused = self._paused, None
        agent_step = AgentStep(
            self._services,
            self._adw_id,
            name,
            step,
            visit=visit,
            engine=self._engine,
            engine_env=self._engine_env,
            resume_session=paused[1] if paused and paused[0] == name else None,
        )
        return await agent_step.run(state)

    async def _restore_worktree(self, step: StepDef, state: dict[str, Any]) -> StepOutcome | None:
        """Before the first step this execution runs (a replay, a resume): a worktree
        removed since the run last ran is made again from the run's branch and the run
        goes on; the step fails `worktree_missing` when that cannot be done. (Removed
        while the run runs, the worktree stays missing: its step fails, and a replay of
        that dead letter comes here.)"""
        if step.action is Action.SETUP_WORKTREE:
            return None  # the step does it
        try:
            restored = await restore_worktree(self._services, self._adw_id, state)
        except AdwError as error:
            return StepOutcome.failed(step, str(error), error_class=ErrorClass.WORKTREE_MISSING)
        if restored:
            state.update(restored)
            message = (
                f"the run's worktree had been removed: made {restored['worktree_path']} again "
                f"from branch {restored['branch_name']}"
            )
            logger.warning("run %s: %s", self._adw_id, message)
            await self._services.store.audit.record(
                actor=RUNTIME_ACTOR,
                action="worktree.restored",
                adw_id=self._adw_id,
                detail={"path": restored["worktree_path"], "branch": restored["branch_name"]},
            )
            await self._comment(state, "ops", message)
        return None

    async def _recorded(self, name: str, visit: int, outcome: StepOutcome) -> StepOutcome:
        """A timeline entry for a step that called no agent (action, skip, exhausted),
        closed with the state version like an agent's last attempt."""
        attempt_id = await self._services.store.steps.start(
            self._adw_id, name, visit=visit, attempt=1
        )
        self._services.bus.publish(
            StepFinished(self._adw_id, name, outcome.status, detail=outcome.error or "")
        )
        end = AttemptEnd(attempt_id, outcome.status, error=outcome.error)
        return replace(outcome, pending=(end,))

    def _failure_state(self) -> str:
        """Where a failure with no declared target goes: the workflow's dead letter."""
        for name, step in self._workflow.states.items():
            if step.terminal and step.action is Action.RECORD_FAILURE:
                return name
        raise AssertionError("workflow has no record_failure state")

    async def _finish(
        self, name: str, step: StepDef, state: dict[str, Any], control: RunControl, version: int
    ) -> RunStatus:
        store = self._services.store
        if step.action is Action.RECORD_FAILURE:
            error = control.last_error or LastError()
            await store.dead_letters.add(
                NewDeadLetter(
                    adw_id=self._adw_id,
                    workflow=self._workflow.name,
                    step=error.step,
                    state_version=version,
                    error_class=error.error_class,
                    error_message=error.message or f"reached {name}",
                    attempts=error.attempts,
                    request=error.request,
                ),
                actor=RUNTIME_ACTOR,
            )
            status = RunStatus.DEAD_LETTERED
        else:
            await store.set_status(self._adw_id, RunStatus.SUCCEEDED, actor=RUNTIME_ACTOR)
            status = RunStatus.SUCCEEDED
        self._services.bus.publish(RunChanged(self._adw_id, status))
        await self._comment(state, "ops", f"workflow {self._workflow.name} ended: {status}")
        succeeded = status is RunStatus.SUCCEEDED
        await self._mark(state, IssueMark.SUCCEEDED if succeeded else IssueMark.FAILED)
        return status

    async def _comment(self, state: dict[str, Any], agent: str, message: str) -> None:
        """Post a status comment on the run's issue (secrets redacted: an issue may be
        public)."""
        text = process_redactor().text(message)
        await self._tell_tracker(
            state,
            "comment",
            lambda tracker, number: post_status(tracker, number, self._adw_id, agent, text),
        )

    async def _mark(self, state: dict[str, Any], mark: IssueMark) -> None:
        """Label the run's issue (trackers without labels ignore it)."""
        await self._tell_tracker(state, "label", lambda tracker, number: tracker.mark(number, mark))

    async def _tell_tracker(
        self,
        state: dict[str, Any],
        action: str,
        call: Callable[[IssueTracker, int], Awaitable[object]],
    ) -> None:
        """A best-effort call about the run's issue, behind the tracker's rate limit and
        circuit breaker: an open breaker skips it; a failure is told to live views and
        does not stop the run."""
        number = state.get("issue_number")
        if not (number and str(number).isdigit()):
            return
        try:
            async with asyncio.timeout(self._services.settings.report_timeout):
                await self._services.call_tracker(
                    lambda tracker: call(tracker, int(number)),
                    adw_id=self._adw_id,
                    step=action,
                    wait=False,
                )
        except BreakerOpenError:
            return
        except TimeoutError:
            waited = self._services.settings.report_timeout
            message = f"no answer in {waited:g}s (a rate limit, or the network): skipped"
            logger.warning("run %s: the tracker's %s: %s", self._adw_id, action, message)
            self._services.bus.publish(TrackerFailed(self._adw_id, action, message))
        except AdwError as error:  # the tracker down, or the issue gone since the launch
            logger.warning("run %s: the tracker's %s failed: %s", self._adw_id, action, error)
            self._services.bus.publish(TrackerFailed(self._adw_id, action, str(error)))


def _step_report(name: str, outcome: StepOutcome) -> str:
    """`push: failed: <why>`: how a step ended, with the reason when it failed (cut to a
    comment's worth), for the issue."""
    report = f"{name}: {outcome.status}"
    if outcome.status is StepStatus.FAILED and outcome.error:
        reason = outcome.error
        report += f": {reason[:REPORT_CHARS]}" + ("…" if len(reason) > REPORT_CHARS else "")
    return report


async def _head(state: dict[str, Any]) -> str | None:
    worktree = state.get("worktree_path")
    if not worktree or not Path(worktree).is_dir():
        return None
    return await git.head(Path(worktree))
