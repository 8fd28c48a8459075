"""`/status` as JSON: the parts every process reports from the database."""

from typing import Any

from adw_tui.domain.breakers import Breaker
from adw_tui.runtime.memory import system_memory_percent
from adw_tui.store import Store


def breaker_report(breakers: list[Breaker]) -> list[dict[str, Any]]:
    return [
        {
            "name": breaker.name,
            "state": str(breaker.state),
            "consecutive_failures": breaker.consecutive_failures,
            "opened_at": breaker.opened_at.isoformat() if breaker.opened_at else None,
        }
        for breaker in breakers
    ]


async def store_status(store: Store) -> dict[str, Any]:
    """What `adw serve` reports: the runs in each status (of every process on the
    database), the breakers and the machine's memory."""
    by_status: dict[str, int] = {}
    for count in await store.run_counts():
        by_status[count.status] = by_status.get(count.status, 0) + count.runs
    return {
        "ok": True,
        "runs_by_status": by_status,
        "memory_percent": system_memory_percent(),
        "breakers": breaker_report(await store.breakers.list()),
    }
