"""A scout step: several agents search the run's worktree at once; their answers become
`agents/<adw_id>/scout/relevant_files.json`.

The scouts run inside the run's own task, under the slot the run already holds: they
take no slot of the resource manager (a run waiting for slots for its own scouts could
wait for ever), only the engines' rate limits and circuit breakers, as any agent call.
Each scout is one attempt of the step (agent `scout_<engine>_<i>`, its own transcript
and cost), with its own timeout, after which its process group is killed and it is
skipped: a scout is never retried. They share the worktree read-only: whatever they
change is recorded and undone afterwards (`scout_guard`).

The step succeeds when at least one scout answered in the format; the aggregate is
written either way, naming in `key_findings.gaps` every scout that gave nothing.
"""

import asyncio
import json
import logging
import os
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from adw_tui.agents.engine import Engine
from adw_tui.config import process_redactor
from adw_tui.domain.agent import AgentRequest, AgentResult, ErrorClass
from adw_tui.domain.clock import utc_now
from adw_tui.domain.errors import AdwError
from adw_tui.domain.model_sets import model_for
from adw_tui.domain.scouts import (
    DroppedFile,
    KeyFindings,
    RelevantFiles,
    ScoutFinding,
    ScoutReport,
    ScoutSpec,
    ScoutStatus,
    WorktreeChanges,
    merge_files,
    merge_findings,
    scaled,
    scout_agent,
)
from adw_tui.domain.steps import StepStatus
from adw_tui.domain.workflow import StepDef, substitute
from adw_tui.runtime.agent_call import open_attempt, stream_call
from adw_tui.runtime.agent_step import state_variables
from adw_tui.runtime.breakers import BreakerOpenError
from adw_tui.runtime.events import ScoutChanged, StepFinished
from adw_tui.runtime.issue_text import place_issue_file
from adw_tui.runtime.outcome import StepOutcome
from adw_tui.runtime.scout_guard import tree_state, undo_changes
from adw_tui.runtime.services import RunServices
from adw_tui.workflows.scout_answers import MalformedAnswer, check_answer, parse_answer
from adw_tui.workflows.templates import command_name, render_command

logger = logging.getLogger(__name__)

SCOUT_DIR = "scout"
RELEVANT_FILES = "relevant_files.json"
QUOTE_CHARS = 120
"""The start of a malformed answer its scout's report quotes (the whole is its transcript)."""


def relevant_files_path(output_dir: Path, adw_id: str) -> Path:
    """`agents/<adw_id>/scout/relevant_files.json`."""
    return output_dir / adw_id / SCOUT_DIR / RELEVANT_FILES


@dataclass(frozen=True)
class _Scout:
    index: int
    spec: ScoutSpec
    engine: Engine
    request: AgentRequest


@dataclass(frozen=True)
class _Ended:
    report: ScoutReport
    finding: ScoutFinding | None = None
    dropped: tuple[DroppedFile, ...] = ()
    cost_usd: float = 0.0


