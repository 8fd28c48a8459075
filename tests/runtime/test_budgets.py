"""Budgets on real simulated runs: past the daily budget, new runs wait in the queue
(`budget`) until the next day."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adw_tui.config import load_settings
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.events import QueueChanged
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store

TODAY = datetime.now(UTC)


async def test_past_the_daily_budget_new_runs_wait_until_the_next_day(
    repo: Path, store: Store
) -> None:
    settings = load_settings(repo).model_copy(update={"engine": "sim", "daily_budget_usd": 0.001})
    now = [TODAY]
    async with Orchestrator(store, repo, settings, clock=lambda: now[0]) as orchestrator:
        first = await store.issues.create("Add slugify", "x")
        spent = await orchestrator.launch(first.number, workflow="plan")
        assert (await orchestrator.wait(spent)).status is RunStatus.SUCCEEDED
        assert await store.spent_since(TODAY - timedelta(hours=1)) > 0.001

        seen: list[QueueChanged] = []
        orchestrator.bus.listeners.append(
            lambda event: seen.append(event) if isinstance(event, QueueChanged) else None
        )
        second = await store.issues.create("Add titlecase", "x")
        held = await orchestrator.launch(second.number, workflow="plan")
        for _ in range(200):
            if orchestrator.resources.snapshot().waiting_for_budget == [held]:
                break
            await asyncio.sleep(0.02)
        assert orchestrator.resources.snapshot().waiting_for_budget == [held]
        assert any(event.waiting_for_budget == (held,) for event in seen)
        assert (await store.get_run(held)).status is RunStatus.QUEUED

        # The next day: the spend counts from midnight again, so the queue moves (a new
        # launch wakes it at once; otherwise it looks again within a minute).
        now[0] = TODAY + timedelta(days=1)
        third = await store.issues.create("Add wordcount", "x")
        woken = await orchestrator.launch(third.number, workflow="plan")
        assert (await asyncio.wait_for(orchestrator.wait(held), 60)).status is RunStatus.SUCCEEDED
        assert (await orchestrator.wait(woken)).status is RunStatus.SUCCEEDED


async def test_past_its_budget_a_run_is_dead_lettered_and_replays_once_raised(
    repo: Path, store: Store
) -> None:
    tight = load_settings(repo).model_copy(
        update={"engine": "sim", "run_budget_usd": 0.0001, "retry_initial": 0.01}
    )
    issue = await store.issues.create("Add slugify", "x")
    async with Orchestrator(store, repo, tight) as orchestrator:
        adw_id = await orchestrator.launch(issue.number, workflow="plan")
        assert (await orchestrator.wait(adw_id)).status is RunStatus.DEAD_LETTERED
    [letter] = await store.dead_letters.list()
    assert letter.error_class == "budget"
    assert "raise it, then replay" in letter.error_message
    attempts = await store.steps.for_run(adw_id)
    # The first call ran (nothing was spent before it); the next was never made.
    assert [a.status for a in attempts[:2]] == ["succeeded", "failed"]
    assert attempts[1].error_class == "budget"
    assert len([a for a in attempts if a.error_class == "budget"]) == 1  # not retried

    raised = tight.model_copy(update={"run_budget_usd": 10.0})
    async with Orchestrator(store, repo, raised) as orchestrator:
        await orchestrator.replay(letter.id)
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
