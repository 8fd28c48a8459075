"""What only the PostgreSQL backend has: opening a server (and the one-line errors when
it cannot), its migrations under the advisory lock, its write lock, and the DSN's
password kept out of everything shown or stored."""

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import cast
from urllib.parse import urlsplit

import asyncpg
import pytest
from asyncpg.types import ServerVersion

from adw_tui.domain.errors import (
    DatabaseLockedError,
    DatabaseMissingError,
    ForeignDatabaseError,
    SchemaTooNewError,
    ServerTooOldError,
    StoreError,
)
from adw_tui.domain.redaction import Redactor
from adw_tui.store import Store
from adw_tui.store.backend import Cursor, Params
from adw_tui.store.group_commit import GroupCommit, SyncWriter
from adw_tui.store.location import PostgresDsn
from adw_tui.store.pg_session import WRITE_LOCK, PostgresSession
from adw_tui.store.postgres import OLDEST_SERVER, PostgresDatabase, WriterThread, refuse_old_server
from adw_tui.store.schema import LATEST_VERSION, MIGRATIONS
from adw_tui.store.store import RUN_VERSION
from tests.postgres import PASSWORD, Server, free_port

pytestmark = pytest.mark.postgresql


def with_password(dsn: PostgresDsn, password: str) -> PostgresDsn:
    parts = urlsplit(dsn.url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    return PostgresDsn(parts._replace(netloc=netloc).geturl())


async def raw(dsn: PostgresDsn, sql: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn.url)
    try:
        return await connection.fetch(sql)
    finally:
        await connection.close()


async def test_a_new_database_is_migrated_once_by_openers_racing(
    empty_postgres_dsn: PostgresDsn,
) -> None:
    stores = await asyncio.gather(*(Store.open(empty_postgres_dsn) for _ in range(4)))
    for store in stores:
        assert store.schema_version == LATEST_VERSION
        await store.close()
    rows = await raw(empty_postgres_dsn, "SELECT version FROM schema_migrations ORDER BY 1")
    assert [row[0] for row in rows] == [migration.version for migration in MIGRATIONS]


async def test_without_create_a_database_adw_never_migrated_is_missing(
    empty_postgres_dsn: PostgresDsn,
) -> None:
    with pytest.raises(DatabaseMissingError, match="no adw database at postgresql://"):
        await Store.open(empty_postgres_dsn, create=False)
    assert await raw(empty_postgres_dsn, "SELECT tablename FROM pg_tables "
                     "WHERE schemaname = 'public'") == []  # fmt: skip


async def test_another_applications_database_is_refused(empty_postgres_dsn: PostgresDsn) -> None:
    await raw(empty_postgres_dsn, "CREATE TABLE notes (body TEXT)")
    with pytest.raises(ForeignDatabaseError, match="another application's PostgreSQL database"):
        await Store.open(empty_postgres_dsn)


async def test_a_newer_schema_is_refused_naming_the_database_masked(
    postgres_dsn: PostgresDsn,
) -> None:
    await raw(
        postgres_dsn,
        "INSERT INTO schema_migrations VALUES "
        f"({LATEST_VERSION + 1}, 'from the future', '2099-01-01')",
    )
    with pytest.raises(SchemaTooNewError) as caught:
        await Store.open(postgres_dsn)
    message = str(caught.value)
    assert f"{postgres_dsn.masked} has schema version {LATEST_VERSION + 1}" in message
    assert "upgrade adw_tui" in message
    assert PASSWORD not in message


async def test_the_test_server_is_new_enough_and_opens(postgres_dsn: PostgresDsn) -> None:
    connection = await asyncpg.connect(postgres_dsn.url)
    try:
        version = connection.get_server_version()
    finally:
        await connection.close()
    assert version.major >= OLDEST_SERVER
    refuse_old_server(postgres_dsn.masked, version)
    async with await Store.open(postgres_dsn) as store:
        assert store.schema_version == LATEST_VERSION


@pytest.mark.parametrize(
    ("version", "said"),
    [
        (ServerVersion(12, 0, 18, "final", 0), "version 12.18,"),
        (ServerVersion(9, 6, 24, "final", 0), "version 9.6.24,"),
    ],
)
def test_a_server_older_than_13_is_refused_in_one_line(version: ServerVersion, said: str) -> None:
    with pytest.raises(ServerTooOldError) as caught:
        refuse_old_server("postgresql://adw:***@db:5432/adw", version)
    message = str(caught.value)
    assert message.startswith(f"PostgreSQL at postgresql://adw:***@db:5432/adw is {said}")
    assert "adw needs 13 or newer" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "version", [ServerVersion(13, 0, 0, "beta", 2), ServerVersion(17, 0, 2, "final", 0)]
)
def test_a_server_of_13_or_newer_is_taken(version: ServerVersion) -> None:
    refuse_old_server("postgresql://adw:***@db:5432/adw", version)


