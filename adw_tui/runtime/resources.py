"""Admission of runs: a visible FIFO queue for a fixed number of slots, gated on system
memory, plus rate limits per external service; slots and rate limits count every process
on the database (`adw_tui.store.leases`), so `max_concurrent` holds for the repository,
not for each `adw` process.

One dispatcher task per manager admits the head of the queue when this process runs
fewer than `max_concurrent`, system memory is below the limit, the day's spend is below
the daily budget (when there is one) *and* a slot lease can be taken in the database
(fewer than `max_concurrent` held by all processes). The queue is
strictly FIFO within the process: while memory or other processes hold the head back, no
later run overtakes it, and the dispatcher re-checks every `memory_poll_s` or
`claim_poll_s`. Across processes there is no order: whichever asks first after a slot is
freed gets it.
"""

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import ConfigDict, Field

from adw_tui.domain.modeling import Model
from adw_tui.runtime.memory import system_memory_percent
from adw_tui.store.leases import Holder, LeaseKind, Leases

logger = logging.getLogger(__name__)

MemoryProbe = Callable[[], float]
BUDGET_POLL_S = 5.0
"""How often a queue held by the daily budget looks at the budget and the spend again
(the day may have turned, or an operator raised it with `adw budget`)."""


@dataclass(frozen=True)
class DailyBudget:
    """US dollars every run may spend in a UTC day (read at each check: it may be raised
    meanwhile; None for no limit), and how much has been (the store's `spent_since` the
    day's start)."""

    limit_usd: Callable[[], Awaitable[float | None]]
    spent_today: Callable[[], Awaitable[float]]

    async def exhausted(self) -> bool:
        limit = await self.limit_usd()
        return limit is not None and await self.spent_today() >= limit


class ResourceSnapshot(Model):
    """Who runs and who waits, in order: what a view shows as the queue."""

    model_config = ConfigDict(frozen=True)

    slots_total: int
    # May exceed slots_total for a while after set_max_concurrent shrinks the limit.
    slots_used: int
    running: list[str]
    # Every waiting run, in order: a run's queue position is its index + 1.
    queued: list[str]
    # The runs at the head of `queued` that a free slot awaits but memory holds back.
    waiting_for_memory: list[str]
    # The same, when it is other processes on the database that hold every slot.
    waiting_for_other_processes: list[str] = Field(default_factory=list)
    # The same, when the day's spend has reached the daily budget.
    waiting_for_budget: list[str] = Field(default_factory=list)
    # How often a call of this process waited for a service's rate limit, by service.
    rate_limit_waits: dict[str, int] = Field(default_factory=dict)
    # System memory at the last check (each attempted grant, each poll while held back);
    # None before the first.
    memory_percent: float | None


ChangeListener = Callable[[ResourceSnapshot], None]


@dataclass(eq=False)
class _Waiter:
    adw_id: str
    granted: asyncio.Future[None]


class _HeldBack(StrEnum):
    """Why the head of the queue waits although this process has a free slot."""

    MEMORY = "memory"
    ELSEWHERE = "elsewhere"
    BUDGET = "budget"


