"""The run detail screen: real sample repository, real store, real orchestrator with the
simulated agent; snapshots over the fixed runs at the fixed clock."""

import asyncio
import os
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Footer, HelpPanel, Markdown, TabbedContent

from adw_tui.config import Settings
from adw_tui.domain.models import RunRecord, RunStatus, RunWithState
from adw_tui.domain.steps import StepAttempt, StepStatus
from adw_tui.runtime.events import RunChanged, StepFinished
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import AdwApp, create_app
from adw_tui.tui.screens import run_detail
from adw_tui.tui.screens.run_detail import (
    DiffView,
    RunDetailScreen,
    StepTimeline,
    diff_line_text,
)
from adw_tui.tui.widgets.confirm import ConfirmScreen
from adw_tui.tui.widgets.transcript_file import TranscriptFile
from tests.tui.conftest import (
    FIXED_DEAD,
    FIXED_REPO,
    FIXED_RUNNING,
    FIXED_SUCCEEDED,
    NOW,
    SnapCompare,
    record_notifications,
    settle,
    until,
)

HANG_CLASSIFY = {"ADW_SIM_FAULTS": "classify_issue=hang"}
FAIL_CLASSIFY = {"ADW_SIM_FAULTS": "classify_issue=auth"}


async def open_detail(app: AdwApp, pilot: Pilot[None], adw_id: str) -> RunDetailScreen:
    screen = RunDetailScreen(app.store, app.orchestrator, adw_id)
    await app.push_screen(screen)
    await settle(pilot)
    return screen


def rows(screen: RunDetailScreen) -> list[list[str]]:
    table = screen.query_one("#steps", DataTable)
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def visible(widget: TranscriptFile | DiffView) -> list[str]:
    return [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]


async def plan_run(store: Store, orchestrator: Orchestrator, **launch: object) -> str:
    issue = await store.issues.create("Add a slugify helper", "Turn titles into URL slugs.")
    return await orchestrator.launch(issue.number, workflow="plan", **launch)  # type: ignore[arg-type]


async def started_attempt(store: Store, adw_id: str) -> StepAttempt:
    """The run's first attempt, once its agent's process group is recorded."""
    for _ in range(400):
        attempts = await store.steps.for_run(adw_id)
        if attempts and attempts[0].pgid is not None:
            return attempts[0]
        await asyncio.sleep(0.025)
    raise AssertionError("the agent never started")


async def test_a_finished_run_s_timeline_and_its_steps_transcripts(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
):
    adw_id = await plan_run(store, orchestrator)
    assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
    timeline = await store.steps.timeline(adw_id)
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(app, pilot, adw_id)
        table = rows(screen)
        assert [row[0] for row in table] == [entry.step for entry in timeline]
        classify = table[0]
        assert classify[1:4] == ["1", "succeeded", "1"]
        assert classify[5].startswith("$")
        session = timeline[0].session_id
        assert session is not None
        assert classify[7] == session[:8]
        assert f"run {adw_id}" in str(screen.query_one("#run-summary").render())

        transcript = screen.query_one(TranscriptFile)
        # The newest step is selected at first (open_pr, skipped: the local tracker hosts
        # nothing); a click selects another, whose transcript is its attempt's own file,
        # the same as the agent's latest raw_output.jsonl.
        await until(pilot, lambda: "open_pr called no agent" in visible(transcript)[0])
        ship = timeline[-3]
        assert (ship.agent, len(ship.attempt_ids)) == ("pr_creator", 1)
        kept = orchestrator.attempt_transcript_path(adw_id, "pr_creator", ship.attempt_ids[0])
        assert kept is not None
        await pilot.click("#steps", offset=(3, 1 + len(timeline) - 2))
        await until(pilot, lambda: transcript.path == kept)
        assert kept.samefile(orchestrator.transcript_path(adw_id, "pr_creator"))
        await pilot.click("#steps", offset=(3, 2))  # the first row, under the header
        await until(
            pilot,
            lambda: transcript.path is not None and "issue_classifier" in str(transcript.path),
        )
        await until(
            pilot, lambda: any(line.startswith("● session") for line in visible(transcript))
        )
        assert transcript.border_title == f"classify · issue_classifier · session {session}"

        worktree = [row[0] for row in table].index("worktree")
        await pilot.click("#steps", offset=(3, 2 + worktree))
        await until(pilot, lambda: "worktree called no agent" in visible(transcript)[0])


