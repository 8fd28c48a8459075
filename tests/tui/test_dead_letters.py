"""The dead-letters screen: filters, the detail, replay (from the failed step, from the
start, all filtered) and drop behind a confirmation, over a real store and a real
orchestrator with the simulated agent; snapshots with fixed data and clock."""

import io
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Footer, HelpPanel, Markdown, Select, Static

from adw_tui.config import Settings
from adw_tui.domain.durations import format_age
from adw_tui.domain.models import DeadLetter, DeadLetterStatus, NewDeadLetter, RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import AdwApp, create_app
from adw_tui.tui.screens.dead_letters import (
    DeadLettersScreen,
    LetterDetail,
    LetterTable,
    describe,
)
from adw_tui.tui.screens.history import HistoryScreen
from adw_tui.tui.screens.run_detail import RunDetailScreen
from adw_tui.tui.widgets.confirm import ConfirmScreen
from adw_tui.tui.widgets.transcript_file import TranscriptFile
from tests.conftest import create_run
from tests.tui.conftest import (
    FIXED_DEAD,
    NOW,
    SnapCompare,
    dead_run,
    notice,
    record_notifications,
    settle,
    until,
)


async def open_dead_letters(pilot: Pilot[None]) -> DeadLettersScreen:
    """Open the dead letters with the dashboard's `d`: their section, at the app's clock."""
    await pilot.press("d")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, DeadLettersScreen)
    return screen


def rows(screen: DeadLettersScreen) -> list[int]:
    """The ids of the letters in the table, top to bottom."""
    return [int(str(key.value)) for key in screen.query_one(LetterTable).rows]


def cell(screen: DeadLettersScreen, letter_id: int, column: str) -> str:
    return str(screen.query_one(LetterTable).get_cell(str(letter_id), column))


def detail_text(screen: DeadLettersScreen) -> str:
    console = Console(file=io.StringIO(), width=100, record=True)
    console.print(screen.query_one("#dlq-detail-body", Static).content)
    return console.export_text()


async def choose(pilot: Pilot[None], screen: DeadLettersScreen, select: str, value: Any) -> None:
    screen.query_one(select, Select).value = value
    await settle(pilot)


async def add_letter(
    store: Store,
    *,
    workflow: str = "sdlc",
    error_class: str = "rate_limit",
    request: dict[str, Any] | None = None,
) -> DeadLetter:
    """A dead letter of a new run that never ran (nothing to replay it with)."""
    run = await create_run(store, workflow=workflow, issue_number="1")
    return await store.dead_letters.add(
        NewDeadLetter(
            adw_id=run.adw_id,
            workflow=workflow,
            step="build",
            state_version=run.version,
            error_class=error_class,
            error_message=f"{error_class} (test)",
            attempts=2,
            request=request or {},
        ),
        actor="test",
    )


async def steps_run(store: Store, adw_id: str) -> list[str]:
    return [attempt.step for attempt in await store.steps.for_run(adw_id)]


@pytest.fixture
def app(store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator) -> AdwApp:
    return create_app(store, repo, settings, orchestrator=orchestrator)


async def test_letters_are_listed_newest_first_and_filtered(app: AdwApp, store: Store):
    auth = await add_letter(store, error_class="auth")
    limited = await add_letter(store, workflow="plan")
    dropped = await add_letter(store, workflow="plan", error_class="auth")
    await store.dead_letters.drop(dropped.id, actor="test")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_dead_letters(pilot)
        assert rows(screen) == [limited.id, auth.id]  # pending ones, by default
        assert screen.query_one(LetterTable).border_title == "dead letters: 2 shown, 2 pending"
        assert cell(screen, auth.id, "run") == auth.adw_id
        assert cell(screen, auth.id, "error") == "auth"
        assert cell(screen, auth.id, "attempts") == "2"
        assert cell(screen, auth.id, "status") == "pending"
        await choose(pilot, screen, "#dlq-error-class", "auth")
        assert rows(screen) == [auth.id]
        await pilot.click("#dlq-status")  # the mouse opens it, the keys pick "all"
        await pilot.press("down", "down", "down", "enter")
        await settle(pilot)
        assert screen.query_one("#dlq-status", Select).value == "all"
        assert rows(screen) == [dropped.id, auth.id]
        assert cell(screen, dropped.id, "status") == "dropped"
        await choose(pilot, screen, "#dlq-workflow", "plan")
        assert rows(screen) == [dropped.id]
        await choose(pilot, screen, "#dlq-status", "replayed")
        assert rows(screen) == []
        assert "No dead letter matches the filters" in detail_text(screen)