async def test_an_unreachable_server_is_one_line_naming_it_masked() -> None:
    dsn = PostgresDsn(f"postgresql://adw:{PASSWORD}@127.0.0.1:{free_port()}/adw")
    with pytest.raises(StoreError) as caught:
        await Store.open(dsn, busy_timeout_s=5)
    message = str(caught.value)
    assert message.startswith("cannot reach PostgreSQL at postgresql://adw:***@127.0.0.1:")
    assert "start the server" in message
    assert PASSWORD not in message
    assert "\n" not in message


async def test_a_wrong_password_is_refused_in_one_line_without_it(
    postgres_dsn: PostgresDsn,
) -> None:
    wrong = with_password(postgres_dsn, "not-the-password-42")
    with pytest.raises(StoreError) as caught:
        await Store.open(wrong)
    message = str(caught.value)
    assert message.startswith(f"PostgreSQL at {wrong.masked} refused the password")
    assert "not-the-password-42" not in message
    assert PASSWORD not in message


async def test_a_missing_database_says_to_create_it(postgres_server: Server) -> None:
    dsn = postgres_server.dsn("adw_no_such_database")
    with pytest.raises(StoreError, match=r"has no such database .*createdb"):
        await Store.open(dsn)


async def test_the_password_is_redacted_from_what_is_stored(
    postgres_dsn: PostgresDsn,
) -> None:
    async with await Store.open(postgres_dsn) as store:
        assert PASSWORD not in str(store.path)
        await store.create_run({"adw_id": "00000001", "note": f"dsn {postgres_dsn.url}"},
                               workflow="plan", actor="test")  # fmt: skip
        await store.audit.record(actor="test", action="note", detail={"said": PASSWORD})
        stored = (await store.load("00000001")).state.as_data()["note"]
        [entry] = [e for e in await store.audit.entries() if e.action == "note"]
    assert PASSWORD not in stored
    assert "[REDACTED:ADW_DB]" in stored
    assert entry.detail == {"said": "[REDACTED:ADW_DB]"}


async def test_a_held_write_lock_raises_after_the_busy_timeout_then_recovers(
    postgres_dsn: PostgresDsn,
) -> None:
    """The PostgreSQL twin of SQLite's locked-database test: another process holding the
    write lock past the busy timeout is DatabaseLockedError; reads never wait for it."""
    async with await Store.open(postgres_dsn, busy_timeout_s=0.2) as store:
        run = await store.create_run({"adw_id": "00000001"}, workflow="plan", actor="t")
        locker = await asyncpg.connect(postgres_dsn.url)
        try:
            await locker.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})")
            started = time.monotonic()
            with pytest.raises(DatabaseLockedError, match=r"postgresql://postgres:\*\*\*@"):
                await store.save(run.adw_id, {"branch_name": "x"}, 1, "blocked", "test")
            assert time.monotonic() - started < 5
            assert (await store.load(run.adw_id)).run.version == 1
        finally:
            await locker.execute("ROLLBACK")
            await locker.close()
        assert await store.save(run.adw_id, {"branch_name": "x"}, 1, "free", "test") == 2


