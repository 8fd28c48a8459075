"""`/status` as JSON: the runtime's queue, slots, memory and breakers, GitHub's rate-limit
budget, and the triggers' counters."""

from typing import Any

from adw_tui.observability.status import breaker_report
from adw_tui.runtime.memory import system_memory_percent
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.trackers.github import GitHubTracker
from adw_tui.triggers.counters import TriggerCounters


async def runtime_status(orchestrator: Orchestrator, *triggers: TriggerCounters) -> dict[str, Any]:
    snapshot = orchestrator.resources.snapshot()
    breakers = await orchestrator.store.breakers.list()
    tracker = orchestrator.tracker
    budget = tracker.rate_budget if isinstance(tracker, GitHubTracker) else None
    return {
        "ok": True,
        "runs": {"running": snapshot.running, "queued": snapshot.queued},
        "slots": {
            "total": snapshot.slots_total,
            "used": snapshot.slots_used,
            "waiting_for_memory": snapshot.waiting_for_memory,
            "waiting_for_other_processes": snapshot.waiting_for_other_processes,
            "waiting_for_budget": snapshot.waiting_for_budget,
        },
        "memory_percent": system_memory_percent(),
        "breakers": breaker_report(breakers),
        "github_rate_limit": None
        if budget is None
        else {
            "limit": budget.limit,
            "remaining": budget.remaining,
            "reset_at": budget.reset_at,
            "waiting_until": budget.waiting_until,
            "described": budget.describe(),
        },
        "triggers": [trigger.as_dict() for trigger in triggers],
    }
