"""The state history screen: versions, diffs, rollback behind a confirmation (and the
worktree reset it can do), over a real store; snapshots with fixed data and clock."""

from pathlib import Path
from typing import cast

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, HelpPanel, Markdown, Static

from adw_tui.config import Settings
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import AdwApp, create_app
from adw_tui.tui.screens.history import HistoryScreen, StateDiff, VersionTable
from adw_tui.tui.widgets.confirm import ConfirmScreen
from tests.runtime import sh
from tests.tui.conftest import (
    FIXED_RUNNING,
    FIXED_SUCCEEDED,
    NOW,
    SnapCompare,
    record_notifications,
    until,
)


async def open_history(pilot: Pilot[None], adw_id: str) -> HistoryScreen:
    """Push the history of `adw_id` (as the dashboard's `h` does) and wait for its diff."""
    app = cast(AdwApp, pilot.app)
    screen = HistoryScreen(app.store, app.orchestrator, adw_id, lambda: NOW)
    await app.push_screen(screen)
    await until(pilot, lambda: bool(diff_title(screen)))
    return screen


def diff_title(screen: HistoryScreen) -> str:
    return str(screen.query_one(StateDiff).border_title or "")


def diff_text(screen: HistoryScreen) -> str:
    return str(screen.query_one("#history-changes", Static).content)


def cell(screen: HistoryScreen, version: int, column: str) -> str:
    return str(screen.query_one(VersionTable).get_cell(str(version), column))


async def select(pilot: Pilot[None], screen: HistoryScreen, version: int) -> None:
    """Click the version's row, and wait for the diff to follow."""
    table = screen.query_one(VersionTable)
    row = table.get_row_index(str(version))
    await pilot.click(VersionTable, offset=(4, row + 2))  # below the border and the header
    await until(pilot, lambda: f"→ v{version} (" in diff_title(screen))


async def test_versions_are_listed_newest_first(fixed_app: AdwApp):
    async with fixed_app.run_test(size=(120, 40)) as pilot:
        screen = await open_history(pilot, FIXED_SUCCEEDED)
        table = screen.query_one(VersionTable)
        assert [key.value for key in table.rows] == ["4", "3", "2", "1"]
        assert cell(screen, 4, "head") == "c81e5f9"
        assert cell(screen, 4, "step") == "build done"
        assert cell(screen, 4, "writer") == "runtime"
        assert cell(screen, 4, "parent") == "3"
        assert cell(screen, 4, "time") == "11:06:00"
        assert cell(screen, 1, "parent") == ""
        assert table.border_title == "versions (4)"
        assert screen.selected == 4
        assert "version 4" in str(screen.query_one("#history-run", Static).content)


async def test_the_diff_compares_the_selected_version_with_its_parent_or_the_mark(
    fixed_app: AdwApp,
):
    async with fixed_app.run_test(size=(120, 40)) as pilot:
        screen = await open_history(pilot, FIXED_SUCCEEDED)
        assert diff_title(screen) == "diff: v3 (parent) → v4 (selected)"
        assert diff_text(screen) == '~ branch_name: null → "feat-issue-3-slugify"'

        await select(pilot, screen, 2)
        await pilot.press("m")
        await until(pilot, lambda: "marked" in diff_title(screen))
        assert diff_title(screen) == (
            "diff: v1 (parent) → v2 (marked: select another version to compare)"
        )
        assert screen.marked == 2
        assert cell(screen, 2, "version").startswith("●")
        await select(pilot, screen, 4)
        assert diff_title(screen) == "diff: v2 (marked) → v4 (selected)"
        assert diff_text(screen).splitlines() == [
            '~ branch_name: null → "feat-issue-3-slugify"',
            '~ plan_file: null → "specs/issue-3-plan.md"',
        ]

        await select(pilot, screen, 1)
        assert diff_title(screen) == "diff: v2 (marked) → v1 (selected)"
        assert diff_text(screen) == '~ issue_class: "/feature" → null'

        await select(pilot, screen, 2)
        await pilot.press("space")  # on the marked version: clears the mark
        await until(pilot, lambda: diff_title(screen) == "diff: v1 (parent) → v2 (selected)")
        assert screen.marked is None
        assert not cell(screen, 2, "version").startswith("●")


