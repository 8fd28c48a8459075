"""The database file: schema migrations, unusable files, locking, dead letters, audit log."""

import asyncio
import os
import sqlite3
import time
from pathlib import Path

import pytest

from adw_tui.domain.errors import (
    AdwError,
    DatabaseCorruptError,
    DatabaseLockedError,
    DatabaseMissingError,
    DatabaseWriteError,
    DeadLetterNotFoundError,
    SchemaTooNewError,
)
from adw_tui.domain.models import DeadLetterStatus, NewDeadLetter, RunStatus
from adw_tui.store import Store
from adw_tui.store.database import Database
from adw_tui.store.schema import LATEST_VERSION, MIGRATIONS
from tests.conftest import MakeRun, create_run


def raw_query(path: Path, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def sidecars(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


async def test_migrations_are_recorded(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        assert store.schema_version == LATEST_VERSION
        assert store.path == db_path

    rows = raw_query(db_path, "SELECT version, description, applied_at FROM schema_migrations")
    assert [(version, description) for version, description, _ in rows] == [
        (migration.version, migration.description) for migration in MIGRATIONS
    ]
    assert all(applied_at for *_, applied_at in rows)
    assert raw_query(db_path, "PRAGMA user_version") == [(LATEST_VERSION,)]
    assert raw_query(db_path, "PRAGMA journal_mode") == [("wal",)]
    tables = {name for (name,) in raw_query(db_path, "SELECT name FROM sqlite_master")}
    assert {"runs", "state_versions", "dead_letters", "audit_log"} <= tables


async def test_opening_twice_is_idempotent(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        run = await create_run(store, issue_number="5")
    migrations = raw_query(db_path, "SELECT * FROM schema_migrations")

    async with await Store.open(db_path) as store:
        assert store.schema_version == LATEST_VERSION
        assert (await store.load(run.adw_id)).state.issue_number == "5"
    async with await Store.open(db_path, create=False) as store:
        assert [r.adw_id for r in await store.list_runs()] == [run.adw_id]

    assert raw_query(db_path, "SELECT * FROM schema_migrations") == migrations
    assert raw_query(db_path, "PRAGMA user_version") == [(LATEST_VERSION,)]


async def test_concurrent_first_opens_create_the_schema_once(db_path: Path) -> None:
    """Several openers racing on a database that does not exist yet all succeed."""
    for attempt in range(10):
        path = db_path.with_name(f"race-{attempt}.db")
        stores = await asyncio.gather(*(Store.open(path, busy_timeout_s=10) for _ in range(8)))
        try:
            await create_run(stores[0], "00000001")
            for store in stores:
                assert (await store.get_run("00000001")).version == 1
        finally:
            for store in stores:
                await store.close()
        assert raw_query(path, "SELECT version FROM schema_migrations") == [
            (migration.version,) for migration in MIGRATIONS
        ]
        assert raw_query(path, "PRAGMA journal_mode") == [("wal",)]


async def test_opening_waits_for_a_writer_on_a_new_database(db_path: Path) -> None:
    """Switching a new file to WAL while another connection writes it must wait, not fail.

    (SQLite answers that PRAGMA with SQLITE_BUSY at once, without its busy handler.)
    """
    db_path.parent.mkdir(parents=True)
    holder = sqlite3.connect(db_path, isolation_level=None)  # a new, rollback-journal file
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("CREATE TABLE other_tool (x)")
        asyncio.get_running_loop().call_later(0.3, holder.execute, "COMMIT")
        started = time.monotonic()
        async with await Store.open(db_path, busy_timeout_s=5) as store:
            waited = time.monotonic() - started
            await create_run(store, "00000001")
    finally:
        holder.close()

    assert 0.25 <= waited < 5
    assert raw_query(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert raw_query(db_path, "SELECT adw_id, version FROM runs") == [("00000001", 1)]


async def test_a_newer_schema_is_refused(db_path: Path) -> None:
    async with await Store.open(db_path):
        pass
    connection = sqlite3.connect(db_path)
    connection.execute(f"PRAGMA user_version={LATEST_VERSION + 1}")
    connection.close()

    with pytest.raises(SchemaTooNewError) as caught:
        await Store.open(db_path)

    message = str(caught.value)
    assert str(db_path) in message
    assert f"schema version {LATEST_VERSION + 1}" in message
    assert f"knows up to {LATEST_VERSION}" in message
    assert raw_query(db_path, "PRAGMA user_version") == [(LATEST_VERSION + 1,)]
    assert len(raw_query(db_path, "SELECT * FROM schema_migrations")) == len(MIGRATIONS)


async def test_a_garbage_file_is_reported_corrupt_and_left_alone(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    garbage = b"not sqlite" + os.urandom(16_374)
    db_path.write_bytes(garbage)

    with pytest.raises(DatabaseCorruptError) as caught:
        await Store.open(db_path)

    assert str(db_path) in str(caught.value)
    assert db_path.read_bytes() == garbage
    assert sidecars(db_path) == []


async def write_note(database: Database, body: str) -> None:
    async with database.transaction() as writer:
        await writer.execute("INSERT INTO notes VALUES (?)", (body,))


async def test_a_full_database_says_so_and_still_takes_a_write_that_fits(db_path: Path) -> None:
    database = await Database.open(db_path)
    try:
        async with database.transaction() as writer:
            await writer.execute("CREATE TABLE notes (body TEXT)")
        await write_note(database, "short")
        [[pages]] = await database.fetch_all("PRAGMA page_count")
        # The writer connection may not grow the file: a real SQLITE_FULL, as a full disk.
        async with database.transaction() as writer:
            await writer.execute(f"PRAGMA max_page_count = {pages}")

        with pytest.raises(DatabaseWriteError) as caught:
            await write_note(database, "x" * 5000)  # more than a page: the file must grow

        assert str(caught.value) == (
            f"database {db_path} cannot be written (database or disk is full, SQLITE_FULL): "
            "the disk is full: free some space on it, or pass --db (or ADW_DB) a file on "
            "another disk"
        )
        assert caught.value.cause == "full"
        await database.checkpoint()
        await write_note(database, "fits")
        rows = await database.fetch_all("SELECT body FROM notes")
        assert [row["body"] for row in rows] == ["short", "fits"]
    finally:
        await database.close()


async def test_create_false_on_a_missing_file_creates_nothing(db_path: Path) -> None:
    with pytest.raises(DatabaseMissingError) as caught:
        await Store.open(db_path, create=False)

    assert str(db_path) in str(caught.value)
    assert not db_path.exists()
    assert not db_path.parent.exists()


@pytest.mark.sqlite_only
async def test_a_locked_database_raises_then_recovers(db_path: Path, make_run: MakeRun) -> None:
    run = await make_run()  # the `store` fixture made the file; this store waits 0.2 s
    async with await Store.open(db_path, busy_timeout_s=0.2) as store:
        locker = sqlite3.connect(db_path, isolation_level=None)
        try:
            locker.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            with pytest.raises(DatabaseLockedError, match=str(db_path)):
                await store.save(run.adw_id, {"branch_name": "x"}, 1, "blocked", "test")
            waited = time.monotonic() - started
            # WAL: readers are not blocked by the writer's lock.
            assert (await store.load(run.adw_id)).run.version == 1
            with pytest.raises(DatabaseLockedError):
                await store.set_status(run.adw_id, RunStatus.RUNNING, actor="test")
        finally:
            locker.rollback()
            locker.close()

        assert 0.15 <= waited < 5
        assert await store.save(run.adw_id, {"branch_name": "x"}, 1, "unblocked", "test") == 2
        assert [info.reason for info in await store.history(run.adw_id)] == [
            "unblocked",
            "run created",
        ]
        assert (await store.get_run(run.adw_id)).status == RunStatus.QUEUED


def letter_for(adw_id: str, **fields: object) -> NewDeadLetter:
    defaults: dict[str, object] = {
        "adw_id": adw_id,
        "workflow": "adw_plan_build",
        "step": "build",
        "state_version": 1,
        "error_class": "AgentTimeout",
        "error_message": "claude did not answer in 600s",
        "attempts": 3,
        "request": {"issue": "12", "model_set": "heavy"},
    }
    return NewDeadLetter.model_validate({**defaults, **fields})


async def test_dead_letter_add_list_get(store: Store, make_run: MakeRun) -> None:
    run = await make_run()
    other = await make_run()

    letter = await store.dead_letters.add(letter_for(run.adw_id), actor="runner")

    assert letter.status == DeadLetterStatus.PENDING
    assert (letter.adw_id, letter.step, letter.attempts) == (run.adw_id, "build", 3)
    assert letter.request == {"issue": "12", "model_set": "heavy"}
    assert letter.resolved_at is None
    assert await store.dead_letters.get(letter.id) == letter
    assert await store.dead_letters.list() == [letter]
    assert (await store.get_run(run.adw_id)).status == RunStatus.DEAD_LETTERED
    assert (await store.get_run(other.adw_id)).status == RunStatus.QUEUED
    [entry, *_] = await store.audit.entries(adw_id=run.adw_id)
    assert (entry.action, entry.actor) == ("dead_letter.add", "runner")
    assert entry.detail == {"letter_id": letter.id, "error_class": "AgentTimeout"}

    second = await store.dead_letters.add(letter_for(other.adw_id, step=None), actor="runner")
    assert second.id != letter.id
    assert [d.id for d in await store.dead_letters.list()] == [letter.id, second.id]


@pytest.mark.sqlite_only
async def test_a_runs_pending_dead_letter_is_its_newest_pending_one(
    store: Store, make_run: MakeRun, db_path: Path
) -> None:
    run, other = await make_run(), await make_run()
    assert await store.dead_letters.pending_for(run.adw_id) is None
    older = await store.dead_letters.add(letter_for(run.adw_id), actor="runner")
    newer = await store.dead_letters.add(letter_for(run.adw_id, attempts=5), actor="runner")
    await store.dead_letters.add(letter_for(other.adw_id), actor="runner")
    assert await store.dead_letters.pending_for(run.adw_id) == newer
    await store.dead_letters.drop(newer.id, actor="operator")
    assert await store.dead_letters.pending_for(run.adw_id) == older
    plan = raw_query(
        db_path,
        "EXPLAIN QUERY PLAN SELECT * FROM dead_letters WHERE adw_id = 'x' AND status = "
        "'pending' ORDER BY id DESC LIMIT 1",
    )
    assert "USING INDEX dead_letters_by_run" in " ".join(str(row[-1]) for row in plan)


async def test_dead_letter_drop(store: Store, make_run: MakeRun) -> None:
    run = await make_run()
    kept = await store.dead_letters.add(letter_for(run.adw_id), actor="runner")
    letter = await store.dead_letters.add(letter_for(run.adw_id, attempts=5), actor="runner")

    dropped = await store.dead_letters.drop(letter.id, actor="operator")

    assert dropped.status == DeadLetterStatus.DROPPED
    assert dropped.resolved_at is not None
    assert await store.dead_letters.get(letter.id) == dropped
    assert await store.dead_letters.list() == [kept]
    assert await store.dead_letters.list(include_resolved=True) == [kept, dropped]
    [entry, *_] = await store.audit.entries(adw_id=run.adw_id)
    assert (entry.action, entry.actor, entry.detail) == (
        "dead_letter.drop",
        "operator",
        {"letter_id": letter.id},
    )
    audit_before = await store.audit.entries()

    with pytest.raises(AdwError, match=f"dead letter {letter.id} is already dropped"):
        await store.dead_letters.drop(letter.id, actor="operator")
    with pytest.raises(DeadLetterNotFoundError, match="dead letter 999 not found"):
        await store.dead_letters.drop(999, actor="operator")
    with pytest.raises(DeadLetterNotFoundError):
        await store.dead_letters.get(999)

    assert await store.audit.entries() == audit_before
    assert await store.dead_letters.get(letter.id) == dropped
    assert await store.dead_letters.get(kept.id) == kept


async def test_audit_entries_newest_first_and_by_run(store: Store, make_run: MakeRun) -> None:
    first = await make_run()
    second = await make_run()
    await store.set_status(first.adw_id, RunStatus.RUNNING, actor="runner")
    await store.audit.record(actor="operator", action="note", detail={"text": "hello"})

    entries = await store.audit.entries()

    assert [(e.action, e.adw_id) for e in entries] == [
        ("note", None),
        ("run.status", first.adw_id),
        ("run.create", second.adw_id),
        ("run.create", first.adw_id),
    ]
    assert [e.id for e in entries] == sorted((e.id for e in entries), reverse=True)
    assert entries[0].detail == {"text": "hello"}
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    assert [e.action for e in await store.audit.entries(adw_id=first.adw_id)] == [
        "run.status",
        "run.create",
    ]
    assert [e.adw_id for e in await store.audit.entries(adw_id=second.adw_id)] == [second.adw_id]
    assert await store.audit.entries(limit=2) == entries[:2]


async def test_a_writer_cancelled_while_waiting_for_the_lock_leaves_no_transaction(
    db_path: Path,
):
    store = await Store.open(db_path, busy_timeout_s=5)
    await store.create_run({"adw_id": "0000000a"}, workflow="w", actor="t")
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    waiting = asyncio.create_task(store.save("0000000a", {}, 1, "r", "t"))
    await asyncio.sleep(0.3)  # the save is now inside BEGIN IMMEDIATE, waiting
    waiting.cancel()
    blocker.execute("ROLLBACK")
    blocker.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # The writer connection is usable: no transaction was left open behind us.
    assert await store.save("0000000a", {"x": 1}, 1, "after", "t") == 2
    await store.close()
