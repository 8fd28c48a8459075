"""Listing runs a page at a time, and counting them, as the dashboard does; finding an
issue's active run as a launch does."""

import sqlite3
from pathlib import Path

import pytest

from adw_tui.domain.models import RunStatus
from adw_tui.store import Store
from tests.conftest import MakeRun


async def test_a_limit_keeps_the_most_recently_updated_runs(store: Store, make_run: MakeRun):
    runs = [await make_run() for _ in range(5)]
    await store.set_status(runs[0].adw_id, RunStatus.FAILED, actor="test")
    newest = [run.adw_id for run in await store.list_runs(limit=3)]
    assert newest == [runs[0].adw_id, runs[4].adw_id, runs[3].adw_id]
    assert len(await store.list_runs()) == 5
    failed = await store.list_runs(status=RunStatus.FAILED, limit=1)
    assert [run.adw_id for run in failed] == [runs[0].adw_id]
    assert await store.list_runs(limit=0) == []


async def test_counts_all_runs_or_those_with_a_status(store: Store, make_run: MakeRun):
    assert await store.count_runs() == 0
    runs = [await make_run() for _ in range(3)]
    await store.set_status(runs[1].adw_id, RunStatus.SUCCEEDED, actor="test")
    assert await store.count_runs() == 3
    assert await store.count_runs(status=RunStatus.SUCCEEDED) == 1
    assert await store.count_runs(status=RunStatus.QUEUED) == 2


@pytest.mark.sqlite_only
async def test_an_issues_active_run_is_one_indexed_lookup(store: Store, db_path: Path):
    async def run_of(adw_id: str, workflow: str, issue: str) -> None:
        await store.create_run({"adw_id": adw_id}, workflow=workflow, issue=issue, actor="t")

    await run_of("done", "plan", "7")
    await store.set_status("done", RunStatus.SUCCEEDED, actor="test")
    assert await store.active_run_for("7", "plan") is None
    await run_of("active", "plan", "7")
    await run_of("other", "sdlc", "8")
    found = await store.active_run_for("7", "plan")
    assert found is not None
    assert found.adw_id == "active"
    assert await store.active_run_for("7", "sdlc") is None
    with sqlite3.connect(db_path) as db:
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM runs WHERE issue = '7' AND workflow = 'plan' "
            "AND status IN ('queued', 'running') LIMIT 1"
        ).fetchall()
    assert "USING INDEX runs_by_issue" in " ".join(str(row[-1]) for row in plan)
