"""The KPI screen (`k`): the tables `adw kpis` prints, the charts per day, and the window
that `t` changes, over runs recorded in a real store on several days."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Static
from textual_plotext import PlotextPlot

from adw_tui.config import Settings
from adw_tui.domain.agent import AgentResult
from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import create_app
from adw_tui.tui.screens.kpis import KpisScreen
from adw_tui.tui.widgets.row_table import RowTable
from tests.conftest import raw_execute
from tests.tui.conftest import until

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


async def recorded(
    store: Store, adw_id: str, status: RunStatus, *, days_ago: int, **state: str
) -> None:
    await store.create_run(
        {"adw_id": adw_id, **state}, workflow="sdlc", actor="test", status=status
    )
    attempt = await store.steps.start(adw_id, "plan", visit=1, attempt=1, agent="planner")
    spent = AgentResult(success=True, cost_usd=1.0, input_tokens=10, output_tokens=10)
    await store.steps.finish(attempt, StepStatus.SUCCEEDED, result=spent)
    created = (NOW - timedelta(days=days_ago)).isoformat(timespec="microseconds")
    await raw_execute(  # as if it had been made then
        store,
        "UPDATE runs SET created_at = ?, updated_at = ? WHERE adw_id = ?",
        (created, (NOW - timedelta(days=days_ago) + timedelta(minutes=5)).isoformat(), adw_id),
    )


def table_rows(screen: KpisScreen, selector: str) -> dict[str, list[str]]:
    table = screen.query_one(selector, RowTable)
    return {str(key.value): [str(cell) for cell in table.get_row(key)] for key in table.rows}


async def open_kpis(pilot: Pilot[None]) -> KpisScreen:
    await pilot.press("k")
    screen = pilot.app.screen
    assert isinstance(screen, KpisScreen)
    await until(pilot, lambda: bool(table_rows(screen, "#kpis-by-workflow")))
    return screen


async def test_the_kpis_of_the_window_and_their_charts(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
) -> None:
    await recorded(store, "a0000001", RunStatus.SUCCEEDED, days_ago=1, issue_class="/feature")
    await recorded(store, "a0000002", RunStatus.FAILED, days_ago=2, issue_class="/bug")
    await recorded(store, "a0000003", RunStatus.SUCCEEDED, days_ago=20, issue_class="/bug")
    app = create_app(store, repo, settings, orchestrator=orchestrator, clock=lambda: NOW)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_kpis(pilot)
        assert screen.window == "30 days"
        [sdlc] = table_rows(screen, "#kpis-by-workflow").values()
        # workflow, set, runs, ok, rate, 95%, calls/ok, p50, p95, $/ok, $
        assert sdlc[:5] == ["sdlc", "base", "3", "2/3", "67%"]
        assert sdlc[7] == "5m"  # created to last change
        assert sdlc[9:] == ["$1.50", "$3.00"]
        assert set(table_rows(screen, "#kpis-by-class")) == {"bug", "feature"}
        summary = screen.query_one("#kpis-summary", Static)
        assert "3 runs created in the last 30 days, 3 decided" in str(summary.render())
        cost = str(screen.query_one("#kpis-cost", PlotextPlot).render())
        assert "spend per day" in cost
        assert all(day in cost for day in ("11-17", "12-05", "12-06"))  # a bar each
        durations = str(screen.query_one("#kpis-durations", PlotextPlot).render())
        assert "run duration" in durations

        await pilot.press("t")  # all time: the same three
        await until(pilot, lambda: "in all" in str(summary.render()))
        await pilot.press("t")  # 7 days: the run of 20 days ago is left out
        await until(pilot, lambda: "last 7 days" in str(summary.render()))
        [sdlc] = table_rows(screen, "#kpis-by-workflow").values()
        assert sdlc[2:5] == ["2", "1/2", "50%"]

        await pilot.press("escape")
        assert not isinstance(pilot.app.screen, KpisScreen)
