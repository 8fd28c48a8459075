"""What a run waits for, and since when, as the dashboard shows it: working, waiting for
a slot (its place in the queue), for memory, for slots other processes hold, for a
breaker or a rate limit, for a worker of the fleet, or paused; or its process went
silent.

The resource manager and the breakers say why a run of this process waits through the
runtime's events (`QueueChanged`, `RunWaiting`); `RunWaits` keeps the newest reason of
each run and when it began. A paused run says so by its status, since its last update;
of a run another process executes only the status is known.
"""

from dataclasses import dataclass, replace
from datetime import datetime

from adw_tui.domain.clock import Clock
from adw_tui.domain.fleet import WORKER_SILENT_AFTER
from adw_tui.domain.models import RunRecord, RunStatus
from adw_tui.runtime.events import (
    AgentActivity,
    QueueChanged,
    RunChanged,
    RuntimeEvent,
    RunWaiting,
    StepFinished,
    WaitKind,
)
from adw_tui.tui.formatting import format_elapsed

WAIT_LABELS = {WaitKind.BREAKER: "breaker", WaitKind.RATE_LIMIT: "rate limit"}


@dataclass(frozen=True)
class Wait:
    """One run's wait: what for (`kind`), a short label (the table's cell: the kind and,
    for a slot, the place in the queue), the whole reason (the pane's), since when, and
    whether it is a wait in the queue (which the queue's changes end)."""

    kind: str
    label: str
    reason: str
    since: datetime
    queued: bool


class RunWaits:
    """The waits of this process's runs, kept from the runtime's events."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._waits: dict[str, Wait] = {}

    def get(self, adw_id: str) -> Wait | None:
        return self._waits.get(adw_id)

    def handle(self, event: RuntimeEvent) -> set[str]:
        """Take `event` in; returns the runs whose wait changed (cheap for the agent lines
        that come by the thousand: a lookup)."""
        if isinstance(event, QueueChanged):
            return self._queue(event)
        if isinstance(event, RunWaiting):
            kind = WAIT_LABELS[event.kind]
            reason = f"{event.step}: {event.reason} (up to {event.wait_s:.0f}s)"
            return self._set(event.adw_id, Wait(kind, kind, reason, self._clock(), queued=False))
        if isinstance(event, AgentActivity | StepFinished | RunChanged):
            wait = self._waits.get(event.adw_id)
            ended = isinstance(event, RunChanged) and not event.status.is_active
            if wait is not None and (ended or not wait.queued):
                del self._waits[event.adw_id]
                return {event.adw_id}
        return set()

    def cell(self, run: RunRecord, now: datetime) -> str:
        """What the runs table says the run is doing: `working`, `slot #2 · 0:41`,
        `paused · 3:02`, `worker · 0:05` (queued for the fleet), `owner silent · 0:40`
        (its process stopped heartbeating: a worker will take it over), ..., nothing for
        a run that has ended."""
        wait = self._waits.get(run.adw_id)
        if wait is not None:
            return f"{wait.label} · {format_elapsed(now - wait.since)}"
        if run.status is RunStatus.PAUSED:
            return f"paused · {format_elapsed(now - run.updated_at)}"
        fleet_waits = run.fleet is not None and run.status is RunStatus.INTERRUPTED
        if run.status is RunStatus.QUEUED or fleet_waits:
            label = "worker" if run.fleet is not None else "slot"
            return f"{label} · {format_elapsed(now - run.updated_at)}"
        if run.status is not RunStatus.RUNNING:
            return ""
        beat = run.heartbeat_at
        if beat is not None and now - beat > WORKER_SILENT_AFTER:
            return f"owner silent · {format_elapsed(now - beat)}"
        return "working"

    def _queue(self, event: QueueChanged) -> set[str]:
        changed = {
            adw_id
            for adw_id, wait in self._waits.items()
            if wait.queued and adw_id not in event.queued
        }
        for adw_id in changed:
            del self._waits[adw_id]
        memory, elsewhere = set(event.waiting_for_memory), set(event.held_elsewhere)
        budget = set(event.waiting_for_budget)
        now = self._clock()
        for position, adw_id in enumerate(event.queued, start=1):
            if adw_id in memory:
                reason = "system memory is over the limit"
                wait = Wait("memory", "memory", reason, now, queued=True)
            elif adw_id in budget:
                reason = "today's spend has reached the daily budget (ADW_DAILY_BUDGET_USD)"
                wait = Wait("budget", "budget", reason, now, queued=True)
            elif adw_id in elsewhere:
                reason = "other processes on the database hold every slot"
                wait = Wait("other processes", "other processes", reason, now, queued=True)
            else:
                reason = f"a slot: #{position} in the queue"
                wait = Wait("slot", f"slot #{position}", reason, now, queued=True)
            changed |= self._set(adw_id, wait)
        return changed

    def _set(self, adw_id: str, wait: Wait) -> set[str]:
        """Record the wait; one of the same kind keeps its start (a run moving up the
        queue has waited for a slot since it was queued)."""
        before = self._waits.get(adw_id)
        if before is not None and before.kind == wait.kind:
            if before.label == wait.label:
                return set()
            wait = replace(wait, since=before.since)
        self._waits[adw_id] = wait
        return {adw_id}
