"""Change notices (`Store.changes`) on both engines: a write is noticed once it commits,
never before and never when it is rolled back; transcript chunks are noticed with their
seq; another process's writes reach a listener in order; a listener that may have
missed notices (its PostgreSQL connection ended by the server, SQLite's pruning ahead of
it, a subscriber far behind) says RESYNC; a worker's row is noticed when it registers,
moves or goes, never at a heartbeat alone."""

import asyncio
import functools
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from adw_tui.domain.fleet import WorkerRecord
from adw_tui.domain.ids import new_adw_id
from adw_tui.store import Store
from adw_tui.store.changes import MAX_PENDING, RESYNC, Change, ChangeKind, Subscription
from adw_tui.store.group_commit import SyncWriter
from adw_tui.store.location import PostgresDsn
from tests.conftest import MakeRun, create_run, db_argument, raw_execute

WAIT_S = 10.0


async def next_batch(changes: Subscription) -> list[Change]:
    async with asyncio.timeout(WAIT_S):
        return await changes.next()


async def until_change(changes: Subscription, wanted: Change) -> list[Change]:
    """Every notice up to and including `wanted`."""
    seen: list[Change] = []
    while wanted not in seen:
        seen.extend(await next_batch(changes))
    return seen


def run_change(adw_id: str, version: int) -> Change:
    return Change(ChangeKind.RUN, adw_id, version)


async def test_a_write_is_noticed_once_committed_and_not_when_rolled_back(
    store: Store, make_run: MakeRun
) -> None:
    async with store.changes() as changes:
        inserted = threading.Event()
        commit = threading.Event()

        def hold_open(_connection: SyncWriter) -> None:
            """In the run's transaction, after its row was written: wait to commit."""
            inserted.set()
            assert commit.wait(WAIT_S)

        held = new_adw_id()
        creating = asyncio.create_task(
            store.create_run({"adw_id": held}, workflow="plan", actor="test", with_run=hold_open)
        )
        assert await asyncio.to_thread(inserted.wait, WAIT_S)
        with pytest.raises(TimeoutError):  # written, not committed: nothing yet
            async with asyncio.timeout(0.5):
                await changes.next()
        commit.set()
        await creating
        # (SQLite notices the row's insert and the first version's move apart.)
        assert set(await until_change(changes, run_change(held, 1))) == {run_change(held, 1)}

        def fail(_connection: SyncWriter) -> None:
            raise RuntimeError("the delivery could not be settled")

        rolled_back = new_adw_id()
        with pytest.raises(RuntimeError):
            await store.create_run(
                {"adw_id": rolled_back}, workflow="plan", actor="test", with_run=fail
            )
        await store.save(held, {"step": "plan"}, 1, "planned", "test")
        seen = await until_change(changes, run_change(held, 2))
        assert all(change.adw_id != rolled_back for change in seen), seen


async def test_a_transcript_chunk_is_noticed_with_its_seq(store: Store, make_run: MakeRun) -> None:
    run = await make_run()
    attempt = await store.steps.start(run.adw_id, "plan", visit=1, attempt=1, agent="planner")
    async with store.changes() as changes:
        for seq in (1, 2):
            await store.transcripts.append(attempt, seq, f"line {seq}\n")
        wanted = [Change(ChangeKind.TRANSCRIPT, run.adw_id, seq) for seq in (1, 2)]
        seen = await until_change(changes, wanted[-1])
        assert [change for change in seen if change.kind is ChangeKind.TRANSCRIPT] == wanted


async def test_another_processes_saves_are_noticed_in_order(
    store: Store, make_run: MakeRun
) -> None:
    run = await make_run()
    saves = 20
    async with store.changes() as changes:
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.store.writer_process",
            db_argument(store),
            "other",
            run.adw_id,
            str(saves),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, stderr = await writer.communicate()
        assert writer.returncode == 0, stderr.decode()[-2000:]
        seen = await until_change(changes, run_change(run.adw_id, saves + 1))
    assert [change.seq for change in seen] == list(range(2, saves + 2))


