"""The dashboard app: real sample repository, real store, real orchestrator with the
simulated agent; snapshots with fixed data and a fixed clock."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable, Footer, Input, OptionList, Select

from adw_tui.cli.commands.demo import launch_demo_issues
from adw_tui.config import Settings
from adw_tui.domain.fleet import WorkerRecord
from adw_tui.domain.ids import new_adw_id
from adw_tui.domain.models import RunRecord, RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.sample_repo import DEMO_ISSUES
from adw_tui.store import Store
from adw_tui.tui.app import AdwApp, create_app
from adw_tui.tui.screens.dashboard import ResourceGauges
from adw_tui.tui.screens.launch import LaunchScreen
from adw_tui.tui.themes import DEFAULT_THEME, load_themes, theme_from_toml
from adw_tui.workflows.loader import get_workflow
from tests.tui.conftest import (
    FIXED_SUCCEEDED,
    SnapCompare,
    pressing,
    record_notifications,
    settle,
    until,
)


async def create_run(store: Store, *, workflow: str, issue_number: str) -> RunRecord:
    state = {"adw_id": new_adw_id(), "issue_number": issue_number}
    return await store.create_run(state, workflow=workflow, issue=issue_number, actor="test")


def cell(app: AdwApp, adw_id: str, column: str) -> str:
    table = app.dashboard.query_one("#runs", DataTable)
    return str(table.get_cell(adw_id, column))


async def test_dashboard_lists_existing_runs(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
):
    first = await create_run(store, workflow="plan", issue_number="1")
    second = await create_run(store, workflow="sdlc", issue_number="2")
    await store.set_status(second.adw_id, RunStatus.SUCCEEDED, actor="test")
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test() as pilot:
        await pilot.pause()
        table = app.dashboard.query_one("#runs", DataTable)
        assert table.row_count == 2
        assert cell(app, first.adw_id, "workflow") == "plan"
        assert cell(app, second.adw_id, "status") == "succeeded"
        assert app.theme == DEFAULT_THEME
        assert "slots 0/" in str(app.dashboard.query_one(ResourceGauges).render())


async def test_a_launched_run_streams_into_a_pane_and_ends_succeeded(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    issue = await store.issues.create("Add a slugify helper", "Slugs.")
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        adw_id = await orchestrator.launch(issue.number, workflow="plan", engine="sim")
        dashboard = app.dashboard
        await until(pilot, lambda: adw_id in dashboard.panes)
        pane = dashboard.panes[adw_id]
        await until(pilot, lambda: len(pane.log_widget.lines) > 0)
        assert str(pane.border_title).startswith(adw_id)
        assert " · " in str(pane.border_title)  # titled with the step and agent
        await orchestrator.wait(adw_id)
        await until(pilot, lambda: cell(app, adw_id, "status") == "succeeded")
        await until(pilot, lambda: any("succeeded" in n["message"] for n in notified))
        assert cell(app, adw_id, "issue") == f"#{issue.number}"
        assert cell(app, adw_id, "cost").startswith("$")
        assert pane.pushed > 0


async def test_the_launch_dialog_starts_a_run(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    issue = await store.issues.create("Add a slugify helper", "Slugs.")
    await store.issues.create("Count words", "")
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("n")
        dialog = app.screen
        assert isinstance(dialog, LaunchScreen)
        await pilot.press("ctrl+l")  # nothing chosen yet: said so, still open
        assert notified[-1]["severity"] == "warning"
        assert app.screen is dialog
        await pilot.press(*"slug")
        issues = dialog.query_one("#launch-issues", OptionList)
        assert issues.option_count == 2  # the match, and "write a new issue"
        await pilot.press("enter")
        assert "#1: Add a slugify helper" in str(dialog.query_one("#launch-chosen").render())
        dialog.query_one("#launch-workflow", Select).value = "plan"
        await pilot.pause()
        description = str(dialog.query_one("#launch-description").render())
        assert description == get_workflow("plan", repo).definition.description
        await pilot.click("#launch-ok")
        await until(pilot, lambda: app.dashboard.query_one("#runs", DataTable).row_count == 1)
        (run,) = await store.list_runs()
        assert (run.workflow, run.issue) == ("plan", str(issue.number))
        await orchestrator.wait(run.adw_id)
        await until(pilot, lambda: cell(app, run.adw_id, "status") == "succeeded")
        await pilot.press("n", "escape")
        assert app.screen_stack[-1] is app.dashboard


async def test_the_launch_dialog_writes_a_new_issue(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
):
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"Fix the README")
        await pilot.press("enter")  # the only option left: write a new issue
        dialog = app.screen
        assert "new issue: Fix the README" in str(dialog.query_one("#launch-chosen").render())
        dialog.query_one("#launch-body", Input).value = "It says textkti."
        dialog.query_one("#launch-workflow", Select).value = "plan"
        await pilot.pause()
        await pilot.press("ctrl+l")
        await until(pilot, lambda: app.dashboard.query_one("#runs", DataTable).row_count == 1)
        (issue,) = await store.issues.list()
        assert (issue.title, issue.body) == ("Fix the README", "It says textkti.")
        (run,) = await store.list_runs()
        assert run.issue == str(issue.number)
        await orchestrator.wait(run.adw_id)


@pytest.mark.slow
async def test_the_demo_in_the_dashboard(
    store: Store, repo: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    """What `adw demo` does: the app launches the demo issues once it is up."""
    launched: list[str] = []

    async def startup(orchestrator: Orchestrator) -> None:
        launched.extend(await launch_demo_issues(store, orchestrator))

    app = create_app(store, repo, settings, startup=startup)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: len(app.dashboard.panes) == len(DEMO_ISSUES))
        await until(
            pilot,
            lambda: (
                len(launched) == len(DEMO_ISSUES)
                and all(cell(app, adw_id, "status") in FINAL for adw_id in launched)
            ),
            within_s=120,
        )
        statuses = [cell(app, adw_id, "status") for adw_id in launched]
        assert statuses == ["dead_lettered" if d.fails else "succeeded" for d in DEMO_ISSUES]
        await until(pilot, lambda: len(notified) >= len(DEMO_ISSUES))
        (dead,) = [n for n in notified if n.get("severity") == "error"]
        assert "auth" in dead["message"]
        await app.close_runtime()


FINAL = {status.value for status in RunStatus if status.is_final}


async def test_runs_started_elsewhere_appear_on_refresh(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
):
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.dashboard.query_one("#runs", DataTable).row_count == 0
        other = await create_run(store, workflow="plan", issue_number="7")
        await pilot.press("r")
        await pilot.pause()
        assert cell(app, other.adw_id, "issue") == "#7"


async def test_usable_at_80x24(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
):
    for number in range(30):
        await create_run(store, workflow="plan", issue_number=str(number))
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        dashboard = app.dashboard
        table = dashboard.query_one("#runs", DataTable)
        panes = dashboard.query_one("#panes-scroll")
        footer = dashboard.query_one(Footer)
        assert table.row_count == 30
        assert 4 <= table.region.height <= 10  # capped: 40% of the screen
        assert panes.region.height >= 8
        assert footer.region.y == 23
        assert dashboard.query_one(ResourceGauges).region.height == 1
        await pilot.press("f1")
        await pilot.press("m")  # no pane: says so, does not fail
        await pilot.press("f1")


async def test_statuses_are_in_the_theme_s_colours_and_follow_a_switch(fixed_app: AdwApp):
    async with fixed_app.run_test() as pilot:
        await settle(pilot)
        table = fixed_app.dashboard.query_one("#runs", DataTable)

        def status_colour() -> str:
            (span,) = table.get_cell(FIXED_SUCCEEDED, "status").spans
            return str(span.style)

        assert status_colour() == fixed_app.theme_variables["success"]
        fixed_app.switch_theme("adw-high-contrast")
        await until(pilot, lambda: status_colour() == "#00FF00")
        assert fixed_app.theme_variables["success"] == "#00FF00"


def test_themes_load_from_files():
    names = {theme.name for theme in load_themes()}
    assert names == {"adw-dark", "adw-light", "adw-high-contrast"}
    theme = theme_from_toml('name = "x"\n[colors]\nprimary = "#ff0000"\n', "inline")
    assert theme.primary == "#ff0000"
    assert theme.dark


# Snapshots: fixed runs, a fixed clock, no live runs.


def test_snapshot_dashboard_120x40(snap_compare: SnapCompare, fixed_app: AdwApp):
    assert snap_compare(fixed_app, terminal_size=(120, 40), run_before=settle)


def test_snapshot_dashboard_80x24(snap_compare: SnapCompare, fixed_app: AdwApp):
    assert snap_compare(fixed_app, terminal_size=(80, 24), run_before=settle)


def test_snapshot_launch_dialog_80x24(snap_compare: SnapCompare, fixed_app: AdwApp):
    assert snap_compare(fixed_app, terminal_size=(80, 24), run_before=pressing("n"))


def test_snapshot_launch_dialog_120x40(snap_compare: SnapCompare, fixed_app: AdwApp):
    assert snap_compare(fixed_app, terminal_size=(120, 40), run_before=pressing("n", *"slug"))


async def test_the_gauges_show_the_fleet_and_the_budget_in_force(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
):
    """Workers registered on the database (one gone silent), a run waiting for one, and a
    daily budget set with `adw budget` rather than in the settings."""
    now = datetime.now(UTC)
    for name, beat in (("build-1", now), ("build-2", now - timedelta(minutes=2))):
        await store.fleet.register(
            WorkerRecord(name=name, host=name, pid=1, slots=2, started_at=beat, heartbeat_at=beat)
        )
    issue = await store.issues.create("Add a slugify helper", "Slugs.")
    await orchestrator.launch(issue.number, workflow="plan", fleet_labels=[])
    await store.budgets.set("daily", 5.0, actor="test")
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(200, 40)) as pilot:
        gauges = app.dashboard.query_one(ResourceGauges)
        await until(pilot, lambda: "fleet" in str(gauges.render()))
        shown = str(gauges.render())
        assert "fleet 1 worker, 1 silent, 1 waiting" in shown
        assert "today $0.00 of $5.00" in shown
