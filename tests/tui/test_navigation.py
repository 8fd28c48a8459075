"""Getting around: the keys that open each screen, and the command palette's commands."""

from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import DataTable

from adw_tui.config import Settings
from adw_tui.domain.models import DeadLetterFilter, DeadLetterStatus, NewDeadLetter, RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui import commands
from adw_tui.tui.app import AdwApp, create_app
from adw_tui.tui.preferences import Preferences
from adw_tui.tui.screens.dead_letters import DeadLettersScreen
from adw_tui.tui.screens.history import HistoryScreen
from adw_tui.tui.screens.launch import LaunchScreen
from adw_tui.tui.screens.run_detail import RunDetailScreen
from adw_tui.tui.screens.workflows import WorkflowsScreen
from tests.tui.conftest import (
    FIXED_DEAD,
    FIXED_RUNNING,
    FIXED_SUCCEEDED,
    dead_run,
    record_notifications,
    settle,
    until,
)


async def run_palette_command(pilot: Pilot[None], query: str) -> None:
    """Open the palette, type `query`, take the best match. Keep queries short: the
    palette searches again after every key."""
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(pilot.app.screen, CommandPalette))
    palette = pilot.app.screen
    assert isinstance(palette, CommandPalette)
    await pilot.press(*query)
    # The palette searches in the background, in a worker per query: take the best match
    # once the last one is done, however long a loaded machine takes for it.
    await until(pilot, lambda: searched(palette))
    await pilot.press("enter")
    # The palette closes before the command runs, however long a loaded machine takes.
    await until(pilot, lambda: pilot.app.screen is not palette)
    await settle(pilot)


def searched(palette: CommandPalette) -> bool:
    """The palette has no search left to finish (the keys pressed have all been read)."""
    return not any(
        worker.node is palette
        and worker.group == CommandPalette._GATHER_COMMANDS_GROUP
        and not worker.is_finished
        for worker in palette.workers
    )


def cursor_to(app: AdwApp, adw_id: str) -> None:
    table = app.dashboard.query_one("#runs", DataTable)
    table.move_cursor(row=table.get_row_index(adw_id))


async def test_each_screen_has_its_key(fixed_app: AdwApp):
    async with fixed_app.run_test(size=(120, 40)) as pilot:
        app = fixed_app
        await settle(pilot)
        cursor_to(app, FIXED_SUCCEEDED)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunDetailScreen)
        assert app.screen.adw_id == FIXED_SUCCEEDED
        await pilot.press("h")  # the history of the run on screen
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        assert FIXED_SUCCEEDED in app.screen.sub_title
        await pilot.press("escape", "escape")
        assert app.screen is app.dashboard

        cursor_to(app, FIXED_DEAD)
        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        assert FIXED_DEAD in app.screen.sub_title
        await pilot.press("escape")

        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, DeadLettersScreen)
        depth = len(app.screen_stack)
        await pilot.press("d")  # already there: not opened twice
        assert len(app.screen_stack) == depth
        await pilot.press("escape")

        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, WorkflowsScreen)
        await pilot.press("l")  # launch the highlighted workflow
        await until(pilot, lambda: isinstance(app.screen, LaunchScreen))
        await pilot.press("escape", "escape")
        assert app.screen is app.dashboard


async def test_the_sections_are_modes_each_with_its_own_stack(fixed_app: AdwApp):
    async with fixed_app.run_test(size=(120, 40)) as pilot:
        app = fixed_app
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        letters = app.screen
        assert isinstance(letters, DeadLettersScreen)
        await pilot.press("enter")  # the letter's run, then its history, in the section
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        history = app.screen
        assert not app.check_action("dead_letters", ())  # not opened within itself
        await pilot.press("w")
        await settle(pilot)
        assert [type(screen) for screen in app.screen_stack] == [WorkflowsScreen]
        await pilot.press("escape")  # a section goes back to the dashboard
        await settle(pilot)
        assert app.screen is app.dashboard
        await pilot.press("d")  # the dead letters as they were left
        await settle(pilot)
        assert app.screen is history
        assert len(app.screen_stack) == 3
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert app.screen is letters