@pytest.mark.postgresql
async def test_a_listener_the_server_disconnects_listens_again_and_says_resync(
    postgres_dsn: PostgresDsn,
) -> None:
    async with await Store.open(postgres_dsn) as store, store.changes() as changes:
        ended = await store._db.fetch_all(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        assert [tuple(row) for row in ended] == [(True,)]
        assert await next_batch(changes) == [RESYNC]
        run = await create_run(store)
        await until_change(changes, run_change(run.adw_id, 1))


@pytest.mark.sqlite_only
async def test_a_sqlite_listener_the_pruning_overtook_says_resync(store: Store) -> None:
    """`changes` keeps the newest 1000 to 2000 notices: one write of 2100 makes the
    listener miss some, which it tells from the gap."""
    await raw_execute(
        store,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2100) "
        "INSERT INTO runs (adw_id, workflow, status, version, created_at, updated_at) "
        "SELECT printf('r%04d', i), 'plan', 'succeeded', 1, '2026', '2026' FROM n",
    )
    async with store.changes() as changes:
        await raw_execute(store, "UPDATE runs SET updated_at = '2027'")
        batch = await next_batch(changes)
    assert batch[0] == RESYNC
    assert batch[-1] == run_change("r2100", 1)


def test_a_subscriber_far_behind_is_told_to_read_everything_again() -> None:
    subscription = Subscription()
    for version in range(MAX_PENDING + 5):
        subscription.put(run_change("a", version))
    pending = asyncio.run(subscription.next())
    assert pending[0] == RESYNC
    assert len(pending) == 6


START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def fleet_worker(beat: datetime, **moved: object) -> WorkerRecord:
    fields: dict[str, object] = {
        "name": "build-1", "host": "b1", "pid": 7, "slots": 2, "started_at": START,
        "heartbeat_at": beat, "memory_percent": 40.0, "running": 0,
    }  # fmt: skip
    return WorkerRecord.model_validate({**fields, **moved})


async def test_a_worker_is_noticed_when_it_registers_moves_or_goes_not_at_each_heartbeat(
    store: Store, make_run: MakeRun
) -> None:
    start = START
    worker_change = functools.partial(Change, ChangeKind.WORKER, worker="build-1")
    async with store.changes() as changes:
        await store.fleet.register(fleet_worker(start))
        assert await until_change(changes, worker_change(seq=0)) == [worker_change(seq=0)]
        # Heartbeats (time, memory) notify nobody: the next notice is the run's.
        for beat in range(1, 4):
            later = start + timedelta(seconds=5 * beat)
            await store.fleet.register(fleet_worker(later, memory_percent=40.0 + beat))
        run = await make_run()
        noticed = await until_change(changes, run_change(run.adw_id, 1))
        assert {change.kind for change in noticed} == {ChangeKind.RUN}
        await store.fleet.register(fleet_worker(start, running=1))
        assert await until_change(changes, worker_change(seq=1)) == [worker_change(seq=1)]
        await store.fleet.register(fleet_worker(start, stopped_at=start, running=1))
        await store.fleet.forget_workers((start + timedelta(days=1)).isoformat())
        assert await until_change(changes, worker_change(seq=0)) == [
            worker_change(seq=1),
            worker_change(seq=0),
        ]


@pytest.mark.postgresql
async def test_a_notice_adw_did_not_write_is_dropped(postgres_dsn: PostgresDsn) -> None:
    """Any role may NOTIFY on the channel: what is not a notice of adw's is ignored, not
    an error (the event loop's handler would print it over the dashboard)."""
    errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, error: errors.append(error))
    async with await Store.open(postgres_dsn) as store, store.changes() as changes:
        for payload in ("not json", "[1]", '{"run": "x"}', '{"run": "x", "kind": "no", "seq": 1}'):
            await store._db.fetch_all("SELECT pg_notify('adw_changes', $1)", (payload,))
        run = await create_run(store)
        assert await until_change(changes, run_change(run.adw_id, 1)) == [run_change(run.adw_id, 1)]
    assert errors == []


async def test_a_subscription_made_while_the_last_one_closes_still_hears(
    store: Store, make_run: MakeRun
) -> None:
    """The last subscription's close stops the listener; one made meanwhile gets its own."""
    first = store.changes()
    await first.__aenter__()
    closing = asyncio.ensure_future(first.__aexit__(None, None, None))
    await asyncio.sleep(0)  # the close is now awaiting the listener's end
    async with store.changes() as changes:
        await closing
        run = await make_run()
        await until_change(changes, run_change(run.adw_id, 1))