async def test_rollback_writes_a_new_version(
    fixed_app: AdwApp, fixed_store: Store, monkeypatch: pytest.MonkeyPatch
):
    notified = record_notifications(fixed_app, monkeypatch)
    async with fixed_app.run_test(size=(80, 24)) as pilot:
        screen = await open_history(pilot, FIXED_SUCCEEDED)
        await select(pilot, screen, 2)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(fixed_app.screen, ConfirmScreen))
        # The fixed run has no worktree: nothing to reset, so no checkbox.
        assert not fixed_app.screen.query(Checkbox)
        await pilot.press("y")
        await until(pilot, lambda: screen.selected == 5)

        history = await fixed_store.history(FIXED_SUCCEEDED)
        assert [(v.version, v.parent) for v in history[:2]] == [(5, 2), (4, 3)]
        assert history[0].actor == "tui"
        assert (await fixed_store.get_run(FIXED_SUCCEEDED)).version == 5
        old = await fixed_store.get_version(FIXED_SUCCEEDED, 2)
        assert (await fixed_store.get_version(FIXED_SUCCEEDED, 5)).state == old.state
        assert cell(screen, 5, "parent") == "↶ 2"
        assert cell(screen, 5, "step") == "rollback to version 2"
        assert diff_title(screen) == "diff: v2 (parent) → v5 (selected)"
        assert "no differences" in diff_text(screen)
        assert notified[-1]["message"] == (
            f"run {FIXED_SUCCEEDED} rolled back to version 2: new version 5"
        )


async def test_cancelling_the_confirmation_writes_nothing(fixed_app: AdwApp, fixed_store: Store):
    async with fixed_app.run_test(size=(80, 24)) as pilot:
        screen = await open_history(pilot, FIXED_SUCCEEDED)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(fixed_app.screen, ConfirmScreen))
        await pilot.click("#confirm-no")
        await until(pilot, lambda: fixed_app.screen is screen)
        await pilot.press("r", "escape")
        await until(pilot, lambda: fixed_app.screen is screen)
        await pilot.pause()
        assert len(await fixed_store.history(FIXED_SUCCEEDED)) == 4
        assert screen.query_one(VersionTable).row_count == 4
        await pilot.press("escape")  # back to the dashboard
        assert fixed_app.screen is fixed_app.dashboard


async def test_a_running_run_is_not_rolled_back(
    fixed_app: AdwApp, fixed_store: Store, monkeypatch: pytest.MonkeyPatch
):
    notified = record_notifications(fixed_app, monkeypatch)
    async with fixed_app.run_test(size=(80, 24)) as pilot:
        await open_history(pilot, FIXED_RUNNING)
        await pilot.press("r")
        await until(pilot, lambda: bool(notified))
        assert not isinstance(fixed_app.screen, ConfirmScreen)
        assert notified[0]["severity"] == "error"
        assert f"run {FIXED_RUNNING} is running" in notified[0]["message"]
        assert len(await fixed_store.history(FIXED_RUNNING)) == 1


async def test_f1_shows_the_help_of_the_focused_widget(fixed_app: AdwApp):
    async with fixed_app.run_test(size=(80, 24)) as pilot:
        screen = await open_history(pilot, FIXED_SUCCEEDED)
        await pilot.press("f1")
        await until(pilot, lambda: bool(screen.query(HelpPanel)))

        def help_text() -> str:
            return screen.query_one(HelpPanel).query_one("#widget-help", Markdown).source

        await until(pilot, lambda: help_text().startswith("## Versions"))
        screen.query_one(StateDiff).focus()
        await until(pilot, lambda: help_text().startswith("## Diff"))


