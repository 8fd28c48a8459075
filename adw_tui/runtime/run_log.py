"""A structured log line for each thing a run does, from the runtime's events: runs
queued, running and ended, steps started and finished, scouts started and ended, waits,
agent retries and errors, failed tracker calls; at DEBUG, every agent event too.

Each line carries what is known of the run where it happened: `adw_id`, `workflow`,
`step`, `attempt`, `agent` and the agent's `session_id` (from its init event), so that
`adw logs ADW_ID` and a log collector can follow one run. The lines go through the
standard library's logging, the fields as the record's extras: structlog's chain renders
them where the command configured it (`adw_tui.observability.logs`), and a process that
configured nothing loses nothing it had.
"""

import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from adw_tui.domain.agent import AgentEventKind
from adw_tui.domain.scouts import ScoutStatus
from adw_tui.runtime.events import (
    AgentActivity,
    QueueChanged,
    RunChanged,
    RuntimeEvent,
    RunWaiting,
    ScoutChanged,
    StepFinished,
    StepStarted,
    TrackerFailed,
)

logger = logging.getLogger("adw_tui.runs")

RUN_CONTEXT: ContextVar[Mapping[str, str]] = ContextVar(
    "adw_run_context", default=MappingProxyType({})
)
"""The run a task works for (`adw_id`, `workflow`): set by the run's task, so that every
log line written inside it, the standard library's included, names the run (the log
configuration adds it to each line). A plain context variable, not structlog's: the
runtime does not import the logging pipeline, which a process may never configure."""


def bind_run(adw_id: str, workflow: str) -> None:
    """Name the run in the current task's log lines (a task has a copy of the context it
    was made in, so the binding stays in it)."""
    RUN_CONTEXT.set(MappingProxyType({"adw_id": adw_id, "workflow": workflow}))


_AGENT_WARNINGS = frozenset({AgentEventKind.RETRY, AgentEventKind.RATE_LIMIT, AgentEventKind.ERROR})
"""What an agent meets on the way (its failed result is the step's failure line)."""
_QUIET_STEP_ENDS = frozenset({"succeeded", "skipped"})


class RunLog:
    """The bus listener writing the lines; `workflow_of(adw_id)` names a run's workflow
    (None when this process does not run it)."""

    def __init__(self, workflow_of: Callable[[str], str | None]) -> None:
        self._workflow_of = workflow_of
        self._context: dict[str, dict[str, Any]] = {}

    def __call__(self, event: RuntimeEvent) -> None:
        if isinstance(event, QueueChanged):
            return
        if isinstance(event, AgentActivity):
            self._agent(event)
            return
        if isinstance(event, TrackerFailed):
            self._log(
                logging.WARNING,
                event.adw_id,
                "tracker.failed",
                action=event.action,
                error=event.message,
            )
        elif isinstance(event, RunChanged):
            self._run(event)
        elif isinstance(event, StepStarted):
            self._context[event.adw_id] = {
                **self._run_context(event.adw_id),
                "step": event.step,
                "attempt": event.attempt,
                "agent": event.agent,
            }
            self._log(logging.INFO, event.adw_id, "step.started")
        elif isinstance(event, StepFinished):
            level = logging.INFO if event.status in _QUIET_STEP_ENDS else logging.WARNING
            self._log(
                level,
                event.adw_id,
                f"step.{event.status}",
                cost_usd=event.cost_usd,
                **({"detail": event.detail} if event.detail else {}),
            )
        elif isinstance(event, ScoutChanged):
            ended_well = event.status in (ScoutStatus.RUNNING, ScoutStatus.DONE)
            self._log(
                logging.INFO if ended_well else logging.WARNING,
                event.adw_id,
                "scout.running" if event.status is ScoutStatus.RUNNING else "scout.ended",
                step=event.step,
                scout=event.agent,
                engine=event.engine,
                status=str(event.status),
                **({"detail": event.detail} if event.detail else {}),
            )
        elif isinstance(event, RunWaiting):
            self._log(
                logging.INFO,
                event.adw_id,
                "run.waiting",
                waits_for=str(event.kind),
                reason=event.reason,
                wait_s=event.wait_s,
            )

    def _run(self, event: RunChanged) -> None:
        ended = event.status.is_final
        fields = {"detail": event.detail} if event.detail else {}
        level = logging.WARNING if event.status in {"failed", "dead_lettered"} else logging.INFO
        self._log(level, event.adw_id, f"run.{event.status}", **fields)
        if ended:
            self._context.pop(event.adw_id, None)

    def _agent(self, activity: AgentActivity) -> None:
        event = activity.event
        if event.kind is AgentEventKind.INIT and event.detail.get("session_id"):
            context = self._context.setdefault(activity.adw_id, self._run_context(activity.adw_id))
            context["session_id"] = event.detail["session_id"]
        if event.kind in _AGENT_WARNINGS:
            self._log(logging.WARNING, activity.adw_id, f"agent.{event.kind}", text=event.text)
        elif logger.isEnabledFor(logging.DEBUG):
            self._log(
                logging.DEBUG,
                activity.adw_id,
                f"agent.{event.kind}",
                text=event.text,
                tool=event.tool_name,
            )

    def _run_context(self, adw_id: str) -> dict[str, Any]:
        workflow = self._workflow_of(adw_id)
        return {"adw_id": adw_id, **({"workflow": workflow} if workflow else {})}

    def _log(self, level: int, adw_id: str, event: str, **fields: Any) -> None:
        """One line: `event`, with the run's context and `fields` as its extras."""
        if logger.isEnabledFor(level):
            context = self._context.get(adw_id) or self._run_context(adw_id)
            logger.log(level, event, extra={**context, **fields})
