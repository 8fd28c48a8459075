"""The dashboard app: real sample repository, real store, real orchestrator with the
simulated agent; snapshots with fixed data and a fixed clock."""

from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest
from textual.widgets import DataTable, Footer, Input

from adw_tui.cli.commands.demo import launch_demo_issues
from adw_tui.config import Settings
from adw_tui.domain.breakers import Breaker, BreakerState
from adw_tui.domain.ids import new_adw_id
from adw_tui.domain.models import RunRecord, RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.sample_repo import DEMO_ISSUES
from adw_tui.store import Store
from adw_tui.tui.app import AdwApp, create_app
from adw_tui.tui.screens.dashboard import ResourceGauges
from adw_tui.tui.screens.launch import LaunchScreen
from adw_tui.tui.themes import DEFAULT_THEME, load_themes, theme_from_toml
from tests.tui.conftest import NOW, SnapCompare, record_notifications, settle, until


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
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("n")
        assert isinstance(app.screen, LaunchScreen)
        await pilot.press("9", "9", "enter")  # no such issue: refused, said so
        await until(pilot, lambda: any(n.get("severity") == "error" for n in notified))
        await pilot.press("n")
        await pilot.press(*str(issue.number))
        app.screen.query_one("#launch-workflow", Input).value = "plan"
        await pilot.click("#launch-ok")
        await until(pilot, lambda: app.dashboard.query_one("#runs", DataTable).row_count == 1)
        (run,) = await store.list_runs()
        assert run.workflow == "plan"
        await orchestrator.wait(run.adw_id)
        await until(pilot, lambda: cell(app, run.adw_id, "status") == "succeeded")
        await pilot.press("n", "escape")
        assert app.screen_stack[-1] is app.dashboard


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


def test_themes_load_from_files():
    names = {theme.name for theme in load_themes()}
    assert names == {"adw-dark", "adw-light", "adw-high-contrast"}
    theme = theme_from_toml('name = "x"\n[colors]\nprimary = "#ff0000"\n', "inline")
    assert theme.primary == "#ff0000"
    assert theme.dark


# Snapshots: fixed runs, a fixed clock, no live runs.


def fixed_run(
    adw_id: str, issue: str, workflow: str, step: str, status: RunStatus, minutes: int, cost: float
) -> RunRecord:
    created = NOW - timedelta(minutes=minutes)
    updated = NOW if not status.is_final else created + timedelta(minutes=minutes / 2)
    return RunRecord(
        adw_id=adw_id,
        issue=issue,
        workflow=workflow,
        status=status,
        current_step=step,
        version=3,
        cost_usd=cost,
        created_at=created,
        updated_at=updated,
    )


FIXED_RUNS = [
    fixed_run("a1b2c3d4", "5", "sdlc", "implementation", RunStatus.RUNNING, 4, 0.0412),
    fixed_run("0f9e8d7c", "4", "plan_build", "planning", RunStatus.QUEUED, 1, 0.0),
    fixed_run("11223344", "3", "sdlc", "complete", RunStatus.SUCCEEDED, 30, 0.2175),
    fixed_run("55667788", "2", "sdlc", "dead_letter", RunStatus.DEAD_LETTERED, 62, 0.0931),
    fixed_run("99aabbcc", "1", "plan", "complete", RunStatus.FAILED, 12, 0.0107),
]


class _FixedBreakers:
    async def list(self) -> list[Breaker]:
        return [Breaker(name="claude", state=BreakerState.OPEN, consecutive_failures=5)]


class FixedStore:
    """The store's read API over fixed records, so a snapshot never changes."""

    breakers = _FixedBreakers()
    issues = None  # the orchestrator's tracker keeps it, never used here

    async def list_runs(self, *, status: RunStatus | None = None) -> list[RunRecord]:
        return list(FIXED_RUNS)

    async def get_run(self, adw_id: str) -> RunRecord:
        return next(run for run in FIXED_RUNS if run.adw_id == adw_id)


def fixed_app() -> AdwApp:
    store = cast(Store, FixedStore())
    repo = Path("/srv/textkit")
    settings = Settings(max_concurrent=4, engine="claude")
    orchestrator = Orchestrator(store, repo, settings)
    return create_app(store, repo, settings, orchestrator=orchestrator, clock=lambda: NOW)


def test_snapshot_dashboard_120x40(snap_compare: SnapCompare):
    assert snap_compare(fixed_app(), terminal_size=(120, 40), run_before=settle)


def test_snapshot_dashboard_80x24(snap_compare: SnapCompare):
    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=settle)


def test_snapshot_launch_dialog_80x24(snap_compare: SnapCompare):
    assert snap_compare(fixed_app(), terminal_size=(80, 24), press=["n"], run_before=settle)
