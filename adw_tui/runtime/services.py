"""What every run of one orchestrator shares."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

from adw_tui.agents.engine import Engine
from adw_tui.config import Settings
from adw_tui.domain.clock import Clock, utc_now
from adw_tui.runtime.breakers import BreakerGate
from adw_tui.runtime.events import EventBus, RunWaiting, WaitKind
from adw_tui.runtime.ports import PortAllocator
from adw_tui.runtime.resources import ResourceManager
from adw_tui.runtime.retry import Sleep
from adw_tui.runtime.tracing import span
from adw_tui.runtime.worktrees import AGENTS_DIR, WorktreeManager
from adw_tui.store import Store
from adw_tui.trackers.base import IssueTracker

EngineFactory = Callable[[str, Mapping[str, str]], Engine]
RUNTIME_ACTOR = "runtime"
"""Who the store's history says made the changes the runtime makes."""
T = TypeVar("T")


@dataclass(frozen=True)
class RunServices:
    store: Store
    repo: Path
    settings: Settings
    tracker: IssueTracker
    worktrees: WorktreeManager
    ports: PortAllocator
    resources: ResourceManager
    bus: EventBus
    engines: EngineFactory
    sleep: Sleep = asyncio.sleep  # the clock of retry backoff; tests inject a fake
    clock: Clock = utc_now  # the wall clock of circuit breakers (shared between processes)

    @cached_property
    def breakers(self) -> BreakerGate:
        """The circuit breakers of engines and trackers, waited on with `sleep`."""
        settings = self.settings
        return BreakerGate(
            self.store,
            self.bus,
            settings.breaker_policy(),
            action=settings.breaker_open_action,
            sleep=self.sleep,
            clock=self.clock,
        )

    async def call_tracker(
        self,
        call: Callable[[IssueTracker], Awaitable[T]],
        *,
        adw_id: str,
        step: str,
        wait: bool = True,
    ) -> T:
        """`call(tracker)` behind the tracker's rate limit and circuit breaker (named
        after it, e.g. `github`). `wait=False` for best-effort calls: an open breaker
        refuses them at once (BreakerOpenError) instead of holding the run."""
        tracker = self.tracker
        on_wait = self.rate_limit_waits(adw_id, step, tracker.name)
        with span(f"tracker {step}", {"adw.id": adw_id, "adw.tracker": tracker.name}):
            async with self.resources.rate_limit(tracker.name, on_wait=on_wait):
                return await self.breakers.call(
                    tracker.name, lambda: call(tracker), adw_id=adw_id, step=step, wait=wait
                )

    def rate_limit_waits(self, adw_id: str, step: str, service: str) -> Callable[[float], None]:
        """What tells live views that the run's step waits for `service`'s rate limit."""

        def tell(wait_s: float) -> None:
            reason = f"the {service} rate limit is spent"
            self.bus.publish(RunWaiting(adw_id, step, reason, wait_s, WaitKind.RATE_LIMIT))

        return tell

    @property
    def output_dir(self) -> Path:
        """The agents/ root where every call writes its files."""
        return self.repo / AGENTS_DIR
