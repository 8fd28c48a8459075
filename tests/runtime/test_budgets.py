"""Budgets on real simulated runs: past the daily budget, new runs wait in the queue
(`budget`) until the next day or a raise (`adw budget`); past its own, a run is
dead-lettered, and replays once its budget is raised."""

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adw_tui.config import load_settings
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.events import QueueChanged
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.conftest import db_argument

TODAY = datetime.now(UTC)


async def spend_then_hold(orchestrator: Orchestrator, store: Store) -> str:
    """One run that spends past a tiny daily budget, then one the budget holds in the
    queue; the held run's adw_id."""
    first = await store.issues.create("Add slugify", "x")
    spent = await orchestrator.launch(first.number, workflow="plan")
    assert (await orchestrator.wait(spent)).status is RunStatus.SUCCEEDED
    second = await store.issues.create("Add titlecase", "x")
    held = await orchestrator.launch(second.number, workflow="plan")
    for _ in range(200):
        if orchestrator.resources.snapshot().waiting_for_budget == [held]:
            break
        await asyncio.sleep(0.02)
    assert orchestrator.resources.snapshot().waiting_for_budget == [held]
    return held


async def test_past_the_daily_budget_new_runs_wait_until_the_next_day(
    repo: Path, store: Store
) -> None:
    settings = load_settings(repo).model_copy(update={"engine": "sim", "daily_budget_usd": 0.001})
    now = [TODAY]
    async with Orchestrator(store, repo, settings, clock=lambda: now[0]) as orchestrator:
        seen: list[QueueChanged] = []
        orchestrator.bus.listeners.append(
            lambda event: seen.append(event) if isinstance(event, QueueChanged) else None
        )
        held = await spend_then_hold(orchestrator, store)
        assert await store.spent_since(TODAY - timedelta(hours=1)) > 0.001
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
    assert "raise it (adw budget --run USD), then replay" in letter.error_message
    attempts = await store.steps.for_run(adw_id)
    # The first call ran (nothing was spent before it); the next was never made.
    assert [a.status for a in attempts[:2]] == ["succeeded", "failed"]
    assert attempts[1].error_class == "budget"
    assert len([a for a in attempts if a.error_class == "budget"]) == 1  # not retried

    # Raised while the process runs (as `adw budget --run 10` does): no restart needed.
    async with Orchestrator(store, repo, tight) as orchestrator:
        await store.budgets.set("run", 10.0, actor="test")
        await orchestrator.replay(letter.id)
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED


async def test_a_daily_budget_raised_by_adw_budget_lets_held_runs_start(
    repo: Path, store: Store
) -> None:
    """`adw budget --daily` in another process reaches this one's queue without a
    restart, and takes precedence over the setting until `default` puts it back."""
    settings = load_settings(repo).model_copy(update={"engine": "sim", "daily_budget_usd": 0.001})
    async with Orchestrator(store, repo, settings) as orchestrator:
        held = await spend_then_hold(orchestrator, store)
        raised = await adw_budget(repo, store, "--daily", "10", "--json")
        assert raised["budgets"]["daily"] == {"usd": 10.0, "source": "database"}
        assert raised["spent_today_usd"] > 0.001
        started = await asyncio.wait_for(orchestrator.wait(held), 30)
        assert started.status is RunStatus.SUCCEEDED
    entries = [entry.action for entry in await store.audit.entries()]
    assert "budget.set" in entries
    back = await adw_budget(repo, store, "--daily", "default", "--json")
    assert back["budgets"]["daily"] == {"usd": 0.001, "source": "settings"}


async def adw_budget(repo: Path, store: Store, *argv: str) -> dict[str, Any]:
    """`adw budget ARGV...` run as its own process on the store's database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ADW_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adw_tui", "--repo", str(repo), "--db", db_argument(store),
        "budget", *argv,
        env={**env, "ADW_DAILY_BUDGET_USD": "0.001"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    answer: dict[str, Any] = json.loads(out)
    return answer
