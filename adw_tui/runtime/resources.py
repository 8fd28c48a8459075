"""Admission of runs: a visible FIFO queue for a fixed number of slots, gated on system
memory, plus rate limits per external service.

The head of the queue gets a slot when one is free *and* system memory is below the
limit. Both are checked in the same synchronous step, so a run never holds a slot while it
waits for memory, and nothing can happen between the memory check and the grant (which is
why no second check after taking the slot is needed). The queue stays strictly FIFO: while
memory holds the head back, no later run overtakes it, and the head's own wait polls the
memory probe every `memory_poll_s`.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from aiolimiter import AsyncLimiter
from pydantic import BaseModel, ConfigDict

from adw_tui.runtime.memory import system_memory_percent

logger = logging.getLogger(__name__)

MemoryProbe = Callable[[], float]


class ResourceSnapshot(BaseModel):
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
    # System memory at the last check (each attempted grant, each poll while held back);
    # None before the first.
    memory_percent: float | None


ChangeListener = Callable[[ResourceSnapshot], None]


@dataclass(eq=False)
class _Waiter:
    adw_id: str
    granted: asyncio.Future[None]


class ResourceManager:
    """Slots, the memory gate and rate limiters shared by every run of one orchestrator.

    Listeners in `on_change` receive a fresh snapshot after every change of the queue, the
    running set, the slot count or the set of runs held back by memory; they are called
    synchronously and must not block (publish an event and return). A listener that raises
    is logged and skipped, so it can never keep a slot from being released.
    """

    def __init__(
        self,
        max_concurrent: int = 15,
        memory_limit_percent: float = 90.0,
        memory_poll_s: float = 1.0,
        rate_limits: Mapping[str, tuple[float, float]] | None = None,
        memory_probe: MemoryProbe = system_memory_percent,
    ) -> None:
        """`rate_limits` maps a service name to (max_rate, time_period_s): up to max_rate
        acquisitions per period, bursts included (aiolimiter's leaky bucket)."""
        _check_slots(max_concurrent)
        self._max = max_concurrent
        self._memory_limit = memory_limit_percent
        self._memory_poll_s = memory_poll_s
        self._memory_probe = memory_probe
        self._limiters = {
            name: AsyncLimiter(max_rate, period)
            for name, (max_rate, period) in (rate_limits or {}).items()
        }
        self._running: list[str] = []
        self._waiters: deque[_Waiter] = deque()
        self._memory_percent: float | None = None
        self._memory_blocked = False
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
            self._release(adw_id)

    def rate_limit(self, service: str) -> AbstractAsyncContextManager[None]:
        """`async with manager.rate_limit("claude"):` waits for capacity of that service;
        services without a configured limit are unlimited."""
        limiter = self._limiters.get(service)
        return limiter if limiter is not None else contextlib.nullcontext()

    def set_max_concurrent(self, slots: int) -> None:
        """Change the slot count now. Growing starts waiting runs at once; shrinking stops
        nothing that runs, it only starts no run until fewer than `slots` are running."""
        _check_slots(slots)
        self._max = slots
        self._dispatch()
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
        held_back = max(self._max - len(self._running), 0) if self._memory_blocked else 0
        return ResourceSnapshot(
            slots_total=self._max,
            slots_used=len(self._running),
            running=list(self._running),
            queued=queued,
            waiting_for_memory=queued[:held_back],
            memory_percent=self._memory_percent,
        )

    async def _acquire(self, adw_id: str) -> None:
        waiter = _Waiter(adw_id, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        self._dispatch()
        self._notify()
        try:
            while not waiter.granted.done():
                # asyncio.wait leaves the future alone on timeout and on cancellation,
                # so a grant is never lost to a cancelled wait (handled below).
                await asyncio.wait((waiter.granted,), timeout=self._memory_poll_s)
                self._poll_memory(waiter)
        except asyncio.CancelledError:
            if waiter.granted.done():
                # Granted between the cancel and this task resuming: give the slot back.
                self._release(adw_id)
            else:
                waiter.granted.cancel()
                self._waiters.remove(waiter)
                self._memory_blocked = self._memory_blocked and bool(self._waiters)
                self._notify()
            raise

    def _poll_memory(self, waiter: _Waiter) -> None:
        """While memory holds runs back, the head of the queue re-checks it on each wake."""
        if (
            self._memory_blocked
            and not waiter.granted.done()
            and self._waiters[0] is waiter
            and self._dispatch()
        ):
            self._notify()

    def _release(self, adw_id: str) -> None:
        self._running.remove(adw_id)
        self._dispatch()
        self._notify()

    def _dispatch(self) -> bool:
        """Grant free slots to the head of the queue while memory allows.

        Returns whether anything visible changed (a grant, or runs held back or let go).
        """
        was_blocked = self._memory_blocked
        granted = False
        self._memory_blocked = False
        if self._waiters and len(self._running) < self._max:
            self._memory_percent = self._memory_probe()
            self._memory_blocked = self._memory_percent >= self._memory_limit
            while not self._memory_blocked and self._waiters and len(self._running) < self._max:
                waiter = self._waiters.popleft()
                self._running.append(waiter.adw_id)
                waiter.granted.set_result(None)
                granted = True
        return granted or was_blocked != self._memory_blocked

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
