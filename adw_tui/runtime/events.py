"""What the runtime tells live views, and the bus that fans it out.

Views (the CLI's progress line, the dashboard) subscribe; the runtime never waits for
them. A subscriber that falls behind loses the oldest agent activity first, never a
status change.
"""

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from adw_tui.domain.agent import AgentEvent
from adw_tui.domain.models import RunStatus
from adw_tui.domain.redaction import Redactor
from adw_tui.domain.scouts import ScoutStatus
from adw_tui.domain.steps import StepStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunChanged:
    adw_id: str
    status: RunStatus
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StepStarted:
    adw_id: str
    step: str
    agent: str | None
    attempt: int


@dataclass(frozen=True, slots=True)
class StepFinished:
    adw_id: str
    step: str
    status: StepStatus
    cost_usd: float = 0.0
    detail: str = ""


class WaitKind(StrEnum):
    """What holds a run's step back."""

    BREAKER = "breaker"
    RATE_LIMIT = "rate_limit"


@dataclass(frozen=True, slots=True)
class RunWaiting:
    """A run's step is held back (by an open circuit breaker, or a spent rate limit) for
    `wait_s` seconds; it goes on when its step's agent (or call) starts."""

    adw_id: str
    step: str
    reason: str
    wait_s: float
    kind: WaitKind = WaitKind.BREAKER


@dataclass(frozen=True, slots=True)
class AgentActivity:
    adw_id: str
    step: str
    event: AgentEvent
    agent: str | None = None
    """The agent that did it: tells the parallel scouts of one step apart."""


@dataclass(frozen=True, slots=True)
class ScoutChanged:
    """A scout of a scout step started (`running`) or ended (`done`, or skipped and why)."""

    adw_id: str
    step: str
    agent: str
    engine: str
    status: ScoutStatus
    detail: str = ""


@dataclass(frozen=True, slots=True)
class QueueChanged:
    queued: tuple[str, ...]
    running: tuple[str, ...]
    slots_total: int
    # Queued runs a free slot of this process awaits, held back because other processes
    # on the database hold every slot of the limit.
    held_elsewhere: tuple[str, ...] = ()
    # The same, held back because system memory is over the limit.
    waiting_for_memory: tuple[str, ...] = ()
    # The same, held back because the day's spend has reached the daily budget.
    waiting_for_budget: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrackerFailed:
    """A best-effort call about a run's issue (a status comment, a label) failed; the run
    goes on."""

    adw_id: str
    action: str
    message: str


RuntimeEvent = (
    RunChanged
    | StepStarted
    | StepFinished
    | RunWaiting
    | AgentActivity
    | ScoutChanged
    | QueueChanged
    | TrackerFailed
)


def redact_event(event: RuntimeEvent, redactor: Redactor) -> RuntimeEvent:
    """`event` with secrets removed from its text: an agent's output, error details."""
    if isinstance(event, AgentActivity):
        inner = event.event
        clean = inner._replace(
            text=redactor.text(inner.text), detail=redactor.value(dict(inner.detail))
        )
        return replace(event, event=clean)
    values: dict[str, Any] = {f.name: getattr(event, f.name) for f in fields(event)}
    for name, value in values.items():
        if type(value) is str:  # not the StrEnum statuses
            values[name] = redactor.text(value)
    return type(event)(**values)


@dataclass
class _Subscriber:
    limit: int
    events: deque[RuntimeEvent] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0

    def push(self, event: RuntimeEvent) -> None:
        if len(self.events) >= self.limit:
            self._drop_one_activity()
        self.events.append(event)
        self.ready.set()

    def _drop_one_activity(self) -> None:
        for index, queued in enumerate(self.events):
            if isinstance(queued, AgentActivity):
                del self.events[index]
                self.dropped += 1
                return


class EventBus:
    """Fan-out of runtime events to any number of subscribers, never blocking the sender."""

    def __init__(self, subscriber_limit: int = 10_000, redactor: Redactor | None = None) -> None:
        self._limit = subscriber_limit
        self._redactor = redactor or Redactor()
        self._subscribers: list[_Subscriber] = []
        self.listeners: list[Callable[[RuntimeEvent], None]] = []
        """Called with each event as it is published; they must not block (start a task)."""

    def publish(self, event: RuntimeEvent) -> None:
        """Send `event`, its text redacted, to every subscriber and listener."""
        event = redact_event(event, self._redactor)
        for subscriber in self._subscribers:
            subscriber.push(event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                # A listener only observes (logs, notifications, a worker's wake-up): its
                # failure is logged, never raised into the run that published.
                logger.exception("event listener %r failed on %s", listener, type(event).__name__)

    async def subscribe(self) -> AsyncIterator[RuntimeEvent]:
        """Events from now on, until the consumer stops iterating."""
        subscriber = _Subscriber(self._limit)
        self._subscribers.append(subscriber)
        try:
            while True:
                await subscriber.ready.wait()
                while subscriber.events:
                    yield subscriber.events.popleft()
                subscriber.ready.clear()
        finally:
            self._subscribers.remove(subscriber)
