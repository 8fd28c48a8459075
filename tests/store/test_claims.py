"""Claims: exactly one process executes a run."""

import asyncio
import sqlite3

import pytest

from adw_tui.domain.errors import RunClaimedError, RunNotFoundError
from adw_tui.domain.models import RunStatus
from adw_tui.store import Store
from adw_tui.store.claims import PAUSE_REQUEST, PAUSE_REQUESTS_SQL
from tests.conftest import MakeRun, sqlite_file


async def test_only_one_claim_wins(store: Store, make_run: MakeRun):
    run = await make_run()
    results = await asyncio.gather(
        *(store.claims.claim(run.adw_id, f"host:{pid}") for pid in range(8)),
        return_exceptions=True,
    )
    winners = [r for r in results if r is None]
    losers = [r for r in results if isinstance(r, RunClaimedError)]
    assert (len(winners), len(losers)) == (1, 7)
    claimed = await store.get_run(run.adw_id)
    assert claimed.status is RunStatus.RUNNING
    assert claimed.owner is not None
    assert claimed.heartbeat_at is not None
    assert f"is running by {claimed.owner}" in str(losers[0])


async def test_requeue_refuses_a_running_run_and_release_frees_it(store: Store, make_run: MakeRun):
    run = await make_run()
    await store.claims.claim(run.adw_id, "a:1")
    with pytest.raises(RunClaimedError):
        await store.claims.requeue(run.adw_id, actor="b:2")
    await store.claims.heartbeat(run.adw_id, "a:1")
    await store.claims.release(run.adw_id, "a:1")
    assert (await store.get_run(run.adw_id)).owner is None
    await store.set_status(run.adw_id, RunStatus.INTERRUPTED, actor="test")
    await store.claims.requeue(run.adw_id, actor="b:2")
    assert (await store.get_run(run.adw_id)).status is RunStatus.QUEUED
    with pytest.raises(RunNotFoundError):
        await store.claims.claim("deadbeef", "a:1")


async def test_a_pause_request_reaches_the_owner_alone_until_it_lets_the_run_go(
    store: Store, make_run: MakeRun
):
    run = await make_run()
    with pytest.raises(RunClaimedError, match=f"run {run.adw_id} is queued"):
        await store.claims.request_pause(run.adw_id, actor="cli")  # nobody runs it yet
    with pytest.raises(RunNotFoundError):
        await store.claims.request_pause("deadbeef", actor="cli")
    await store.claims.claim(run.adw_id, "a:1")
    assert await store.claims.pause_requests("a:1") == []

    await store.claims.request_pause(run.adw_id, actor="cli")

    assert (await store.get_run(run.adw_id)).requested == PAUSE_REQUEST
    assert await store.claims.pause_requests("a:1") == [run.adw_id]
    assert await store.claims.pause_requests("b:2") == []
    await store.claims.release(run.adw_id, "a:1")
    assert (await store.get_run(run.adw_id)).requested is None
    assert await store.claims.pause_requests("a:1") == []


@pytest.mark.sqlite_only
async def test_the_pause_requests_are_read_through_their_index(store: Store):
    with sqlite3.connect(sqlite_file(store)) as connection:
        plan = connection.execute(
            f"EXPLAIN QUERY PLAN {PAUSE_REQUESTS_SQL}", ("a:1", PAUSE_REQUEST)
        ).fetchall()
    assert "USING INDEX runs_requested" in " ".join(str(row[-1]) for row in plan)
