"""The orchestrator of an app that owns it is made just after the first frame: the first
frame shows the store's runs and the gauges without it (importing the runtime and making
it cost the first frame some tens of ms); whatever needs it earlier makes it then, and its
events are followed once either way."""

from pathlib import Path

from textual.widgets import DataTable

from adw_tui.config import Settings
from adw_tui.domain.ids import new_adw_id
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.events import RunChanged, RuntimeEvent
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import AdwApp, create_app
from adw_tui.tui.screens.dashboard import ResourceGauges
from tests.tui.conftest import until


def first_frame_of(app: AdwApp) -> dict[str, object]:
    """What the app holds when its first frame is drawn."""
    table = app.dashboard.query_one("#runs", DataTable)
    return {
        "orchestrator": app.orchestrator_made,
        "rows": table.row_count,
        "gauges": str(app.dashboard.query_one(ResourceGauges).render()),
    }


async def test_the_first_frame_shows_the_runs_before_the_orchestrator_is_made(
    store: Store, repo: Path, settings: Settings
):
    state = {"adw_id": new_adw_id(), "issue_number": "1"}
    await store.create_run(state, workflow="plan", issue="1", actor="test")
    at_first_frame: list[dict[str, object]] = []
    app = create_app(
        store, repo, settings, on_first_frame=lambda: at_first_frame.append(first_frame_of(app))
    )
    async with app.run_test():
        await app.runtime_started.wait()
        [seen] = at_first_frame
        assert seen["orchestrator"] is None
        assert seen["rows"] == 1
        # The gauges of a runtime that holds nothing yet: what the orchestrator says too.
        assert f"slots 0/{settings.max_concurrent}" in str(seen["gauges"])
        made = app.orchestrator_made
        assert made is not None
        assert app.orchestrator is made
        assert made.resources.snapshot().slots_total == settings.max_concurrent
        await app.close_runtime()


async def test_an_orchestrator_needed_before_the_runtime_starts_is_made_then_and_followed_once(
    store: Store, repo: Path, settings: Settings
):
    """As a key pressed in the first instant would: the orchestrator is asked for before
    the app starts its runtime, and is the one the app goes on with; its events reach the
    screens once each."""
    asked_early: list[Orchestrator] = []
    app = create_app(
        store, repo, settings, on_first_frame=lambda: asked_early.append(app.orchestrator)
    )
    events: list[RuntimeEvent] = []

    def ended() -> list[str]:
        return [
            event.adw_id
            for event in events
            if isinstance(event, RunChanged) and event.status is RunStatus.SUCCEEDED
        ]

    async with app.run_test() as pilot:
        app.runtime_events.subscribe(app, events.append, immediate=True)
        await app.runtime_started.wait()
        [orchestrator] = asked_early
        assert app.orchestrator is orchestrator
        issue = await store.issues.create("Add a slugify helper", "Slugs.")
        adw_id = await orchestrator.launch(issue.number, workflow="plan", engine="sim")
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
        await until(pilot, lambda: bool(ended()))
        # A second follower would have been woken by the same publish: it has run by now.
        await pilot.pause()
        assert ended() == [adw_id]
        await app.close_runtime()
