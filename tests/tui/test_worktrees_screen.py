"""The worktrees screen (`W`) on runs the simulated agent ran for real: each worktree with
its run, status, dirtiness and size; `x` removes one after a confirmation, never a running
run's, uncommitted work only once the question said it would be lost, and an unmerged
branch is kept."""

import subprocess
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Static

from adw_tui.config import Settings
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import create_app
from adw_tui.tui.screens.worktrees import WorktreesScreen
from adw_tui.tui.widgets.confirm import ConfirmScreen
from adw_tui.tui.widgets.row_table import RowTable
from tests.tui.conftest import notice, record_notifications, settle, until


async def plan_runs(store: Store, orchestrator: Orchestrator, count: int) -> list[str]:
    ids = []
    for number in range(count):
        issue = await store.issues.create(f"Add helper number {number}", "x")
        adw_id = await orchestrator.launch(issue.number, workflow="plan")
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
        ids.append(adw_id)
    return ids


def branch_exists(repo: Path, branch: str) -> bool:
    found = subprocess.run(
        ["git", "-C", str(repo), "branch", "--list", branch], capture_output=True, text=True
    )
    return bool(found.stdout.strip())


def rows(screen: WorktreesScreen) -> dict[str, list[str]]:
    table = screen.query_one(RowTable)
    return {str(key.value): [str(cell) for cell in table.get_row(key)] for key in table.rows}


async def open_worktrees(pilot: Pilot[None]) -> WorktreesScreen:
    await pilot.press("W")
    screen = pilot.app.screen
    assert isinstance(screen, WorktreesScreen)
    summary = screen.query_one("#worktrees-summary", Static)
    await until(pilot, lambda: "measuring" not in str(summary.render()) and bool(rows(screen)))
    return screen


async def confirm(pilot: Pilot[None], *, tick: bool = False) -> str:
    """Answer the open confirmation (ticking its option first); return its question."""
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
    dialog = pilot.app.screen
    question = str(dialog.query_one("#confirm-question", Static).render())
    if tick:
        dialog.query_one(Checkbox).value = True
    await pilot.press("y")
    await settle(pilot)
    return question


@pytest.mark.slow
async def test_the_screen_lists_and_removes_what_it_may(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    ended, in_use, dirty = await plan_runs(store, orchestrator, 3)
    await store.set_status(in_use, RunStatus.RUNNING, actor="test")
    (repo / "trees" / dirty / "notes.txt").write_text("not committed")
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(160, 40)) as pilot:
        notified = record_notifications(app, monkeypatch)
        screen = await open_worktrees(pilot)
        listed = rows(screen)
        assert set(listed) == {ended, in_use, dirty}
        assert [listed[i][1] for i in (ended, in_use, dirty)] == [
            "succeeded",
            "running",
            "succeeded",
        ]
        assert [listed[i][5] for i in (ended, in_use, dirty)] == ["", "", "dirty"]
        assert all(listed[i][3].endswith(("B", "KiB", "MiB")) for i in listed), listed
        assert "3 worktrees under" in str(screen.query_one("#worktrees-summary", Static).render())

        table = screen.query_one(RowTable)
        table.move_cursor_to(in_use)
        await pilot.press("x")
        await confirm(pilot)
        refused = await notice(pilot, notified, "worktree kept")
        assert f"run {in_use} is running" in refused["message"]
        assert (repo / "trees" / in_use).is_dir()

        notified.clear()
        table.move_cursor_to(dirty)
        await pilot.press("x")
        branch = listed[dirty][2]
        assert "uncommitted work, which will be lost" in await confirm(pilot, tick=True)
        unmerged = await notice(pilot, notified, "worktree kept")
        assert "nothing was removed" in unmerged["message"]
        assert (repo / "trees" / dirty / "notes.txt").read_text() == "not committed"

        notified.clear()
        await pilot.press("x")
        await confirm(pilot)
        await notice(pilot, notified, "worktree removed")
        assert not (repo / "trees" / dirty).exists()
        assert branch_exists(repo, branch)
        await until(pilot, lambda: set(rows(screen)) == {ended, in_use})

        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, WorktreesScreen)
    removals = [e for e in await store.audit.entries() if e.action == "worktree.remove"]
    assert [entry.adw_id for entry in removals] == [dirty]
    assert (await store.get_run(dirty)).status is RunStatus.SUCCEEDED
