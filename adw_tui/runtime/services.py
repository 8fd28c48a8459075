"""What every run of one orchestrator shares."""

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from adw_tui.agents.engine import Engine
from adw_tui.config import Settings
from adw_tui.runtime.events import EventBus
from adw_tui.runtime.ports import PortAllocator
from adw_tui.runtime.resources import ResourceManager
from adw_tui.runtime.retry import Sleep
from adw_tui.runtime.worktrees import WorktreeManager
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

    @property
    def output_dir(self) -> Path:
        """The agents/ root where every call writes its files."""
        return self.repo / "agents"