async def test_a_new_letter_shows_up_and_the_filters_stay(app: AdwApp, store: Store):
    first = await add_letter(store, error_class="auth")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_dead_letters(pilot)
        await choose(pilot, screen, "#dlq-error-class", "auth")
        other = await add_letter(store, error_class="timeout")
        again = await add_letter(store, error_class="auth")
        await screen.reload()
        await settle(pilot)
        assert screen.query_one("#dlq-error-class", Select).value == "auth"
        assert rows(screen) == [again.id, first.id]
        # A Select refuses a value it does not offer: "timeout" is offered once it exists.
        await choose(pilot, screen, "#dlq-error-class", "timeout")
        assert rows(screen) == [other.id]


async def test_the_detail_shows_the_error_stderr_tail_and_request(app: AdwApp, store: Store):
    request = {
        "prompt": "/implement specs/plan.md",
        "engine": "claude",
        "model": "claude-sonnet-4-5",
        "cwd": "/work/trees/x",
        "session_id": "sess-42",
        "exit_code": 1,
        "stderr_tail": "warming up\nError: 401 authentication_error\n",
        "max_turns": 30,
    }
    first = await add_letter(store, error_class="auth", request=request)
    second = await add_letter(store, workflow="plan")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_dead_letters(pilot)
        assert screen.selected == second  # the newest, on top
        table = screen.query_one(LetterTable)
        await pilot.click(LetterTable, offset=(4, table.get_row_index(str(first.id)) + 2))
        await settle(pilot)
        assert screen.selected == first
        assert screen.query_one(LetterDetail).border_title == f"dead letter {first.id}"
        text = detail_text(screen)
        for shown in (
            "auth: auth (test)",
            f"{first.adw_id} · sdlc · step build",
            "exit code   1",
            "warming up",
            "Error: 401 authentication_error",
            "engine      claude",
            "model       claude-sonnet-4-5",
            "cwd         /work/trees/x",
            "session     sess-42",
            "max_turns   30",
            "prompt      /implement specs/plan.md",
        ):
            assert shown in text
        await pilot.press("up")
        await settle(pilot)
        assert "session     not recorded" in detail_text(screen)


async def test_replay_from_the_dlq_starts_a_new_attempt(
    app: AdwApp, store: Store, orchestrator: Orchestrator, monkeypatch: pytest.MonkeyPatch
):
    letter = await dead_run(store, orchestrator)
    adw_id = letter.adw_id
    before = await steps_run(store, adw_id)
    assert before.count("implement") == 1  # auth is permanent: no retry
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_dead_letters(pilot)
        assert rows(screen) == [letter.id]
        text = detail_text(screen)
        assert "engine      sim" in text
        assert "/implement" in text  # the prompt of the failed call
        await pilot.press("r")
        said = await notice(pilot, notified, f"dead letter {letter.id} replayed")
        assert said["message"] == f"run {adw_id}: a new attempt started from implement"
        assert rows(screen) == []  # no longer pending
        # The app's own orchestrator ran it: it streams in the dashboard.
        await until(pilot, lambda: adw_id in app.dashboard.panes)
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
        after = await steps_run(store, adw_id)
        assert after.count("implement") == 2  # a new attempt of the step that failed
        assert after.count("plan") == before.count("plan")  # not the steps before it
        replayed = await store.dead_letters.get(letter.id)
        assert replayed.status is DeadLetterStatus.REPLAYED
        assert [replay.from_step for replay in replayed.replays] == ["implement"]
        # A second replay is refused, and said so.
        await choose(pilot, screen, "#dlq-status", "all")
        await pilot.press("r")
        await until(pilot, lambda: notified[-1].get("title") == "not replayed")
        assert notified[-1]["severity"] == "error"
        assert notified[-1]["message"] == f"dead letter {letter.id} is already replayed"


