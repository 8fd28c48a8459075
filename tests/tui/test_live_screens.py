"""Run detail (its steps, and the transcript of a step on another host), the fleet screen
and the dashboard's fleet gauge, live on both engines: what
another connection (another process, another host) commits shows within 0.5 s (the
median of each test's changes) with their polling turned off (`REFRESH_S`,
`FALLBACK_S`, `TICK_S`): only the store's change notices can move them. A worker's
heartbeat age ticks by the screen's own clock, and it is marked silent by it, without a
read (its heartbeats notify nobody)."""

import json
import statistics
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable

from adw_tui.config import Settings
from adw_tui.domain.fleet import WorkerRecord
from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui import fleet_watch
from adw_tui.tui.app import create_app
from adw_tui.tui.screens import dashboard, fleet, run_detail
from adw_tui.tui.screens.dashboard import ResourceGauges
from adw_tui.tui.screens.fleet import FleetScreen
from adw_tui.tui.screens.run_detail import RunDetailScreen
from adw_tui.tui.widgets.row_table import RowTable
from adw_tui.tui.widgets.transcript_file import TranscriptFile
from tests.conftest import RepoDatabase, create_run
from tests.tui.conftest import cell_writes, settle, until

BAR_S = 0.5
NEVER_S = 3600.0
NEVER_SHOWN_S = 10.0
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def other(repo: Path, repo_db: RepoDatabase) -> AsyncIterator[Store]:
    """Another process's store on the same database (another host's, on PostgreSQL)."""
    async with await Store.open(repo_db.of(repo)) as opened:
        yield opened


@pytest.fixture
def no_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    for module, name in (
        (dashboard, "REFRESH_S"),
        (run_detail, "REFRESH_S"),
        (run_detail, "FALLBACK_S"),
        (fleet, "TICK_S"),
        (fleet, "FALLBACK_S"),
        (fleet_watch, "FALLBACK_S"),
    ):
        monkeypatch.setattr(module, name, NEVER_S)


class Latencies:
    """How long each change took to show (checked every 10 ms); only notices can show
    it, so a change that never shows fails at `NEVER_SHOWN_S`. The bar holds for their
    median: one change slowed by a loaded machine does not fail the test."""

    def __init__(self, pilot: Pilot[None]) -> None:
        self._pilot = pilot
        self.seen_s: list[float] = []

    async def shown(self, condition: Callable[[], bool]) -> None:
        started = time.monotonic()
        while not condition():
            assert time.monotonic() - started < NEVER_SHOWN_S, "never shown"
            await self._pilot.pause(0.01)
        self.seen_s.append(time.monotonic() - started)

    def within_bar(self) -> bool:
        return statistics.median(self.seen_s) < BAR_S


def worker(beat: datetime, **moved: object) -> WorkerRecord:
    fields: dict[str, object] = {
        "name": "far-1", "host": "far.lan", "pid": 7, "slots": 2, "started_at": START,
        "heartbeat_at": beat, "memory_percent": 40.0,
    }  # fmt: skip
    return WorkerRecord.model_validate({**fields, **moved})


def cells(table: RowTable[object], key: str) -> list[str]:
    return [str(cell) for cell in table.get_row(key)]


@pytest.mark.usefixtures("no_polling")
async def test_a_run_detail_follows_what_another_host_writes_to_its_run(
    store: Store, other: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
) -> None:
    run = await create_run(store, workflow="plan")
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = RunDetailScreen(store, orchestrator, run.adw_id)
        await app.push_screen(screen)
        await settle(pilot)
        latencies = Latencies(pilot)
        steps = screen.query_one("#steps", DataTable)
        summary = screen.query_one("#run-summary")
        assert steps.row_count == 0

        await other.steps.start(run.adw_id, "classify", visit=1, attempt=1, agent="classifier")
        await latencies.shown(lambda: steps.row_count == 1)
        assert str(steps.get_row_at(0)[2]) == "running"
        await other.steps.start(run.adw_id, "plan", visit=1, attempt=1, agent="planner")
        await latencies.shown(lambda: steps.row_count == 2)
        await other.set_status(run.adw_id, RunStatus.FAILED, actor="far")
        await latencies.shown(lambda: "failed" in str(summary.render()))
        assert latencies.within_bar(), latencies.seen_s