async def test_each_try_of_a_retried_step_shows_its_own_transcript(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
):
    adw_id = await plan_run(store, orchestrator, engine_env={"ADW_SIM_FAULTS": "feature=fail_once"})
    assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
    timeline = await store.steps.timeline(adw_id)
    plan_row = [visit.step for visit in timeline].index("plan")
    first_try, second_try = timeline[plan_row].attempt_ids
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(app, pilot, adw_id)
        transcript = screen.query_one(TranscriptFile)
        assert "left_square_bracket" not in screen.active_bindings  # the selected step: 1 try

        def title() -> str:
            return str(transcript.border_title)

        await pilot.click("#steps", offset=(3, 2 + plan_row))
        await until(pilot, lambda: "plan · sdlc_planner · try 2 of 2 · session" in title())
        assert "left_square_bracket" in screen.active_bindings
        assert transcript.path == orchestrator.attempt_transcript_path(
            adw_id, "sdlc_planner", second_try
        )

        await pilot.press("left_square_bracket")
        await until(pilot, lambda: title() == "plan · sdlc_planner · try 1 of 2")
        assert transcript.path == orchestrator.attempt_transcript_path(
            adw_id, "sdlc_planner", first_try
        )
        await until(
            pilot, lambda: "simulated fault fail_once for /feature" in visible(transcript)[1]
        )
        await pilot.press("left_square_bracket")  # no try before the first: nothing moves
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: "try 2 of 2" in title())
        await until(pilot, lambda: "fail_once" not in visible(transcript)[1])


async def test_the_diff_shows_the_worktree_s_changes(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
):
    adw_id = await plan_run(store, orchestrator)
    await orchestrator.wait(adw_id)
    state = (await store.load(adw_id)).state
    assert state.worktree_path is not None
    worktree = Path(state.worktree_path)
    (worktree / "README.md").write_text("# textkit\n\nChanged, not committed.\n")
    (worktree / "NOTES.md").write_text("A new file.\n")
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(app, pilot, adw_id)
        await pilot.press("D")
        assert screen.query_one(TabbedContent).active == "diff-tab"
        diff = screen.query_one(DiffView)
        await until(pilot, lambda: diff.line_count > 1)
        text = "\n".join(diff.plain_lines())
        assert f"+++ b/{state.plan_file}" in text  # committed by the run
        assert "+Changed, not committed." in text
        assert "+++ b/NOTES.md" in text
        assert ".ports.env" not in text  # ignored
        await pilot.press("D")
        assert screen.query_one(TabbedContent).active == "transcript-tab"


async def test_cancel_kills_the_agent(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        adw_id = await plan_run(store, orchestrator, engine_env=HANG_CLASSIFY)
        screen = await open_detail(app, pilot, adw_id)
        attempt = await started_attempt(store, adw_id)
        assert attempt.pgid is not None
        transcript = screen.query_one(TranscriptFile)
        # The live step's transcript is followed as the agent writes it.
        await until(
            pilot, lambda: any(line.startswith("● session") for line in visible(transcript))
        )
        assert transcript.following
        await until(pilot, lambda: rows(screen)[0][2] == "running")

        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: any(n["message"] == f"run {adw_id} cancelled" for n in notified))
        assert (await store.get_run(adw_id)).status is RunStatus.CANCELLED
        with pytest.raises(ProcessLookupError):
            os.killpg(attempt.pgid, 0)
        await until(pilot, lambda: "cancelled" in str(screen.query_one("#run-summary").render()))
        assert not transcript.following

        await pilot.press("c")  # it has ended: nothing to ask
        assert app.screen is screen
        assert "nothing to cancel" in notified[-1]["message"]


async def test_a_run_executed_here_is_read_on_its_events_not_every_second(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(run_detail, "REFRESH_S", 0.1)
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(120, 40)) as pilot:
        adw_id = await plan_run(store, orchestrator, engine_env=HANG_CLASSIFY)
        screen = await open_detail(app, pilot, adw_id)
        await started_attempt(store, adw_id)
        await until(pilot, lambda: rows(screen)[0][2] == "running")
        await settle(pilot)
        loads: list[str] = []
        load = store.load

        async def counting_load(adw_id: str) -> RunWithState:
            loads.append(adw_id)
            return await load(adw_id)

        monkeypatch.setattr(store, "load", counting_load)
        time_shown = rows(screen)[0][4]
        await until(pilot, lambda: rows(screen)[0][4] != time_shown)  # the clock still runs
        assert loads == []  # no event: nothing read
        await orchestrator.cancel(adw_id)  # an event: read at once
        await until(pilot, lambda: "cancelled" in str(screen.query_one("#run-summary").render()))
        assert loads


