"""`p` on the dashboard: pause the selected run (its agent stopped, its slot given to the
next run), `p` again to resume it; the runs table says what each run waits for."""

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adw_tui.config import Settings
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.alerts import AlertKind
from adw_tui.tui.app import create_app
from adw_tui.tui.screens.dashboard import COLUMNS, Dashboard, RunTable
from tests.runtime.pause_runs import HANGS, TWO_STEPS, agent_started, next_event, write_two_steps
from tests.tui.conftest import notice, record_notifications, until


def waiting(table: RunTable, adw_id: str) -> str | None:
    """The run's `waiting` cell; None while the run is not in the table."""
    if adw_id not in table.rows:
        return None
    return str(table.get_row(adw_id)[COLUMNS.index("waiting")])


@pytest.fixture
async def one_slot(store: Store, repo: Path, settings: Settings) -> AsyncIterator[Orchestrator]:
    write_two_steps(repo)
    orchestrator = Orchestrator(store, repo, settings.model_copy(update={"max_concurrent": 1}))
    try:
        yield orchestrator
    finally:
        await orchestrator.aclose()


async def test_p_pauses_the_selected_run_and_p_again_resumes_it(
    store: Store,
    repo: Path,
    settings: Settings,
    one_slot: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    orchestrator = one_slot
    first, second = [await store.issues.create(f"Feature {n}", "x") for n in range(2)]
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one(RunTable)
        adw_id = await orchestrator.launch(first.number, workflow=TWO_STEPS, engine_env=HANGS)
        await next_event(orchestrator.bus, agent_started(adw_id, "classify"))
        await until(pilot, lambda: app.selected_run == adw_id)
        other = await orchestrator.launch(second.number, workflow=TWO_STEPS)
        await until(pilot, lambda: str(waiting(table, other)).startswith("slot #1 · "))
        assert waiting(table, adw_id) == "working"
        assert app.selected_run == adw_id  # the cursor stays on its run

        dashboard = app.screen
        assert isinstance(dashboard, Dashboard)
        alerted: list[tuple[AlertKind, str, str]] = []
        monkeypatch.setattr(dashboard.alerts, "alert", lambda *alert: alerted.append(alert))
        await pilot.press("p")

        paused = await notice(pilot, notified, "paused")
        assert paused["message"] == f"run {adw_id} paused in step classify: p resumes it"
        [attempt] = await store.steps.for_run(adw_id)
        assert attempt.pgid is not None
        with pytest.raises(ProcessLookupError):
            os.killpg(attempt.pgid, 0)
        await until(pilot, lambda: str(waiting(table, adw_id)).startswith("paused · "))
        await until(pilot, lambda: any(kind is AlertKind.WAITING for kind, _, _ in alerted))
        assert [(title, body) for kind, title, body in alerted if kind is AlertKind.WAITING] == [
            (
                "run paused",
                f"{adw_id} (#{first.number} {TWO_STEPS}) paused in step classify: p resumes it",
            )
        ]
        assert dashboard.panes[adw_id].border_subtitle == "paused: p resumes it"
        # Its slot is free: the next run takes it and ends while this one waits.
        assert (await orchestrator.wait(other)).status is RunStatus.SUCCEEDED
        await until(pilot, lambda: "succeeded" in str(table.get_row(other)))
        assert waiting(table, other) == ""
        assert app.selected_run == adw_id

        await pilot.press("p")

        resumed = await notice(pilot, notified, "resumed")
        assert resumed["message"] == f"run {adw_id} queued to go on with step classify"
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED

        await pilot.press("p")  # it has ended: nothing to pause

        refused = await notice(pilot, notified, "not paused or resumed")
        assert refused["message"].startswith(f"run {adw_id} is succeeded: only a running run")
        assert app.screen.id == "dashboard"
