"""The fleet screen (`F`): the workers on the database (one gone silent, one stopped)
and the runs waiting for a worker, read again as they change."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.widgets import Static

from adw_tui import __version__
from adw_tui.config import Settings
from adw_tui.domain.fleet import WorkerRecord
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import create_app
from adw_tui.tui.screens.fleet import FleetScreen
from adw_tui.tui.widgets.row_table import RowTable
from tests.tui.conftest import until


def worker(name: str, beat: datetime, *, stopped: datetime | None = None) -> WorkerRecord:
    return WorkerRecord(
        name=name,
        host=f"{name}.lan",
        pid=1,
        slots=4,
        labels=["gpu"],
        started_at=beat,
        heartbeat_at=beat,
        stopped_at=stopped,
        memory_percent=41.0,
        version=__version__ if name != "build-3" else "0.0.9",
    )


async def test_the_fleet_screen_lists_the_workers_and_the_waiting_runs(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
) -> None:
    now = datetime.now(UTC)
    for name, beat, stopped in (
        ("build-1", now, None),
        ("build-2", now - timedelta(minutes=2), None),
        ("build-3", now - timedelta(hours=1), now - timedelta(hours=1)),
    ):
        await store.fleet.register(worker(name, beat, stopped=stopped))
    issue = await store.issues.create("Add a slugify helper", "Slugs.")
    await orchestrator.launch(issue.number, workflow="plan", fleet_labels=["gpu"])
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(140, 30)) as pilot:
        await pilot.press("F")
        await until(pilot, lambda: isinstance(app.screen, FleetScreen))
        table = app.screen.query_one(RowTable)
        await until(pilot, lambda: table.row_count == 3)
        assert str(table.get_row("build-3")[2]) == f"0.0.9 (not {__version__})"
        states = {key.value: str(table.get_row(key)[-1]) for key in table.rows}
        assert states == {"build-1": "working", "build-2": "silent", "build-3": "stopped"}
        assert [str(cell) for cell in table.get_row("build-1")][1:7] == [
            "build-1.lan", __version__, "4", "0", "any", "gpu",
        ]  # fmt: skip
        summary = app.screen.query_one("#fleet-summary", Static)
        await until(pilot, lambda: "1 runs waiting for a worker" in str(summary.render()))
        assert "3 workers, 1 silent" in str(summary.render())
        await store.fleet.register(
            WorkerRecord(
                name="build-4", host="b4", pid=2, slots=1, started_at=now, heartbeat_at=now
            )
        )
        await pilot.press("r")
        await until(pilot, lambda: table.row_count == 4)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.dashboard)