async def test_the_detail_follows_its_run_s_events_until_it_goes(
    fixed_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(run_detail, "REFRESH_S", 60)
    app, screen = fixed_detail(fixed_store, tmp_path, FIXED_RUNNING)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(screen)
        await settle(pilot)
        reloads: list[None] = []

        async def counting_reload() -> None:
            reloads.append(None)

        monkeypatch.setattr(screen, "reload", counting_reload)
        app.runtime_events.publish(StepFinished(FIXED_RUNNING, "implement", StepStatus.FAILED))
        app.runtime_events.publish(RunChanged(FIXED_SUCCEEDED, RunStatus.SUCCEEDED))  # not its
        await settle(pilot)
        assert len(reloads) == 1
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is app.dashboard
        app.runtime_events.publish(RunChanged(FIXED_RUNNING, RunStatus.FAILED))
        await settle(pilot)
        assert len(reloads) == 1  # gone: unsubscribed


async def test_an_ended_run_is_read_again_only_when_its_row_changes(
    fixed_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A dead-lettered run at rest: each fallback check (in case a notice was missed)
    reads its row alone (by key), not its state, timeline and letter; a write to the
    run reads them again (its notice, or the next check)."""
    monkeypatch.setattr(run_detail, "FALLBACK_S", 0.05)
    app, screen = fixed_detail(fixed_store, tmp_path, FIXED_DEAD)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(screen)
        await settle(pilot)
        loads: list[str] = []
        checks: list[str] = []
        load, get_run = fixed_store.load, fixed_store.get_run

        async def counting_load(adw_id: str) -> RunWithState:
            loads.append(adw_id)
            return await load(adw_id)

        async def counting_get_run(adw_id: str) -> RunRecord:
            checks.append(adw_id)
            return await get_run(adw_id)

        monkeypatch.setattr(fixed_store, "load", counting_load)
        monkeypatch.setattr(fixed_store, "get_run", counting_get_run)
        await until(pilot, lambda: len(checks) >= 3)
        assert loads == []
        await fixed_store.set_status(FIXED_DEAD, RunStatus.FAILED, actor="test")
        await until(pilot, lambda: FIXED_DEAD in loads)
        await until(pilot, lambda: "failed" in str(screen.query_one("#run-summary").render()))


async def test_retry_replays_a_dead_letter_as_a_new_attempt(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    adw_id = await plan_run(store, orchestrator, engine_env=FAIL_CLASSIFY)
    assert (await orchestrator.wait(adw_id)).status is RunStatus.DEAD_LETTERED
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(app, pilot, adw_id)
        summary = str(screen.query_one("#run-summary").render())
        assert "auth at classify" in summary
        assert len(await store.steps.for_run(adw_id)) == 1
        await pilot.press("t")
        await until(pilot, lambda: any(n.get("title") == "retrying" for n in notified))
        run = await orchestrator.wait(adw_id)
        assert run.status is RunStatus.SUCCEEDED  # the replay runs without the fault
        attempts = [a for a in await store.steps.for_run(adw_id) if a.step == "classify"]
        assert len(attempts) == 2
        assert (await store.dead_letters.list()) == []
        await until(pilot, lambda: "succeeded" in str(screen.query_one("#run-summary").render()))


async def test_refused_actions_say_why(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    adw_id = await plan_run(store, orchestrator)
    await orchestrator.wait(adw_id)
    worktree = (await store.load(adw_id)).state.worktree_path
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_detail(app, pilot, adw_id)
        await pilot.press("t")
        await until(pilot, lambda: len(notified) == 1)
        assert notified[0]["message"] == f"run {adw_id} succeeded: there is nothing to retry"
        assert notified[0]["severity"] == "error"
        await pilot.press("y")
        assert app.clipboard == worktree
        assert (notified[1]["message"], notified[1]["title"]) == (worktree, "worktree path copied")
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_a_run_s_pull_request_is_shown_and_o_opens_it(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    adw_id = await plan_run(store, orchestrator)
    await orchestrator.wait(adw_id)
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    opened: list[str] = []
    # The browser is the one thing a test cannot reach: note what it would be asked.
    monkeypatch.setattr(app, "open_url", lambda url, new_tab=True: opened.append(url))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_detail(app, pilot, adw_id)
        assert "pull request" not in str(screen.query_one("#run-summary").render())
        await pilot.press("o")
        assert opened == []
        url = "https://github.com/octo/hello/pull/2"
        loaded = await store.load(adw_id)
        data = {**loaded.state.as_data(), "pr_number": 2, "pr_url": url}
        await store.save(adw_id, data, loaded.run.version, "open_pr: succeeded", "test")
        await screen.reload()
        await settle(pilot)
        assert f"pull request #2 {url} (o opens it)" in str(
            screen.query_one("#run-summary").render()
        )
        await pilot.press("o")
        assert opened == [url]
        # A URL that is not the web's is never handed to a browser.
        loaded = await store.load(adw_id)
        data = {**loaded.state.as_data(), "pr_url": "file:///etc/passwd"}
        await store.save(adw_id, data, loaded.run.version, "edited", "test")
        await screen.reload()
        await pilot.press("o")
        assert opened == [url]


async def test_usable_at_80x24_with_help_and_the_mouse(fixed_store: Store, tmp_path: Path):
    app, screen = fixed_detail(fixed_store, tmp_path, FIXED_RUNNING)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(screen)
        transcript = screen.query_one(TranscriptFile)
        await until(pilot, lambda: transcript.line_count == 4)
        steps = screen.query_one(StepTimeline)
        assert steps.virtual_size.width <= steps.scrollable_content_region.width  # no scroll
        assert transcript.scrollable_content_region.height >= 4
        assert screen.query_one(Footer).region.y == 23

        await pilot.press("f1")
        help_text = screen.query_one(HelpPanel).query_one(Markdown)
        await until(pilot, lambda: "## Steps" in help_text.source)  # the focused table's help
        await pilot.pause()  # the help panel narrows the transcript: click where it is now
        await pilot.click("#transcript")
        await until(pilot, lambda: transcript.has_focus)
        await until(pilot, lambda: "## Transcript" in help_text.source)
        await pilot.press("f1")

        await pilot.click("Tab#--content-tab-diff-tab")
        diff = screen.query_one(DiffView)
        await until(pilot, lambda: diff.line_count == 1)
        assert diff.plain_lines() == [
            f"run {FIXED_RUNNING} has no worktree yet: its diff shows once its worktree step "
            "has run"
        ]


# Snapshots: the fixed runs at the fixed clock. The orchestrator works in `tmp_path`,
# where the fixed store keeps the running run's transcript; the app shows FIXED_REPO.


def fixed_detail(store: Store, tmp_path: Path, adw_id: str) -> tuple[AdwApp, RunDetailScreen]:
    settings = Settings(max_concurrent=4, engine="claude")
    orchestrator = Orchestrator(store, tmp_path, settings)
    app = create_app(store, FIXED_REPO, settings, orchestrator=orchestrator, clock=lambda: NOW)
    return app, RunDetailScreen(store, orchestrator, adw_id, clock=lambda: NOW)


def snapshot(
    snap_compare: SnapCompare, store: Store, tmp_path: Path, adw_id: str, size: tuple[int, int]
) -> bool:
    app, screen = fixed_detail(store, tmp_path, adw_id)

    async def open_screen(pilot: Pilot[None]) -> None:
        await app.push_screen(screen)
        transcript = screen.query_one(TranscriptFile)
        await until(
            pilot,
            lambda: (
                not (transcript.indexing or transcript.reading) and bool(transcript.border_title)
            ),
        )
        await settle(pilot)

    return bool(snap_compare(app, terminal_size=size, run_before=open_screen))


def test_snapshot_running_run_120x40(snap_compare: SnapCompare, fixed_store: Store, tmp_path: Path):
    assert snapshot(snap_compare, fixed_store, tmp_path, FIXED_RUNNING, (120, 40))


def test_snapshot_running_run_80x24(snap_compare: SnapCompare, fixed_store: Store, tmp_path: Path):
    assert snapshot(snap_compare, fixed_store, tmp_path, FIXED_RUNNING, (80, 24))


def test_snapshot_succeeded_run_80x24(
    snap_compare: SnapCompare, fixed_store: Store, tmp_path: Path
):
    assert snapshot(snap_compare, fixed_store, tmp_path, FIXED_SUCCEEDED, (80, 24))


def test_snapshot_dead_lettered_run_120x40(
    snap_compare: SnapCompare, fixed_store: Store, tmp_path: Path
):
    assert snapshot(snap_compare, fixed_store, tmp_path, FIXED_DEAD, (120, 40))


def test_a_diff_line_written_by_an_agent_shows_its_escape_sequences_as_text():
    colours = {"primary": "#0000ff", "success": "#00ff00", "error": "#ff0000"}
    text = diff_line_text("+print('\x1b]0;pwned\x07\x1b[2J')\t# x", colours)
    assert "\x1b" not in text.plain
    assert "\x07" not in text.plain
    assert "\t" not in text.plain
    assert text.plain.startswith("+print('␛]0;pwned␇␛[2J')")
    assert [span.style for span in text.spans] == ["#00ff00"]  # the theme's success colour