# Rollback with a worktree reset: a real run of the simulated agent (the `plan` workflow
# commits the plan in the run's worktree).


@pytest.fixture
async def planned(store: Store, orchestrator: Orchestrator) -> str:
    issue = await store.issues.create("Add a slugify helper", "Slugs.")
    adw_id = await orchestrator.launch(issue.number, workflow="plan", engine="sim")
    assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
    return adw_id


async def before_the_commit(store: Store, adw_id: str) -> tuple[int, str, Path]:
    """The newest version whose git head is not the worktree's HEAD, that head, and the
    worktree."""
    worktree = Path((await store.load(adw_id)).state.worktree_path or "")
    head = sh(worktree, "rev-parse", "HEAD")
    version = next(v for v in await store.history(adw_id) if v.git_head and v.git_head != head)
    assert version.git_head is not None
    return version.version, version.git_head, worktree


async def test_rollback_can_reset_the_worktree_to_the_versions_commit(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator, planned: str
):
    version, commit, worktree = await before_the_commit(store, planned)
    before = (await store.get_run(planned)).version
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_history(pilot, planned)
        await select(pilot, screen, version)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        option = app.screen.query_one("#confirm-option", Checkbox)
        assert str(option.label).startswith(f"also reset the worktree to {commit[:12]}")
        await pilot.click("#confirm-option")
        assert option.value
        await pilot.click("#confirm-yes")
        await until(pilot, lambda: screen.selected == before + 1)

    assert sh(worktree, "rev-parse", "HEAD") == commit
    new = await store.get_version(planned, before + 1)
    assert (new.parent, new.git_head) == (version, commit)


async def test_a_dirty_worktree_is_not_reset_and_nothing_is_written(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    planned: str,
    monkeypatch: pytest.MonkeyPatch,
):
    version, _, worktree = await before_the_commit(store, planned)
    head = sh(worktree, "rev-parse", "HEAD")
    (worktree / "README.md").write_text("edited, not committed\n")
    before = (await store.get_run(planned)).version
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_history(pilot, planned)
        await select(pilot, screen, version)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        app.screen.query_one("#confirm-option", Checkbox).value = True
        await pilot.press("y")
        await until(pilot, lambda: bool(notified))

    (error,) = notified
    assert error["severity"] == "error"
    assert f"{worktree} has uncommitted changes: commit or stash them first" in error["message"]
    assert (await store.get_run(planned)).version == before
    assert sh(worktree, "rev-parse", "HEAD") == head
    assert (worktree / "README.md").read_text() == "edited, not committed\n"


# Snapshots: the fixed plan_build run at the fixed clock.


async def show_history(pilot: Pilot[None]) -> None:
    await open_history(pilot, FIXED_SUCCEEDED)
    await pilot.pause()


def test_snapshot_history_marked_120x40(snap_compare: SnapCompare, fixed_app: AdwApp):
    """Version 2 marked, version 4 selected: the diff between the two."""

    async def mark(pilot: Pilot[None]) -> None:
        screen = await open_history(pilot, FIXED_SUCCEEDED)
        await pilot.press("down", "down", "m", "up", "up")
        await until(pilot, lambda: diff_title(screen).startswith("diff: v2 (marked) → v4"))
        await pilot.pause()

    assert snap_compare(fixed_app, terminal_size=(120, 40), run_before=mark)


def test_snapshot_history_80x24(snap_compare: SnapCompare, fixed_app: AdwApp):
    assert snap_compare(fixed_app, terminal_size=(80, 24), run_before=show_history)


def test_snapshot_history_rollback_confirmation_80x24(snap_compare: SnapCompare, fixed_app: AdwApp):
    async def confirm(pilot: Pilot[None]) -> None:
        await show_history(pilot)
        await pilot.press("down", "r")
        await pilot.pause()

    assert snap_compare(fixed_app, terminal_size=(80, 24), run_before=confirm)
