"""What every run of one orchestrator shares."""

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from adw_tui.agents.engine import Engine
from adw_tui.config import Settings
from adw_tui.domain.clock import Clock, utc_now
from adw_tui.runtime.breakers import BreakerGate
from adw_tui.runtime.events import EventBus
from adw_tui.runtime.ports import PortAllocator
from adw_tui.runtime.resources import ResourceManager
from adw_tui.runtime.retry import Sleep
from adw_tui.runtime.worktrees import AGENTS_DIR, WorktreeManager
from adw_tui.store import Store
from adw_tui.trackers.base import IssueTracker

EngineFactory = Callable[[str, Mapping[str, str]], Engine]


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

    @property
    def output_dir(self) -> Path:
        """The agents/ root where every call writes its files."""
        return self.repo / AGENTS_DIR
