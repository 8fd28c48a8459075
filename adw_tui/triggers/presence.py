"""Which triggers are at work on a database, for every dashboard on it to show."""

from dataclasses import dataclass
from typing import Self

from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store.leases import LeaseKind

MAX_TRIGGERS = 64
"""Triggers one database shows at once (a bound for the lease table, never reached)."""


@dataclass(frozen=True)
class Announcement:
    """A trigger at work, as a lease of this process (heartbeated with its others), so
    that every dashboard on the database shows it while the process lives: `async with
    Announcement(orchestrator, "webhook http://..."):` around its serving."""

    orchestrator: Orchestrator
    what: str

    async def __aenter__(self) -> Self:
        await self.orchestrator.store.leases.take(
            LeaseKind.TRIGGER, self.what, self.orchestrator.holder, limit=MAX_TRIGGERS
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.orchestrator.store.leases.release(
            LeaseKind.TRIGGER, self.what, self.orchestrator.holder
        )