async def test_the_run_row_lock_orders_raw_writers_that_skip_the_write_lock(
    postgres_dsn: PostgresDsn,
) -> None:
    """READ COMMITTED without the advisory lock: the second writer of version 2 waits on
    the run's row (FOR UPDATE in the compare-and-set trigger) until the first commits,
    then reads version 2 and is refused; the history stays 1, 2."""
    async with await Store.open(postgres_dsn) as store:
        await store.create_run({"adw_id": "00000001"}, workflow="plan", actor="t")
    insert = (
        "INSERT INTO state_versions (adw_id, version, parent, data, reason, actor, created_at) "
        "VALUES ('00000001', 2, 1, '{\"adw_id\": \"00000001\"}', $1, 'raw', 'now')"
    )
    first, second = await asyncpg.connect(postgres_dsn.url), await asyncpg.connect(postgres_dsn.url)
    try:
        await first.execute("BEGIN")
        await first.execute(insert, "first")
        await second.execute("BEGIN")
        racing = asyncio.ensure_future(second.execute(insert, "second"))
        await asyncio.sleep(0.3)
        assert not racing.done()  # waiting on the run's row
        await first.execute("COMMIT")
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="stale version"):
            await racing
        await second.execute("ROLLBACK")
    finally:
        await first.close()
        await second.close()
    rows = await raw(postgres_dsn, "SELECT version, reason FROM state_versions ORDER BY 1")
    assert [tuple(row) for row in rows] == [(1, "run created"), (2, "first")]
    [run] = await raw(postgres_dsn, "SELECT version FROM runs")
    assert run[0] == 2


def test_the_writer_thread_serves_on_after_a_callers_loop_closed() -> None:
    """asyncio.run ended (a Ctrl-C) while a job of its ran on the writer's thread: the
    answer has no one to go to, and the next caller is still served."""
    thread = WriterThread()
    started, release = threading.Event(), threading.Event()

    def slow() -> int:
        started.set()
        release.wait(5)
        return 1

    async def leave_a_job_running() -> None:
        running = asyncio.ensure_future(thread.run(slow))
        await asyncio.to_thread(started.wait, 5)
        assert not running.done()

    asyncio.run(leave_a_job_running())
    release.set()

    async def next_caller() -> int:
        async with asyncio.timeout(5):
            value = await thread.run(lambda: 2)
        await thread.stop()
        return value

    assert asyncio.run(next_caller()) == 2


class RecordingSession:
    """The store's own writer session, recording the queries a group runs."""

    def __init__(self, session: PostgresSession) -> None:
        self._session = session
        self.executed: list[str] = []
        self.read_ahead_for: list[list[str]] = []

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        self.executed.append(sql)
        return self._session.execute(sql, params)

    def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        self._session.execute_many(sql, params)

    def read_ahead(self, sql: str, runs: Sequence[str]) -> Mapping[str, Cursor]:
        self.read_ahead_for.append(list(runs))
        return self._session.read_ahead(sql, runs)

    def begin(self, runs: Sequence[str] | None = None) -> None:
        self._session.begin(runs)

    def commit(self) -> None:
        self._session.commit()

    def rollback(self) -> None:
        self._session.rollback()


async def test_a_group_runs_its_writes_first_query_once_for_all_their_runs(
    postgres_dsn: PostgresDsn,
) -> None:
    """One statement (one round trip) for the first query of a group's writes, instead of
    one a write; each write is answered its own run's rows."""
    ids = [f"{n:08x}" for n in range(8)]
    async with await Store.open(postgres_dsn) as store:
        for adw_id in ids:
            await store.create_run({"adw_id": adw_id}, workflow="w", actor="t")
        database = cast(PostgresDatabase, store._db)
        session = RecordingSession(database._session)
        group_commit = GroupCommit(
            lambda: session, database._thread.run, asyncio.Lock(), Redactor()
        )

        def version_of(adw_id: str, connection: SyncWriter) -> tuple[str, int]:
            return adw_id, int(connection.execute(RUN_VERSION, (adw_id,)).fetchone()[0])

        read = await asyncio.gather(
            *(group_commit.write(partial(version_of, i), i, RUN_VERSION) for i in ids)
        )

    assert read == [(adw_id, 1) for adw_id in ids]
    assert session.read_ahead_for == [ids]
    assert RUN_VERSION not in session.executed