class ResourceManager:
    """Slots, the memory gate and rate limits shared by every run of one orchestrator, and
    through `leases` with every other process on the same database.

    Listeners in `on_change` receive a fresh snapshot after every change of the queue, the
    running set, the slot count or the reason the head waits; they are called
    synchronously and must not block (publish an event and return). A listener that raises
    is logged and skipped, so it can never keep a slot from being released.
    """

    def __init__(
        self,
        leases: Leases,
        *,
        max_concurrent: int = 15,
        memory_limit_percent: float = 90.0,
        memory_poll_s: float = 1.0,
        claim_poll_s: float = 0.25,
        rate_limits: Mapping[str, tuple[float, float]] | None = None,
        memory_probe: MemoryProbe = system_memory_percent,
        holder: Holder | None = None,
        daily_budget: DailyBudget | None = None,
    ) -> None:
        """`rate_limits` maps a service name to (max_rate, time_period_s): up to max_rate
        calls per period by all processes together (a sliding window in the database)."""
        _check_slots(max_concurrent)
        self._leases = leases
        self._holder = holder or Holder.this_process()
        self._max = max_concurrent
        self._memory_limit = memory_limit_percent
        self._memory_poll_s = memory_poll_s
        self._claim_poll_s = claim_poll_s
        self._memory_probe = memory_probe
        self._rate_limits = dict(rate_limits or {})
        self._daily_budget = daily_budget
        self._rate_limit_waits: dict[str, int] = {}
        self._running: list[str] = []
        self._waiters: deque[_Waiter] = deque()
        self._memory_percent: float | None = None
        self._held_back: _HeldBack | None = None
        self._wakeup = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self.on_change: list[ChangeListener] = []

    @property
    def max_concurrent(self) -> int:
        return self._max

    @contextlib.asynccontextmanager
    async def slot(self, adw_id: str) -> AsyncIterator[None]:
        """Wait for a slot (FIFO, and only while memory is below the limit), hold it for
        the body, release it on the way out, however the body ends."""
        await self._acquire(adw_id)
        try:
            yield
        finally:
            await asyncio.shield(self._release(adw_id))

    @contextlib.asynccontextmanager
    async def rate_limit(
        self, service: str, *, on_wait: Callable[[float], None] | None = None
    ) -> AsyncIterator[None]:
        """`async with manager.rate_limit("claude"):` waits until the service's window has
        room for one more call; services without a configured limit are unlimited.
        `on_wait(wait_s)` is told before each wait (so a view can say why a run waits)."""
        limit = self._rate_limits.get(service)
        while limit is not None:
            wait_s = await self._leases.admit_call(service, *limit)
            if not wait_s:
                break
            self._rate_limit_waits[service] = self._rate_limit_waits.get(service, 0) + 1
            if on_wait is not None:
                on_wait(wait_s)
            await asyncio.sleep(wait_s)
        yield

    def set_max_concurrent(self, slots: int) -> None:
        """Change the slot count now. Growing starts waiting runs at once; shrinking stops
        nothing that runs, it only starts no run until fewer than `slots` are running."""
        _check_slots(slots)
        self._max = slots
        self._wakeup.set()
        self._notify()

    def queue_position(self, adw_id: str) -> int | None:
        """1-based position among waiting runs; None when running or unknown."""
        return next(
            (
                position
                for position, waiter in enumerate(self._waiters, start=1)
                if waiter.adw_id == adw_id
            ),
            None,
        )

    def snapshot(self) -> ResourceSnapshot:
        queued = [waiter.adw_id for waiter in self._waiters]
        held_back = queued[: max(self._max - len(self._running), 0)]
        return ResourceSnapshot(
            slots_total=self._max,
            slots_used=len(self._running),
            running=list(self._running),
            queued=queued,
            waiting_for_memory=held_back if self._held_back == _HeldBack.MEMORY else [],
            waiting_for_other_processes=(
                held_back if self._held_back == _HeldBack.ELSEWHERE else []
            ),
            waiting_for_budget=held_back if self._held_back == _HeldBack.BUDGET else [],
            rate_limit_waits=dict(self._rate_limit_waits),
            memory_percent=self._memory_percent,
        )

    async def _acquire(self, adw_id: str) -> None:
        waiter = _Waiter(adw_id, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        self._notify()
        self._wakeup.set()
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="adw-admission")
        try:
            await asyncio.shield(waiter.granted)
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                # Granted between the cancel and this task resuming: give the slot back.
                await asyncio.shield(self._release(adw_id))
            else:
                waiter.granted.cancel()
                self._forget(waiter)
            raise

    async def _release(self, adw_id: str) -> None:
        # The lease goes first, so the dispatcher woken below finds the slot free.
        try:
            await self._leases.release(LeaseKind.SLOT, adw_id, self._holder)
        finally:
            self._running.remove(adw_id)
            self._wakeup.set()
            self._notify()

    async def _dispatch(self) -> None:
        """Admit waiting runs while any wait; ends when the queue is empty (the next
        waiter starts it again). Should it fail, every waiter fails with the reason
        rather than wait for ever."""
        try:
            while self._waiters:
                self._wakeup.clear()
                held_back = await self._admit()
                if held_back != self._held_back:
                    self._held_back = held_back
                    self._notify()
                if self._waiters:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), self._poll_s(held_back))
        except Exception as error:
            logger.exception("run admission failed")
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.granted.done():
                    waiter.granted.set_exception(error)
        finally:
            self._held_back = None

    def _poll_s(self, held_back: _HeldBack | None) -> float | None:
        """How long to wait for a wake-up (a release, a new waiter) before trying again."""
        if held_back is _HeldBack.MEMORY:
            return self._memory_poll_s
        if held_back is _HeldBack.ELSEWHERE:
            # Jittered, so processes waiting on each other do not ask in lockstep.
            return self._claim_poll_s * random.uniform(0.5, 1.5)
        if held_back is _HeldBack.BUDGET:
            return BUDGET_POLL_S
        return None

    async def _admit(self) -> _HeldBack | None:
        """Grant slots to the head of the queue while everything allows; returns why the
        head still waits when a local slot is free, if it does."""
        while self._waiters and len(self._running) < self._max:
            self._memory_percent = self._memory_probe()
            if self._memory_percent >= self._memory_limit:
                return _HeldBack.MEMORY
            if self._daily_budget is not None and await self._daily_budget.exhausted():
                return _HeldBack.BUDGET
            waiter = self._waiters[0]
            try:
                taken = await self._take_slot(waiter.adw_id)
            except Exception as error:
                # The database failed (locked past the busy timeout, full, gone): the run
                # waiting on it fails with the reason, the queue goes on.
                self._forget(waiter)
                if not waiter.granted.done():
                    waiter.granted.set_exception(error)
                continue
            if taken is None:
                return _HeldBack.ELSEWHERE
            if waiter.granted.done():  # cancelled while the lease was taken
                await self._leases.release(LeaseKind.SLOT, waiter.adw_id, self._holder)
                continue
            self._forget(waiter)
            self._running.append(waiter.adw_id)
            waiter.granted.set_result(None)
            self._notify()
        return None

    async def _take_slot(self, adw_id: str) -> int | None:
        """The slot lease's number, or None while other processes hold every slot; when
        they did at the last try, a read says whether to try the write again."""
        if self._held_back is _HeldBack.ELSEWHERE and not await self._leases.may_take(
            LeaseKind.SLOT, adw_id, self._max
        ):
            return None
        return await self._leases.take(LeaseKind.SLOT, adw_id, self._holder, limit=self._max)

    def _forget(self, waiter: _Waiter) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
            self._notify()

    def _notify(self) -> None:
        if not self.on_change:
            return
        snapshot = self.snapshot()
        for listener in list(self.on_change):
            try:
                listener(snapshot)
            except Exception:
                logger.exception("resource change listener %r failed", listener)


def _check_slots(slots: int) -> None:
    if slots < 1:
        raise ValueError(f"max_concurrent must be at least 1, not {slots}")