def said(text: str, *, end: str = "\n") -> str:
    """A line of Claude's stream in which the agent says `text`."""
    return (
        json.dumps({"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}})
        + end
    )


def shown_text(transcript: TranscriptFile) -> str:
    return "\n".join(transcript.render_line(y).text for y in range(transcript.size.height))


@pytest.mark.usefixtures("no_polling")
async def test_a_run_detail_follows_the_transcript_a_worker_on_another_host_ships(
    store: Store, other: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
) -> None:
    """The step's agent runs on another host (its file is there): its transcript is the
    chunks the worker writes to the database, each shown as it comes, the last (its
    line unended) before the step's end stops the following."""
    run = await store.create_run({"adw_id": "far00001"}, workflow="plan", actor="t", owner="far:7")
    attempt = await other.steps.start(
        run.adw_id, "plan", visit=1, attempt=1, agent="sdlc_planner", engine="claude"
    )
    await other.transcripts.append(attempt, 1, said("reading the issue"))
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = RunDetailScreen(store, orchestrator, run.adw_id)
        await app.push_screen(screen)
        transcript = screen.query_one(TranscriptFile)
        latencies = Latencies(pilot)
        await latencies.shown(lambda: "reading the issue" in shown_text(transcript))
        assert transcript.following

        await other.transcripts.append(attempt, 2, said("writing the plan") + said("plan done"))
        await latencies.shown(lambda: "plan done" in shown_text(transcript))
        await other.transcripts.append(attempt, 3, said("bye", end=""))
        await other.steps.finish(attempt, StepStatus.SUCCEEDED)
        await latencies.shown(lambda: "bye" in shown_text(transcript))
        await latencies.shown(lambda: not transcript.following)
        assert transcript.line_count == 4
        assert latencies.within_bar(), latencies.seen_s
        assert transcript.path is not None
        copies = transcript.path.parent
    assert not copies.exists()  # the copies go with the screen
    assert not (repo / "agents" / run.adw_id).exists()


async def test_a_run_detail_reads_an_ended_step_s_transcript_from_the_database_without_its_file(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
) -> None:
    """A run that ended on another host, no longer owned: its steps' files are not on
    this host, their chunks in the database are."""
    run = await create_run(store, "far00002", workflow="plan")
    attempt = await store.steps.start(run.adw_id, "plan", visit=1, attempt=1, agent="sdlc_planner")
    await store.transcripts.append(attempt, 1, said("planned elsewhere"))
    await store.steps.finish(attempt, StepStatus.SUCCEEDED)
    await store.set_status(run.adw_id, RunStatus.SUCCEEDED, actor="far")
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = RunDetailScreen(store, orchestrator, run.adw_id)
        await app.push_screen(screen)
        transcript = screen.query_one(TranscriptFile)
        await until(pilot, lambda: "planned elsewhere" in shown_text(transcript), within_s=10)
        assert not transcript.following


@pytest.mark.usefixtures("no_polling")
async def test_the_fleet_screen_and_gauge_follow_workers_another_host_registers(
    store: Store, other: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
) -> None:
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(160, 40)) as pilot:
        latencies = Latencies(pilot)
        gauges = app.dashboard.query_one(ResourceGauges)
        await settle(pilot)
        assert "fleet" not in str(gauges.render())
        now = datetime.now(UTC)
        await other.fleet.register(worker(now))
        await latencies.shown(lambda: "fleet 1 worker," in str(gauges.render()))

        await pilot.press("F")
        await until(pilot, lambda: isinstance(app.screen, FleetScreen))
        table = app.screen.query_one(RowTable)
        summary = app.screen.query_one("#fleet-summary")
        await until(pilot, lambda: table.row_count == 1)
        assert cells(table, "far-1")[4] == "0"
        await other.fleet.register(worker(now, running=2))
        await latencies.shown(lambda: cells(table, "far-1")[4] == "2")
        issue = await other.issues.create("Add a slugify helper", "Slugs.")
        queuer = Orchestrator(other, repo, settings)
        try:
            await queuer.launch(issue.number, workflow="plan", fleet_labels=[])
        finally:
            await queuer.aclose()
        await latencies.shown(lambda: "1 runs waiting" in str(summary.render()))
        await other.fleet.register(worker(now, stopped_at=now))
        await latencies.shown(lambda: cells(table, "far-1")[-1] == "stopped")
        await other.fleet.forget_workers((now + timedelta(days=1)).isoformat())
        await latencies.shown(lambda: table.row_count == 0)
        assert latencies.within_bar(), latencies.seen_s


async def test_a_worker_s_age_ticks_and_it_is_marked_silent_without_a_read(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its heartbeats notify nobody: every tick draws its heartbeat's age and its state
    again, from the heartbeat last read, and no other cell, without a read; it is marked
    silent the tick its age passes 30 s. A read (`r`, or the fallback's) brings the
    heartbeats it missed."""
    monkeypatch.setattr(fleet, "TICK_S", 0.02)
    monkeypatch.setattr(fleet, "FALLBACK_S", NEVER_S)
    now = [START]
    reads: list[None] = []
    read_workers = store.fleet.workers

    async def counted() -> list[WorkerRecord]:
        reads.append(None)
        return await read_workers()

    monkeypatch.setattr(store.fleet, "workers", counted)
    await store.fleet.register(worker(START))
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = FleetScreen(store, lambda: now[0])
        await app.push_screen(screen)
        table = screen.query_one(RowTable)
        summary = screen.query_one("#fleet-summary")
        await until(pilot, lambda: table.row_count == 1)
        read_at_start = len(reads)
        writes = cell_writes(table)

        now[0] = START + timedelta(seconds=12)
        await until(pilot, lambda: cells(table, "far-1")[7] == "12s ago")
        assert {str(column) for _, column, *_ in writes} == {"heartbeat", "state"}
        now[0] = START + timedelta(seconds=31)
        await until(pilot, lambda: cells(table, "far-1")[-1] == "silent")
        assert cells(table, "far-1")[7] == "31s ago"
        assert "1 silent" in str(summary.render())
        assert len(reads) == read_at_start

        await store.fleet.register(worker(START + timedelta(seconds=30)))  # no notice
        await pilot.press("r")
        await until(pilot, lambda: cells(table, "far-1")[-1] == "working")
        assert cells(table, "far-1")[7] == "1s ago"
        assert len(reads) == read_at_start + 1