class ScoutStep:
    """Runs one visit of a scout step for one run."""

    def __init__(
        self,
        services: RunServices,
        adw_id: str,
        name: str,
        step: StepDef,
        *,
        visit: int,
        engine_env: dict[str, str],
    ) -> None:
        self._services = services
        self._adw_id = adw_id
        self._name = name
        self._step = step
        self._visit = visit
        self._engine_env = engine_env

    async def run(self, state: dict[str, Any]) -> StepOutcome:
        """The visit's outcome; each scout's attempt was closed as it ended."""
        step = self._step
        if not state.get("worktree_path"):
            return StepOutcome.failed(
                step,
                f"step {self._name}: scouts run in the run's worktree, and there is none yet: "
                "put the scout step after a `setup_worktree` step",
                error_class="invalid_workflow",
            )
        cwd = Path(state["worktree_path"])
        try:
            scouts = self._scouts(state, cwd)
        except KeyError as missing:
            return StepOutcome.failed(
                step,
                f"step {self._name} needs ${{{missing.args[0]}}}, which the run's state lacks",
                error_class="invalid_workflow",
            )
        except AdwError as error:
            return StepOutcome.failed(step, str(error), error_class="invalid_workflow")
        await place_issue_file(state, cwd, self._services.output_dir / self._adw_id)
        before = await tree_state(cwd)
        try:
            ended = await _together([self._scout(scout) for scout in scouts])
        finally:  # stopped half-way (a pause, a cancel) too: the worktree is put back
            changes = await undo_changes(cwd, before)
        if changes is not None:
            await self._record_changes(changes)
        path = self._write(state, ended, changes)
        return self._outcome(ended, path)

    def _scouts(self, state: dict[str, Any], cwd: Path) -> list[_Scout]:
        """Each scout's engine and request; an AdwError naming the scout when its engine
        is unknown or its template is missing, KeyError for a missing variable."""
        step, services = self._step, self._services
        settings = services.settings
        specs = step.scouts if step.scouts is not None else scaled(settings.scouts, step.scale or 0)
        values = state_variables(state)
        command = substitute(step.scout_command, values)
        args = [substitute(arg, values) for arg in step.args]
        scouts: list[_Scout] = []
        for index, spec in enumerate(specs, start=1):
            try:
                engine = services.engines(spec.engine, self._engine_env)
                prompt = render_command(command, args, cwd, agent_expands=engine.expands_commands)
            except AdwError as error:
                raise AdwError(
                    f"step {self._name}, scout {index} ({spec.label}): {error}"
                ) from None
            timeout = spec.timeout or step.timeout or settings.scout_timeout
            model = spec.model or model_for(
                command_name(command), str(state.get("model_set")), settings.model_set(spec.engine)
            )
            request = AgentRequest(
                prompt=prompt,
                adw_id=self._adw_id,
                agent_name=scout_agent(spec.engine, index),
                model=model,
                cwd=cwd,
                output_dir=services.output_dir,
                timeout_s=timeout,
                idle_timeout_s=min(timeout, settings.agent_idle_timeout),
            )
            scouts.append(_Scout(index, spec, engine, request))
        return scouts

    async def _scout(self, scout: _Scout) -> _Ended:
        """One scout, start to end; never raises for what the scout did."""
        request, engine = scout.request, scout.engine
        self._tell(scout, ScoutStatus.RUNNING)
        gate = self._services.breakers
        result: AgentResult | None = None
        try:
            await gate.wait_until_allowed(
                engine.name, adw_id=self._adw_id, step=self._name, wait=False
            )
        except BreakerOpenError as refused:
            result = refused.result()
        attempt_id = await open_attempt(
            self._services,
            self._adw_id,
            self._name,
            visit=self._visit,
            attempt=scout.index,
            request=request,
            engine=engine.name,
        )
        if result is None:
            try:
                result = await stream_call(
                    self._services, self._adw_id, self._name, engine, request, attempt_id
                )
            finally:
                await gate.record_result(engine.name, result, adw_id=self._adw_id)
        ended = self._judge(scout, result)
        status = (
            StepStatus.SUCCEEDED if ended.report.status is ScoutStatus.DONE else StepStatus.FAILED
        )
        error = None if status is StepStatus.SUCCEEDED else ended.report.detail
        self._tell(scout, ended.report.status, ended.report.detail)
        # Closed now, not with the state version: the scouts end one by one, and views
        # show each as it ends.
        await self._services.store.steps.finish(
            attempt_id,
            status,
            result=result,
            error=f"{ended.report.status}: {error}" if error else None,
        )
        return replace(ended, cost_usd=result.cost_usd)

    def _judge(self, scout: _Scout, result: AgentResult) -> _Ended:
        """How the scout ended, from its call's result and its answer."""
        agent = scout.request.agent_name

        def report(status: ScoutStatus, detail: str = "", files: int = 0) -> ScoutReport:
            # The detail quotes the agent (its error, its answer): it goes into the
            # aggregate, which the planner reads, so no secret may be in it.
            detail = process_redactor().text(detail)
            model = scout.request.model
            return ScoutReport(
                agent=agent,
                engine=scout.spec.engine,
                model=model,
                status=status,
                detail=detail,
                files=files,
            )

        if result.error_class is ErrorClass.TIMEOUT:
            waited = scout.request.timeout_s or 0.0
            return _Ended(report(ScoutStatus.TIMEOUT, f"no answer within {waited:g}s: stopped"))
        if result.error_class is ErrorClass.IDLE_TIMEOUT:
            quiet = scout.request.idle_timeout_s or 0.0
            return _Ended(report(ScoutStatus.TIMEOUT, f"silent for {quiet:g}s: stopped"))
        if not result.success:
            detail = f"{result.error_class}: {result.error_message}"
            return _Ended(report(ScoutStatus.FAILED, detail))
        try:
            answer = parse_answer(result.output)
        except MalformedAnswer as error:
            quoted = json.dumps(result.output.strip()[:QUOTE_CHARS], ensure_ascii=False)
            return _Ended(report(ScoutStatus.MALFORMED, f"{error}; it answered {quoted}"))
        checked = check_answer(agent, answer, scout.request.cwd)
        files = len(checked.finding.files)
        return _Ended(
            report(ScoutStatus.DONE, files=files), checked.finding, tuple(checked.dropped)
        )

    def _tell(self, scout: _Scout, status: ScoutStatus, detail: str = "") -> None:
        self._services.bus.publish(
            ScoutChanged(
                self._adw_id,
                self._name,
                scout.request.agent_name,
                scout.spec.engine,
                status,
                detail,
            )
        )

    async def _record_changes(self, changes: WorktreeChanges) -> None:
        """The scouts wrote to the worktree (undone now): say so in the log and the audit."""
        logger.warning(
            "run %s: the scouts of %s changed the worktree; undone: %s %s",
            self._adw_id,
            self._name,
            changes.diff_stat,
            changes.untracked,
        )
        await self._services.store.audit.record(
            actor="runtime",
            action="scout.worktree_reset",
            adw_id=self._adw_id,
            detail={"step": self._name, **changes.model_dump()},
        )

    def _write(
        self, state: dict[str, Any], ended: list[_Ended], changes: WorktreeChanges | None
    ) -> Path:
        """Write the aggregate (atomically) and return its path."""
        findings = [item.finding for item in ended if item.finding is not None]
        summary, recommendations = merge_findings(findings)
        gaps = [item.report.gap for item in ended if item.report.status is not ScoutStatus.DONE]
        aggregate = RelevantFiles(
            task=str(state.get("issue_title") or f"issue #{state.get('issue_number', '?')}"),
            timestamp=utc_now(),
            files=merge_files(findings),
            key_findings=KeyFindings(summary=summary, gaps=gaps, recommendations=recommendations),
            scouts=[item.report for item in ended],
            dropped=[dropped for item in ended for dropped in item.dropped],
            worktree_changes=changes,
        )
        path = relevant_files_path(self._services.output_dir, self._adw_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        scratch.write_text(aggregate.model_dump_json(indent=2) + "\n", encoding="utf-8")
        os.replace(scratch, path)
        return path

    def _outcome(self, ended: list[_Ended], path: Path) -> StepOutcome:
        step = self._step
        cost = sum(item.cost_usd for item in ended)
        answered = [item for item in ended if item.report.status is ScoutStatus.DONE]
        if answered:
            saves = {step.save: str(path)} if step.save else {}
            outcome = StepOutcome(StepStatus.SUCCEEDED, step.on_success, saves, attempts=len(ended))
        else:
            reasons = "; ".join(f"{item.report.agent}: {item.report.status}" for item in ended)
            outcome = StepOutcome(
                StepStatus.FAILED,
                step.on_failure,
                error=f"{self._name}: no scout answered ({reasons}); see {path}",
                error_class="bad_output",
                attempts=len(ended),
                request={"relevant_files": str(path)},
            )
        detail = f"{len(answered)}/{len(ended)} scouts answered"
        self._services.bus.publish(
            StepFinished(self._adw_id, self._name, outcome.status, cost, outcome.error or detail)
        )
        return outcome


async def _together(calls: list[Coroutine[Any, Any, _Ended]]) -> list[_Ended]:
    """Every call's result, run at once. Should one raise (the store failing, say), the
    others are stopped (their agents killed) before the error goes on: no scout outlives
    its step."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
