"""The best-of screen (`b`): a group of real simulated runs side by side, and `c`
choosing one after a confirmation."""

from pathlib import Path

import pytest
from textual.widgets import Select, Static

from adw_tui.config import Settings
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.best_of import group_state
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import create_app
from adw_tui.tui.screens.compare import CompareScreen
from adw_tui.tui.screens.dashboard import Dashboard
from adw_tui.tui.screens.launch import LaunchScreen
from adw_tui.tui.widgets.confirm import ConfirmScreen
from adw_tui.tui.widgets.row_table import RowTable
from tests.tui.conftest import until


async def test_a_group_side_by_side_and_one_chosen(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
) -> None:
    issue = await store.issues.create("Add slugify", "x")
    runs = []
    for index, model_set in enumerate(("base", "heavy"), 1):
        adw_id = await orchestrator.launch(
            issue.number,
            workflow="plan",
            model_set=model_set,
            force=True,
            state=group_state("g0000001", index, 2),
        )
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
        runs.append(adw_id)
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(160, 40)) as pilot:
        dashboard = app.screen
        assert isinstance(dashboard, Dashboard)
        table = dashboard.query_one(RowTable)
        await until(pilot, lambda: runs[0] in [str(key.value) for key in table.rows])
        table.move_cursor_to(runs[0])
        await pilot.press("b")
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        compared = screen.query_one(RowTable)
        await until(pilot, lambda: len(compared.rows) == 2)
        rows = {
            str(key.value): [str(cell) for cell in compared.get_row(key)] for key in compared.rows
        }
        assert [rows[adw_id][3] for adw_id in runs] == ["base", "heavy"]
        assert all("files" in rows[adw_id][6] for adw_id in runs)
        compared.move_cursor_to(runs[1])
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        summary = screen.query_one("#compare-summary", Static)
        await until(pilot, lambda: f"{runs[1]} chosen" in str(summary.render()))
        rows = {
            str(key.value): [str(cell) for cell in compared.get_row(key)] for key in compared.rows
        }
        assert (rows[runs[0]][9], rows[runs[1]][9]) == ("not chosen", "chosen")
    chosen = (await store.load(runs[1])).state.as_data()["best_of"]["chosen"]
    assert chosen is True


@pytest.mark.parametrize("fleet", [False, True], ids=["here", "fleet"])
async def test_the_launch_dialog_starts_a_best_of_group(
    store: Store, repo: Path, settings: Settings, fleet: bool
) -> None:
    """Run here, or with ADW_FLEET queued for the fleet's workers, as one group."""
    await store.issues.create("Add a slugify helper", "Slugs.")
    settings = settings.model_copy(update={"fleet": fleet})
    async with Orchestrator(store, repo, settings) as orchestrator:
        app = create_app(store, repo, settings, orchestrator=orchestrator)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("n")
            dialog = app.screen
            assert isinstance(dialog, LaunchScreen)
            await pilot.press(*"slug", "enter")
            dialog.query_one("#launch-workflow", Select).value = "plan"
            dialog.query_one("#launch-best-of", Select).value = 2
            await pilot.pause()
            await pilot.press("ctrl+l")
            await until(pilot, lambda: app.screen is not dialog)
            launched: list[str] = []
            for _ in range(600):  # the group's runs, as the store has them (within 30 s)
                launched = [run.adw_id for run in await store.list_runs()]
                if len(launched) == 2:
                    break
                await pilot.pause(0.05)
            assert len(launched) == 2
            if not fleet:
                for adw_id in launched:
                    await orchestrator.wait(adw_id)
    runs = [await store.get_run(adw_id) for adw_id in launched]
    if fleet:
        assert [(run.status, run.fleet is not None) for run in runs] == [
            (RunStatus.QUEUED, True)
        ] * 2
    groups = {(await store.load(adw_id)).state.as_data()["best_of"]["group"] for adw_id in launched}
    assert len(groups) == 1  # one group of two
