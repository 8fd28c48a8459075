"""A command step: render its prompt, call the agent (with retries), check its output."""

import asyncio
import json
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

from adw_tui.agents.engine import Engine
from adw_tui.domain.agent import AgentRequest, AgentResult, ErrorClass
from adw_tui.domain.errors import AdwError
from adw_tui.domain.experiments import STEP_MODELS
from adw_tui.domain.model_sets import model_for
from adw_tui.domain.steps import StepStatus
from adw_tui.domain.workflow import StepDef, substitute
from adw_tui.runtime.agent_call import open_attempt, stream_call
from adw_tui.runtime.breakers import BreakerOpenError
from adw_tui.runtime.events import StepFinished
from adw_tui.runtime.issue_text import place_issue_file
from adw_tui.runtime.outcome import StepOutcome
from adw_tui.runtime.retry import call_with_retry
from adw_tui.runtime.services import RunServices
from adw_tui.store.steps import AttemptEnd
from adw_tui.workflows.outputs import check_output
from adw_tui.workflows.templates import command_sections, render_command

# The end of an agent's stderr a dead letter keeps.
STDERR_KEPT = 4000


class AgentStep:
    """Runs one visit of a command step for one run."""

    def __init__(
        self,
        services: RunServices,
        adw_id: str,
        name: str,
        step: StepDef,
        *,
        visit: int,
        engine: str,
        engine_env: dict[str, str],
        resume_session: str | None = None,
    ) -> None:
        """`resume_session`: the session of this step's attempt a pause stopped; the
        visit's first call goes on with it when the engine can resume sessions (a retry
        after that starts afresh, should the session be lost)."""
        self._services = services
        self._adw_id = adw_id
        self._name = name
        self._step = step
        self._visit = visit
        self._engine_name = step.engine or engine
        self._engine_env = engine_env
        self._resume_session = resume_session
        self._open_attempt: AttemptEnd | None = None

    async def run(self, state: dict[str, Any]) -> StepOutcome:
        """The visit's outcome; its last attempt stays open (`pending`) for the executor
        to close together with the state version the visit produces."""
        outcome = await self._outcome(state)
        pending = (self._open_attempt,) if self._open_attempt else ()
        return replace(outcome, pending=pending)

    async def _outcome(self, state: dict[str, Any]) -> StepOutcome:
        step = self._step
        assert step.command is not None
        assert step.agent is not None
        cwd = Path(state["worktree_path"]) if state.get("worktree_path") else self._services.repo
        try:
            values = state_variables(state)
            command = substitute(step.command, values)
            args = [substitute(arg, values) for arg in step.args]
            prompt = render_command(command, args, cwd, agent_expands=self._engine.expands_commands)
            sections = command_sections(command, cwd)
        except KeyError as missing:
            return StepOutcome.failed(
                step,
                f"step {self._name} needs ${{{missing.args[0]}}}, which the run's state lacks",
                error_class="invalid_workflow",
            )
        except AdwError as error:
            return StepOutcome.failed(step, str(error), error_class="bad_template")
        services = self._services
        await place_issue_file(state, cwd, services.output_dir / self._adw_id)
        settings = services.settings
        request = AgentRequest(
            prompt=prompt,
            adw_id=self._adw_id,
            agent_name=step.agent,
            model=_overridden_model(state, self._name)
            or step.model
            or model_for(
                command.lstrip("/"),
                str(state.get("model_set")),
                settings.model_set(self._engine_name),
            ),
            cwd=cwd,
            output_dir=self._services.output_dir,
            timeout_s=step.timeout or settings.agent_timeout,
            idle_timeout_s=settings.agent_idle_timeout,
        )
        result, attempts = await self._call_with_retries(request)
        # What a dead letter keeps to replay the call, and to say how it ended.
        replay = {
            "prompt": prompt,
            "engine": self._engine_name,
            "model": request.model,
            "cwd": str(cwd),
            "session_id": result.session_id,
            "exit_code": result.exit_code,
            "stderr_tail": result.stderr_tail[-STDERR_KEPT:],
        }
        if not result.success:
            return StepOutcome.failed(
                step,
                result.error_message,
                error_class=str(result.error_class),
                attempts=attempts,
                request=replay,
            )
        outcome = self._judge(result, cwd, sections, attempts, replay)
        self._close_judged(outcome, result)
        return outcome

    def _close_judged(self, outcome: StepOutcome, result: AgentResult) -> None:
        """The agent's call succeeded: its attempt ends as the output check judged it (a
        rejected or malformed answer with the reason), and only now is it announced."""
        assert self._open_attempt is not None
        self._open_attempt = replace(self._open_attempt, status=outcome.status, error=outcome.error)
        self._services.bus.publish(
            StepFinished(
                self._adw_id, self._name, outcome.status, result.cost_usd, outcome.error or ""
            )
        )

    def _judge(
        self,
        result: AgentResult,
        cwd: Path,
        sections: tuple[str, ...],
        attempts: int,
        replay: dict[str, Any],
    ) -> StepOutcome:
        step = self._step
        try:
            checked = check_output(step.output, result.output, cwd, sections)
        except AdwError as error:
            return StepOutcome.failed(
                step, str(error), error_class="bad_output", attempts=attempts, request=replay
            )
        saves = {step.save: checked.value} if step.save else {}
        if checked.passed:
            return StepOutcome(StepStatus.SUCCEEDED, step.on_success, saves, attempts=attempts)
        return StepOutcome(
            StepStatus.REJECTED,
            step.on_reject or step.on_failure,
            saves,
            error=f"{self._name}: {checked.summary}",
            error_class="rejected",
            attempts=attempts,
            request=replay,
        )

    @cached_property
    def _engine(self) -> Engine:
        """This visit's engine: made once, used for the prompt and for every attempt."""
        return self._services.engines(self._engine_name, self._engine_env)

    async def _call_with_retries(self, request: AgentRequest) -> tuple[AgentResult, int]:
        """The step's retry policy (its `retry`/`max_retries` over the settings' defaults)
        applied to the agent call; every attempt is recorded by `_call`."""
        policy = self._step.retry_policy(self._services.settings.retry_policy())
        return await call_with_retry(
            lambda attempt: self._call(request, attempt), policy, sleep=self._services.sleep
        )

    async def _call(self, request: AgentRequest, attempt: int) -> AgentResult:
        """One attempt behind the engine's circuit breaker: wait for it (or be refused,
        which is recorded as a failed attempt), call the agent, and tell the breaker how
        the call went."""
        engine = self._engine
        if attempt == 1 and self._resume_session and engine.resumes_sessions:
            request = request.model_copy(update={"resume_session_id": self._resume_session})
        gate = self._services.breakers
        try:
            await gate.wait_until_allowed(engine.name, adw_id=self._adw_id, step=self._name)
        except BreakerOpenError as refused:
            refusal = refused.result()
            attempt_id = await self._start_attempt(request, attempt, engine.name)
            await self._finish_attempt(attempt_id, refusal)
            return refusal
        result: AgentResult | None = None
        try:
            result = await self._run_engine(engine, request, attempt)
        finally:
            await gate.record_result(engine.name, result, adw_id=self._adw_id)
        return result

    async def _run_engine(self, engine: Engine, request: AgentRequest, attempt: int) -> AgentResult:
        attempt_id = await self._start_attempt(request, attempt, engine.name)
        result = AgentResult(
            success=False, error_class=ErrorClass.NO_RESULT, error_message="no result"
        )
        try:
            result = await stream_call(
                self._services, self._adw_id, self._name, engine, request, attempt_id
            )
        finally:
            await self._finish_attempt(attempt_id, result)
        return result

    async def _start_attempt(self, request: AgentRequest, attempt: int, engine: str) -> int:
        """Open the attempt's timeline entry; returns its id."""
        await self._close_retried_attempt()
        return await open_attempt(
            self._services,
            self._adw_id,
            self._name,
            visit=self._visit,
            attempt=attempt,
            request=request,
            engine=engine,
        )

    async def _finish_attempt(self, attempt_id: int, result: AgentResult) -> None:
        """Keep the attempt open until we know whether it is the visit's last: a retried
        attempt is closed on its own when the next one starts, the last one with the
        state version (see `run`)."""
        status = StepStatus.SUCCEEDED if result.success else StepStatus.FAILED
        error = None if result.success else f"{result.error_class}: {result.error_message}"
        self._open_attempt = AttemptEnd(attempt_id, status, result, error)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            return  # stopped (a pause, a cancel, a shutdown): the run's change says so
        if not result.success:  # a successful call is announced once its output is judged
            self._services.bus.publish(
                StepFinished(self._adw_id, self._name, status, result.cost_usd, error or "")
            )

    async def _close_retried_attempt(self) -> None:
        if self._open_attempt is not None:
            end, self._open_attempt = self._open_attempt, None
            await self._services.store.steps.finish(
                end.attempt_id, end.status, result=end.result, error=end.error
            )


def state_variables(state: dict[str, Any]) -> dict[str, str]:
    """State values as prompt text (strings as they are, the rest as JSON); absent and
    null values are left out, so a template that needs one fails with its name."""
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in state.items()
        if value is not None
    }


def _overridden_model(state: dict[str, Any], step: str) -> str | None:
    """The model an experiment's variant gives `step` (the run's `step_models`), which
    wins over the workflow's own."""
    models = state.get(STEP_MODELS)
    model = models.get(step) if isinstance(models, dict) else None
    return model if isinstance(model, str) and model else None