async def test_a_letter_opens_its_run_and_history(
    app: AdwApp, store: Store, orchestrator: Orchestrator
):
    older = await add_letter(store)
    letter = await dead_run(store, orchestrator)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_dead_letters(pilot)
        assert rows(screen) == [letter.id, older.id]
        # A click on another letter selects it; a click on the selected one opens it.
        await pilot.click(LetterTable, offset=(2, 3))
        await until(pilot, lambda: screen.selected == older)
        await pilot.pause(0.1)
        assert app.screen is screen
        await pilot.click(LetterTable, offset=(2, 3))
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        assert cast(RunDetailScreen, app.screen).adw_id == older.adw_id
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("up", "enter")
        await until(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        detail = cast(RunDetailScreen, app.screen)
        assert detail.adw_id == letter.adw_id
        # The newest step is selected: the try that failed, with its transcript.
        transcript = detail.query_one(TranscriptFile)
        await until(pilot, lambda: str(transcript.border_title).startswith("implement"))
        assert transcript.path is not None
        assert transcript.path.parent.name == "attempts"
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        assert app.screen.sub_title == f"state history of run {letter.adw_id}"


async def test_replay_from_the_start_runs_every_step_again(
    app: AdwApp, store: Store, orchestrator: Orchestrator, monkeypatch: pytest.MonkeyPatch
):
    letter = await dead_run(store, orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_dead_letters(pilot)
        await pilot.press("R")
        said = await notice(pilot, notified, f"dead letter {letter.id} replayed")
        assert said["message"].endswith("a new attempt started from classify")
        assert (await orchestrator.wait(letter.adw_id)).status is RunStatus.SUCCEEDED
    steps = await steps_run(store, letter.adw_id)
    assert steps.count("classify") == 2


async def test_replay_all_replays_the_pending_letters_shown(
    app: AdwApp, store: Store, orchestrator: Orchestrator, monkeypatch: pytest.MonkeyPatch
):
    letter = await dead_run(store, orchestrator)
    other = await add_letter(store, error_class="rate_limit")
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dead_letters(pilot)
        await choose(pilot, screen, "#dlq-error-class", "auth")
        await pilot.press("A")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        question = str(dialog.query_one("#confirm-question", Static).content)
        assert question.startswith("Replay 1 pending dead letter (error class auth)")
        await pilot.click("#confirm-yes")
        said = await notice(pilot, notified, "1 dead letter replayed")
        assert said["message"] == f"1 new attempt started: {letter.adw_id}"
        assert (await orchestrator.wait(letter.adw_id)).status is RunStatus.SUCCEEDED
        assert (await store.dead_letters.get(other.id)).status is DeadLetterStatus.PENDING
        # Nothing pending is shown any more: nothing to replay, and no question.
        said_before = len(notified)
        await pilot.press("A")
        # The replayed run's own notices may come after the warning, on a loaded machine.
        await until(pilot, lambda: any(n["severity"] == "warning" for n in notified[said_before:]))
        assert app.screen_stack[-1] is screen


async def test_drop_asks_first(app: AdwApp, store: Store, monkeypatch: pytest.MonkeyPatch):
    letter = await add_letter(store)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dead_letters(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # cancelled: nothing dropped
        await settle(pilot)
        assert app.screen_stack[-1] is screen
        assert (await store.dead_letters.get(letter.id)).status is DeadLetterStatus.PENDING
        assert rows(screen) == [letter.id]
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await until(pilot, lambda: bool(notified))
        assert notified[-1]["title"] == f"dead letter {letter.id} dropped"
        assert (await store.dead_letters.get(letter.id)).status is DeadLetterStatus.DROPPED
        assert rows(screen) == []
        # A dropped letter is neither dropped again nor replayed: said so, no question.
        await choose(pilot, screen, "#dlq-status", "dropped")
        await pilot.press("x")
        await settle(pilot)
        assert app.screen_stack[-1] is screen
        assert notified[-1]["severity"] == "warning"
        await pilot.press("r")
        await settle(pilot)
        assert notified[-1]["message"] == f"dead letter {letter.id} is already dropped"


async def test_an_empty_queue_says_so(app: AdwApp, monkeypatch: pytest.MonkeyPatch):
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_dead_letters(pilot)
        assert rows(screen) == []
        for key in ("r", "R", "x", "A"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen_stack[-1] is screen
        assert [n["severity"] for n in notified] == ["warning"] * 4
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_usable_at_80x24_with_help(fixed_app: AdwApp):
    async with fixed_app.run_test(size=(80, 24)) as pilot:
        screen = await open_dead_letters(pilot)
        table = screen.query_one(LetterTable)
        assert table.has_focus
        assert table.region.right <= 80
        assert sum(column.get_render_width(table) for column in table.columns.values()) <= 78
        assert screen.query_one(LetterDetail).region.height >= 8
        assert screen.query_one(Footer).region.y == 23
        await pilot.press("f1")
        await settle(pilot)
        help_text = str(screen.query_one(HelpPanel).query_one(Markdown).source)
        assert help_text.startswith("## Dead letters")
        screen.query_one("#dlq-status", Select).focus()
        await settle(pilot)
        assert screen.query_one(HelpPanel).query_one(Markdown).source.startswith("## Filters")


@pytest.mark.parametrize(
    ("seconds", "age"),
    [(-5, "0s"), (40, "40s"), (60, "1m"), (3599, "59m"), (5 * 3600 + 59, "5h"), (3 * 86400, "3d")],
)
def test_ages_are_shown_in_their_largest_whole_unit(seconds: int, age: str):
    assert format_age(timedelta(seconds=seconds)) == age


# Snapshots: the fixed store's letter (1, of run FIXED_DEAD), a fixed clock.


async def open_fixed(pilot: Pilot[None]) -> None:
    screen = await open_dead_letters(pilot)
    assert rows(screen) == [1]
    assert cell(screen, 1, "run") == FIXED_DEAD
    assert cell(screen, 1, "age") == "50m"


def test_snapshot_dead_letters_120x40(snap_compare: SnapCompare, fixed_app: AdwApp):
    assert snap_compare(fixed_app, terminal_size=(120, 40), run_before=open_fixed)


def test_snapshot_dead_letters_80x24(snap_compare: SnapCompare, fixed_app: AdwApp):
    assert snap_compare(fixed_app, terminal_size=(80, 24), run_before=open_fixed)


def test_snapshot_drop_confirmation_80x24(snap_compare: SnapCompare, fixed_app: AdwApp):
    assert snap_compare(fixed_app, terminal_size=(80, 24), run_before=open_fixed, press=["x"])


def test_the_detail_shows_a_hostile_error_and_request_without_escape_sequences():
    hostile = "\x1b]52;c;aGk=\x07\x1b[2J\x9b31m\u202ex :bug: [b]x[/]"
    letter = DeadLetter(
        id=1,
        adw_id="abcd1234",
        workflow="sdlc",
        step=hostile,
        state_version=1,
        error_class="agent_error",
        error_message=hostile,
        attempts=3,
        request={"prompt": hostile, "stderr_tail": hostile, "extra": {"k": hostile}},
        created_at=NOW,
    )
    out = io.StringIO()
    colours = {"secondary": "#0000ff", "error": "#ff0000"}
    console = Console(file=out, width=200, force_terminal=False, color_system=None)
    console.print(describe(letter, colours))
    shown = out.getvalue()
    for control in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert control not in shown
    assert "␛]52;c;aGk=␇" in shown
    assert "[b]x[/]" in shown
