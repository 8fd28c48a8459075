"""The gate every call to an engine (and a tracker) passes: its circuit breaker.

Before the call, `wait_until_allowed` asks the service's breaker (kept in the store, so
shared by every process). While it is open, the step waits until the cool-down has
passed, sleeping on the injectable `sleep` and telling live views why (`RunWaiting`),
then probes; with `breaker_open_action = "dead_letter"` it is refused at once instead
(`BreakerOpenError`, error class `breaker_open`, never retried). Never a hot loop: every
wait lasts until the breaker can change, at most one cool-down.

After the call, `record` tells the breaker how it went: a success, a transient failure,
or neither (a permanent failure such as `auth`, or an interrupted call; see
`adw_tui.domain.breakers`).
"""

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from adw_tui.domain.agent import AgentResult, ErrorClass
from adw_tui.domain.breakers import (
    Breaker,
    BreakerOpenAction,
    BreakerPolicy,
    BreakerState,
    Outcome,
)
from adw_tui.domain.clock import Clock
from adw_tui.domain.errors import AdwError, TrackerError
from adw_tui.runtime.events import EventBus, RunWaiting
from adw_tui.runtime.retry import Sleep
from adw_tui.store import Store

T = TypeVar("T")

MIN_WAIT_S = 0.1
"""The shortest wait, should a breaker read as refusing be due already (clock skew)."""
ACTOR = "breaker"
"""The audit actor of the state changes calls cause (the run is the entry's adw_id)."""


class BreakerOpenError(AdwError):
    """The breaker refused the call and the settings say not to wait for it."""

    def __init__(self, breaker: Breaker, policy: BreakerPolicy) -> None:
        super().__init__(
            f"{breaker.refusal(policy)}; `adw breakers reset {breaker.name}` closes it"
        )
        self.breaker = breaker

    def result(self) -> AgentResult:
        """The refusal as the failed result of an agent call that was never made."""
        return AgentResult(
            success=False, error_class=ErrorClass.BREAKER_OPEN, error_message=str(self)
        )


def outcome_of(result: AgentResult | None) -> Outcome:
    """What an agent call's result tells its engine's breaker; None: it was interrupted."""
    if result is None:
        return Outcome.NEUTRAL
    if result.success:
        return Outcome.SUCCESS
    return Outcome.FAILURE if result.transient else Outcome.NEUTRAL


def transient_exception(error: BaseException) -> bool:
    """Whether a tracker call's exception says its service may be down: a transient
    TrackerError, or anything but the errors adw reports itself (an unknown issue, a bad
    request) and cancellation."""
    if isinstance(error, TrackerError):
        return error.transient
    return isinstance(error, Exception) and not isinstance(error, AdwError)


class BreakerGate:
    """The breakers as one process's calls see them: `services.breakers` in a run."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        policy: BreakerPolicy,
        *,
        action: BreakerOpenAction,
        sleep: Sleep,
        clock: Clock,
    ) -> None:
        self._breakers = store.breakers
        self._bus = bus
        self._policy = policy
        self._action = action
        self._sleep = sleep
        self._clock = clock

    async def wait_until_allowed(
        self, name: str, *, adw_id: str, step: str, wait: bool = True
    ) -> None:
        """Return once breaker `name` lets this call through (closed, or as its probe);
        raise BreakerOpenError instead of waiting when the action is "dead_letter" or the
        caller does not `wait`."""
        # The end of the last wait: once slept through, the cool-down counts as over
        # even if the wall clock lags the loop's monotonic one (or the sleep is a fake).
        woke_at: datetime | None = None
        while True:
            now = self._clock() if woke_at is None else max(self._clock(), woke_at)
            breaker = await self._breakers.get(name)  # the reader: no write lock
            if breaker.state is BreakerState.CLOSED:
                return
            if breaker.allows(now, self._policy):
                allowed, breaker = await self._breakers.try_probe(
                    name, now=now, policy=self._policy, actor=ACTOR, adw_id=adw_id
                )
                if allowed:
                    return
            if self._action == "dead_letter" or not wait:
                raise BreakerOpenError(breaker, self._policy)
            wait_s = self._wait_s(breaker, now)
            self._bus.publish(RunWaiting(adw_id, step, breaker.refusal(self._policy), wait_s))
            await self._sleep(wait_s)
            woke_at = now + timedelta(seconds=wait_s)

    async def record(
        self, name: str, outcome: Outcome, *, adw_id: str, error: str | None = None
    ) -> Breaker:
        """Tell breaker `name` a call's outcome (`error`: a failure's message)."""
        return await self._breakers.record(
            name,
            outcome,
            now=self._clock(),
            policy=self._policy,
            actor=ACTOR,
            error=error,
            adw_id=adw_id,
        )

    async def record_result(self, name: str, result: AgentResult | None, *, adw_id: str) -> None:
        """Tell the engine's breaker how an agent call ended (None: it was interrupted)."""
        error = None
        if result is not None and not result.success:
            error = f"{result.error_class}: {result.error_message}"
        await self.record(name, outcome_of(result), adw_id=adw_id, error=error)

    async def call(
        self,
        name: str,
        call: Callable[[], Awaitable[T]],
        *,
        adw_id: str,
        step: str,
        transient: Callable[[BaseException], bool] = transient_exception,
        wait: bool = True,
    ) -> T:
        """`await call()` behind breaker `name`, for services whose failures are
        exceptions (trackers): a `transient` exception counts as a failure and is raised
        on; a return is a success. `wait=False` is for best-effort calls: an open breaker
        refuses them at once (BreakerOpenError) instead of holding the caller."""
        await self.wait_until_allowed(name, adw_id=adw_id, step=step, wait=wait)
        try:
            value = await call()
        except BaseException as raised:
            if transient(raised):
                error = f"{type(raised).__name__}: {raised}"
                await self.record(name, Outcome.FAILURE, adw_id=adw_id, error=error)
            else:
                await self.record(name, Outcome.NEUTRAL, adw_id=adw_id)
            raise
        await self.record(name, Outcome.SUCCESS, adw_id=adw_id)
        return value

    def _wait_s(self, breaker: Breaker, now: datetime) -> float:
        """Until the breaker can let a call through, but at most one cool-down (a probe in
        flight may settle it sooner); never zero, so the wait loop cannot spin."""
        until = breaker.blocked_until(self._policy)
        remaining = (until - now).total_seconds() if until is not None else 0.0
        return min(max(remaining, MIN_WAIT_S), self._policy.cooldown_s)
