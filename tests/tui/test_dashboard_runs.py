"""The dashboard with a long history, and with runs other processes execute.

A thousand runs: the first frame shows the newest at once, the table holds a window of
them, a refresh with nothing changed reads no rows, and one that finds a change writes
only the cells that changed. A run an `adw run` in another process
executes gets a live pane fed from its transcript file.
"""

import asyncio
import gc
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from adw_tui.config import Settings
from adw_tui.domain.models import RunRecord, RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui import heap
from adw_tui.tui.app import create_app
from adw_tui.tui.screens import dashboard
from adw_tui.tui.screens.dashboard import RunTable
from tests.conftest import adw_environment, db_argument
from tests.tui.conftest import cell_writes, until

MANY = 1000


async def create_runs(store: Store, count: int) -> None:
    """`count` finished runs; run n has the id f"{n:08x}" (the newest is the last)."""
    for number in range(count):
        state = {"adw_id": f"{number:08x}", "issue_number": str(number)}
        await store.create_run(
            state, workflow="plan", issue=str(number), actor="test", status=RunStatus.SUCCEEDED
        )


async def test_with_many_runs_the_table_holds_a_window_and_writes_only_what_changed(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
):
    await create_runs(store, MANY)
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    started = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown_after = time.perf_counter() - started
        table = app.dashboard.query_one("#runs", RunTable)
        assert table.row_count == table.window < MANY
        newest = [str(table.get_row_at(row)[0]) for row in range(3)]
        assert newest == [f"{number:08x}" for number in (MANY - 1, MANY - 2, MANY - 3)]
        assert table.border_subtitle == "1 of 1,000"
        # Seconds with the table holding every run (and minutes once refreshes rewrote
        # each cell); a generous bound, for a loaded machine.
        assert shown_after < 5

        writes = cell_writes(table)
        reads = count_reads(table)
        await app.dashboard.refresh_runs()
        assert writes == []  # nothing changed: nothing read but the marker, nothing written
        assert reads == []
        shown = f"{MANY - 5:08x}"
        table.move_cursor_to(shown)
        await store.set_status(shown, RunStatus.FAILED, actor="test")
        await app.dashboard.refresh_runs()
        assert reads == [(0, table.window)]
        # Only that run's row, its status cell (and its elapsed time, which ends at the
        # new updated_at and so may cross a second since the run was created).
        assert {args[0] for args in writes} == {shown}
        columns = {args[1] for args in writes}
        assert "status" in columns
        assert columns <= {"status", "elapsed"}
        assert table.cursor_key == shown
        # The last run of all is a keystroke away, read as a window of its own.
        await pilot.press("ctrl+end")
        await until(pilot, lambda: table.cursor_key == "00000000")
        assert table.border_subtitle == "1,000 of 1,000"
        assert table.row_count == table.window


def count_reads(table: RunTable) -> list[tuple[int, int]]:
    """Record each window the table reads from its listing (and still read it)."""
    reads: list[tuple[int, int]] = []
    listing = table.listing
    rows = listing.rows

    async def counting_rows(offset: int, limit: int) -> Sequence[RunRecord]:
        reads.append((offset, limit))
        return await rows(offset, limit)

    listing.rows = counting_rows  # type: ignore[method-assign]
    return reads


async def test_the_heap_is_frozen_while_the_dashboard_is_up(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(heap, "FREEZE_AFTER_S", 0.05)
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test() as pilot:
        await until(pilot, lambda: gc.get_freeze_count() > 0, within_s=10)
    assert gc.get_freeze_count() == 0


def adw_run(repo: Path, issue: int, **env: str) -> subprocess.Popen[str]:
    """`adw run ISSUE --workflow plan --engine sim` in another process (stderr piped)."""
    environ = adw_environment(ADW_RETRY_INITIAL="0.01", **env)
    adw = Path(sys.executable).parent / "adw"
    argv = [str(adw), "run", str(issue), "--workflow", "plan", "--engine", "sim"]
    return subprocess.Popen(
        argv, cwd=repo, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
async def test_a_run_of_another_process_streams_into_a_pane_until_it_ends(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(dashboard, "PANE_LINGER_S", 0.2)
    monkeypatch.setattr(dashboard, "REFRESH_S", 0.2)  # to see the run from its first step
    issue = await store.issues.create("Add a slugify helper", "Slugs.")
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        # Slowed down, so that it is still running when the dashboard looks.
        other = adw_run(repo, issue.number, ADW_SIM_DELAY="0.1")
        try:
            board = app.dashboard
            await until(pilot, lambda: len(board.panes) == 1, within_s=60)
            (adw_id, pane) = next(iter(board.panes.items()))
            run = await store.get_run(adw_id)
            assert run.owner is not None
            assert run.owner != orchestrator.owner
            await until(pilot, lambda: pane.log_widget.line_count > 0, within_s=60)
            assert str(pane.border_title).startswith(f"{adw_id} · ")
            titles: set[str] = set()
            while other.poll() is None:  # the pane follows each step's agent in turn
                titles.add(str(pane.border_title))
                await pilot.pause(0.05)
            assert len(titles) >= 2, titles
            assert any("→" in line for line in pane.log_widget.plain_lines())
            assert other.returncode == 0, other.stderr.read()[-2000:] if other.stderr else ""
            await until(pilot, lambda: adw_id not in board.panes, within_s=30)
            table = board.query_one("#runs", RunTable)
            assert str(table.get_cell(adw_id, "status")) == "succeeded"
        finally:
            if other.poll() is None:
                other.kill()
                other.wait()


@pytest.mark.slow
async def test_a_run_a_worker_on_another_host_runs_streams_into_a_pane(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
):
    """A run queued for the fleet and taken by a worker on another "host" (its own clone;
    its agents' files stay there): the dashboard shows the run and follows its agents
    from the transcript chunks the worker ships to the database."""
    monkeypatch.setattr(dashboard, "PANE_LINGER_S", 0.2)
    monkeypatch.setattr(dashboard, "REFRESH_S", 0.2)
    far = tmp_path / "far"
    clone = await asyncio.create_subprocess_exec("git", "clone", "--quiet", str(repo), str(far))
    assert await clone.wait() == 0
    issue = await store.issues.create("Add a slugify helper", "Slugs.")
    adw_id = await orchestrator.launch(issue.number, workflow="plan", fleet_labels=[])
    environ = adw_environment(
        ADW_DB=db_argument(store), ADW_ENGINE="sim", ADW_SIM_DELAY="0.1", ADW_HOST_NAME="far-host"
    )
    adw = Path(sys.executable).parent / "adw"
    worker = subprocess.Popen(  # noqa: ASYNC220 - a process that outlives this scope
        [str(adw), "--repo", str(far), "worker", "--slots", "1"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            board = app.dashboard
            await until(pilot, lambda: adw_id in board.panes, within_s=60)
            pane = board.panes[adw_id]
            await until(pilot, lambda: pane.log_widget.line_count > 0, within_s=60)
            assert str(pane.border_title).startswith(f"{adw_id} · ")
            await until(pilot, lambda: adw_id not in board.panes, within_s=90)
            assert any("→" in line for line in pane.log_widget.plain_lines())
        assert (await store.get_run(adw_id)).owner is None
        assert (far / "agents" / adw_id).is_dir()
        assert not (repo / "agents" / adw_id).exists()  # nothing of it on this host
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