async def test_a_click_on_a_run_opens_it(fixed_app: AdwApp):
    async with fixed_app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = fixed_app.dashboard.query_one("#runs", DataTable)
        row = table.get_row_index(FIXED_RUNNING)
        await pilot.click(table, offset=(3, row + 2))  # +2: the border and the header
        await settle(pilot)
        await pilot.click(table, offset=(3, row + 2))  # a click on the cursor row selects it
        await until(pilot, lambda: isinstance(fixed_app.screen, RunDetailScreen))
        assert isinstance(fixed_app.screen, RunDetailScreen)
        assert fixed_app.screen.adw_id == FIXED_RUNNING


async def test_history_needs_a_run(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
):
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test() as pilot:
        await settle(pilot)
        await pilot.press("h")  # no run yet: nothing opens
        await settle(pilot)
        assert app.screen is app.dashboard
        assert not app.check_action("history", ())


async def test_palette_opens_screens_runs_and_the_launch_dialog(fixed_app: AdwApp):
    async with fixed_app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await run_palette_command(pilot, "dead letters")
        assert isinstance(fixed_app.screen, DeadLettersScreen)
        await pilot.press("escape")
        await run_palette_command(pilot, f"jump {FIXED_DEAD}")
        assert isinstance(fixed_app.screen, RunDetailScreen)
        assert fixed_app.screen.adw_id == FIXED_DEAD
        await pilot.press("escape")
        await run_palette_command(pilot, "issue #3")
        await until(pilot, lambda: isinstance(fixed_app.screen, LaunchScreen))
        chosen = str(fixed_app.screen.query_one("#launch-chosen").render())
        assert chosen == "issue #3: Add a slugify helper"
        await pilot.press("escape")
        await run_palette_command(pilot, "workflows")
        assert isinstance(fixed_app.screen, WorkflowsScreen)


async def test_palette_switches_theme_and_keeps_it(fixed_app: AdwApp, user_config_dir: Path):
    async with fixed_app.run_test() as pilot:
        await settle(pilot)
        await run_palette_command(pilot, "high-contrast")
        assert fixed_app.theme == "adw-high-contrast"
    assert Preferences.load(user_config_dir).theme == "adw-high-contrast"


async def test_palette_replays_a_dead_letter(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    letter = await dead_run(store, orchestrator)
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await run_palette_command(pilot, f"replay letter {letter.id}")
        await until(pilot, lambda: any("replayed" in str(n.get("title")) for n in notified))
        assert (await store.dead_letters.get(letter.id)).status is DeadLetterStatus.REPLAYED
        assert (await orchestrator.wait(letter.adw_id)).status is RunStatus.SUCCEEDED


async def test_palette_offers_the_newest_pending_letters_only(
    fixed_app: AdwApp, fixed_store: Store, monkeypatch: pytest.MonkeyPatch
):
    """However many letters there are, the palette reads a bounded, indexed page of the
    pending ones (the dead letters screen lists them all)."""
    await fixed_store.dead_letters.add(
        NewDeadLetter(
            adw_id="99887766",
            workflow="sdlc",
            step="review",
            state_version=1,
            error_class="timeout",
            error_message="idle",
            attempts=1,
        ),
        actor="test",
    )
    pending = [
        letter
        async for letter, _ in fixed_store.dead_letters.newest(
            DeadLetterFilter(status=DeadLetterStatus.PENDING)
        )
    ]
    assert len(pending) >= 2
    monkeypatch.setattr(commands, "PALETTE_LETTERS", 1)
    async with fixed_app.run_test() as pilot:
        await settle(pilot)
        offered = [
            command.text
            for command in await commands.AdwCommands(fixed_app.screen)._gather()
            if command.text.startswith("Replay dead letter")
        ]
    assert offered == [
        f"Replay dead letter {pending[0].id}: {pending[0].adw_id} "
        f"{pending[0].error_class} at {pending[0].step or 'start'}"
    ]
