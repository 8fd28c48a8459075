"""Connections to a PostgreSQL state database (asyncpg): one serialised writer, a pool of
readers.

The writer is one connection owned by one thread that runs its own event loop, as
aiosqlite owns a SQLite connection: a group-committed write (`write`) runs there whole,
its statements awaited on that loop one after another (`run_until_complete`), so the
store's write functions stay plain functions and a save costs one hop from the caller's
loop. Reads use a pool on the caller's loop and never wait for the writer.

Isolation: READ COMMITTED, PostgreSQL's default. Every write transaction first takes a
transaction-scoped advisory lock (`WRITE_LOCK`), so write transactions on the database
are serialised across processes exactly as SQLite's `BEGIN IMMEDIATE` serialises them:
each sees everything committed before it, and the store's read-check-write transactions
(leases, breakers, rate limits, the one-active-run check of a launch) keep their
guarantees unchanged. The versioned state does not depend on that lock alone: the
compare-and-set trigger locks the run's row (`FOR UPDATE`) before checking its version,
and (adw_id, version) is the primary key, so even a writer that skips the lock can never
write a version twice or out of order (READ COMMITTED re-reads the locked row once the
other transaction ends). Serialisable isolation would add retries on serialisation
failures without adding a guarantee the lock does not already give.
"""

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import asyncpg

from adw_tui.domain.errors import (
    DatabaseLockedError,
    DatabaseMissingError,
    ForeignDatabaseError,
    StoreError,
)
from adw_tui.domain.redaction import Redactor
from adw_tui.store.backend import Engine, IntegrityError, Params, ReadParams, Row, Writer
from adw_tui.store.changes import CHANNEL, RESYNC, Change, Deliver
from adw_tui.store.dialect import postgres_query, postgres_sql
from adw_tui.store.group_commit import GroupCommit, T, Write, redacted, settle
from adw_tui.store.location import PostgresDsn
from adw_tui.store.schema import Migration

R = TypeVar("R")
logger = logging.getLogger(__name__)

WRITE_LOCK = 0x616477
"""The advisory lock every write transaction holds ('adw'): the database's write lock."""
READERS = 4
"""Reader connections at most, per process."""
RECONNECT_S = (0.05, 2.0)
"""The change listener's first wait before it connects again, and its longest (the
wait doubles after each failed try)."""
PING_S = 5.0
"""A listening connection silent this long is asked `SELECT 1`: a server gone without
closing it (its host down) is noticed within twice this."""
LOST = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
"""What a lost or refused connection raises (a server restarting refuses for a while)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A statement's rows and how many rows it changed (from its command tag)."""

    rows: list[Any]
    rowcount: int

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows


class WriterThread:
    """One thread that runs jobs one at a time, with an event loop of its own that a
    job may run coroutines on (`wait`), between jobs idle."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # A daemon: a store never closed must not keep the process alive at exit (the
        # server then rolls back whatever transaction was open).
        self._thread = threading.Thread(target=self._serve, name="adw-postgres-writer", daemon=True)
        self._thread.start()

    async def run(self, job: Callable[[], R]) -> R:
        """Run `job` on the thread; its value or its error."""
        caller = asyncio.get_running_loop()
        done: asyncio.Future[R] = caller.create_future()
        self._jobs.put((job, done, caller))
        return await done

    def wait(self, work: Coroutine[Any, Any, R]) -> R:
        """Run `work` to its end on the thread's loop (from a job)."""
        return self.loop.run_until_complete(work)

    async def stop(self) -> None:
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            while (item := self._jobs.get()) is not None:
                job, done, caller = item
                try:
                    value = job()
                except BaseException as error:
                    caller.call_soon_threadsafe(settle, done, None, error)
                else:
                    caller.call_soon_threadsafe(settle, done, value, None)
        finally:
            self.loop.close()


class PostgresSession:
    """The writer connection, used from its thread."""

    def __init__(self, connection: asyncpg.Connection, thread: WriterThread) -> None:
        self.connection = connection
        self._thread = thread

    def execute(self, sql: str, params: Params = ()) -> Fetched:
        return self._thread.wait(_execute(self.connection, postgres_sql(sql), params))

    def begin(self) -> None:
        """BEGIN and the write lock in one round trip. A lock not had within the busy
        timeout leaves no transaction behind (as a failed BEGIN IMMEDIATE)."""
        try:
            self._thread.wait(
                self.connection.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})")
            )
        except BaseException:
            self.rollback()
            raise

    def commit(self) -> None:
        self._thread.wait(self.connection.execute("COMMIT"))

    def rollback(self) -> None:
        if not self.connection.is_closed() and self.connection.is_in_transaction():
            self._thread.wait(self.connection.execute("ROLLBACK"))

    def script(self, sql: str) -> None:
        """Several statements in one (a migration), unprepared, without parameters."""
        self._thread.wait(self.connection.execute(sql))


async def _execute(connection: asyncpg.Connection, sql: str, params: Params) -> Fetched:
    try:
        # The one call of asyncpg that gives both the rows and the command tag (a
        # prepared, cached statement), as its own `execute` uses it.
        rows, status, _ = await cast(Any, connection)._execute(
            sql, list(params), 0, None, return_status=True
        )
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(str(error)) from error
    tag = status.decode().split()
    return Fetched(list(rows), int(tag[-1]) if tag and tag[-1].isdigit() else -1)


class PostgresWriter:
    """The writer connection inside an awaited transaction, a hop to its thread per
    statement, with secrets redacted from every `str` parameter."""

    def __init__(self, session: PostgresSession, thread: WriterThread, redactor: Redactor):
        self._session = session
        self._thread = thread
        self._redactor = redactor

    async def execute(self, sql: str, params: Params = ()) -> Fetched:
        values = redacted(self._redactor, params)
        return await self._thread.run(lambda: self._session.execute(sql, values))

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return (await self.execute(sql, params)).rows


class PooledWriter:
    """A pool connection inside a transaction of its own (see `row_claims`), with
    secrets redacted from every `str` parameter."""

    def __init__(
        self, connection: "asyncpg.pool.PoolConnectionProxy[Any]", redactor: Redactor
    ) -> None:
        self._connection = connection
        self._redactor = redactor

    async def execute(self, sql: str, params: Params = ()) -> Fetched:
        values = redacted(self._redactor, params)
        connection = cast(asyncpg.Connection, self._connection)  # a proxy of one
        return await _execute(connection, postgres_sql(sql), values)

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return (await self.execute(sql, params)).rows


class PostgresDatabase:
    """The writer and the readers of one PostgreSQL database."""

    engine: Engine = "postgresql"

    def __init__(
        self,
        dsn: PostgresDsn,
        thread: WriterThread,
        session: PostgresSession,
        readers: asyncpg.Pool,
        busy_timeout_s: float,
        redactor: Redactor,
    ) -> None:
        self.dsn = dsn
        self.redactor = redactor
        self.busy_timeout_s = busy_timeout_s
        self._thread = thread
        self._session = session
        self._readers = readers
        self._write_lock = asyncio.Lock()
        self._group_commit = GroupCommit(
            lambda: session, self._thread.run, self._write_lock, redactor
        )

    @classmethod
    async def open(
        cls,
        dsn: PostgresDsn,
        *,
        create: bool = True,
        busy_timeout_s: float = 30.0,
        redactor: Redactor | None = None,
    ) -> "PostgresDatabase":
        """Connect the writer and the readers. `create` False: a database adw never
        migrated is DatabaseMissingError (nothing is created)."""
        redactor = (redactor or Redactor()).with_secret(dsn.url, "ADW_DB")
        if dsn.password:
            redactor = redactor.with_secret(dsn.password, "ADW_DB")
        thread = WriterThread()
        connection: asyncpg.Connection | None = None
        readers: asyncpg.Pool | None = None
        try:
            with _connect_errors(dsn, redactor):
                connection = await thread.run(lambda: thread.wait(_connect(dsn, busy_timeout_s)))
                readers = await asyncpg.create_pool(
                    dsn.url,
                    min_size=1,
                    max_size=READERS,
                    init=_prepare,
                    timeout=busy_timeout_s,
                )
            database = cls(
                dsn, thread, PostgresSession(connection, thread), readers, busy_timeout_s, redactor
            )
            await database._refuse_foreign(create)
        except BaseException:
            if readers is not None:
                await readers.close()
            if connection is not None:
                opened = connection
                await thread.run(lambda: thread.wait(opened.close()))
            await thread.stop()
            raise
        return database

    @property
    def location(self) -> PostgresDsn:
        return self.dsn

    async def close(self) -> None:
        await self._readers.close()
        await self._thread.run(lambda: self._thread.wait(self._session.connection.close()))
        await self._thread.stop()

    async def write(self, write: Write[T]) -> T:
        """Run `write` in a write transaction on the writer's thread (group-committed);
        return its value once committed."""
        with self._errors():
            return await self._group_commit.write(write)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Writer]:
        """A write transaction on the writer connection; commits unless the body raises."""
        async with self._write_lock:
            with self._errors():
                await self._begin()
                try:
                    yield PostgresWriter(self._session, self._thread, self.redactor)
                except BaseException:
                    await asyncio.shield(self._thread.run(self._session.rollback))
                    raise
                # Shielded: once COMMIT is sent it completes (see `Database.transaction`).
                await asyncio.shield(self._thread.run(self._session.commit))

    @asynccontextmanager
    async def row_claims(self) -> AsyncIterator[Writer]:
        """A write transaction of its own on a pool connection, without the database's
        write lock: for claims made by row locks (`FOR UPDATE SKIP LOCKED`), which many
        processes then make at once instead of one after another."""
        with self._errors():
            async with self._readers.acquire() as connection, connection.transaction():
                yield PooledWriter(connection, self.redactor)

    async def _begin(self) -> None:
        """BEGIN and the write lock, which may wait for another process; a caller
        cancelled meanwhile leaves no transaction open behind it."""
        begin = asyncio.ensure_future(self._thread.run(self._session.begin))
        try:
            await asyncio.shield(begin)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await begin
            await self._thread.run(self._session.rollback)
            raise

    async def checkpoint(self) -> None:
        """Nothing: PostgreSQL manages its write-ahead log itself (and CHECKPOINT needs
        a superuser)."""

    async def schema_version(self, connection: Writer | None = None) -> int:
        """The newest migration recorded in `schema_migrations` (0 when there is none)."""
        exists = "SELECT to_regclass('schema_migrations') IS NOT NULL"
        newest = "SELECT COALESCE(max(version), 0) FROM schema_migrations"
        if connection is None:
            [[found]] = await self.fetch_all(exists)
            return int((await self.fetch_all(newest))[0][0]) if found else 0
        [[found]] = await connection.execute_fetchall(exists)
        return int((await connection.execute_fetchall(newest))[0][0]) if found else 0

    async def apply(self, connection: Writer, migration: Migration) -> None:
        """The migration's PostgreSQL script, on the writer inside its transaction (the
        transaction `connection` is)."""
        script = migration.sql_for(self.engine)
        await self._thread.run(lambda: self._session.script(script))

    async def health(self) -> tuple[str, list[str]]:
        """PostgreSQL always writes ahead, and checks its pages itself: a database that
        answers is as sound as adw can tell."""
        await self.fetch_all("SELECT 1")
        return "wal", ["ok"]

    async def listen(self, deliver: Deliver, listening: asyncio.Event) -> None:
        """LISTEN on a connection of its own; a lost one is connected again, waiting
        longer after each failed try (`RECONNECT_S`), and what was committed meanwhile
        is unknown: RESYNC once listening again."""
        wait_s, longest_s = RECONNECT_S
        while True:
            try:
                connection = await asyncpg.connect(self.dsn.url, timeout=self.busy_timeout_s)
            except LOST as error:
                logger.warning("change listener: %s", self._unreachable(error))
                await asyncio.sleep(wait_s)
                wait_s = min(wait_s * 2, longest_s)
                continue
            wait_s = RECONNECT_S[0]
            try:
                await _listen_on(connection, deliver, listening, resync=listening.is_set())
            except LOST as error:
                logger.warning("change listener: %s", self._unreachable(error))
            finally:
                connection.terminate()

    def _unreachable(self, error: BaseException) -> str:
        return f"lost PostgreSQL at {self.dsn} ({_said(error, self.redactor)})"

    async def fetch_all(self, sql: str, params: ReadParams = ()) -> list[Row]:
        query, values = postgres_query(sql, params)
        with self._errors():
            async with self._readers.acquire() as connection:
                return list(await connection.fetch(query, *values))

    async def fetch_one(self, sql: str, params: ReadParams = ()) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def batches(
        self, sql: str, params: Params = (), *, size: int = 500
    ) -> AsyncGenerator[list[Row], None]:
        """The rows of one query, `size` at a time, from one snapshot (a read-only
        repeatable-read transaction, held until the last batch or the caller stops)."""
        query, values = postgres_query(sql, params)
        with self._errors():
            async with (
                self._readers.acquire() as connection,
                connection.transaction(isolation="repeatable_read", readonly=True),
            ):
                cursor = await connection.cursor(query, *values)
                while rows := await cursor.fetch(size):
                    yield list(rows)

    async def _refuse_foreign(self, create: bool) -> None:
        """Refuse a database holding another application's tables (see
        `database._refuse_foreign`); without `create`, one adw never migrated."""
        rows = await self.fetch_all(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
        tables = [str(row[0]) for row in rows]
        if tables and "schema_migrations" not in tables:
            raise ForeignDatabaseError(str(self.dsn), tables, "PostgreSQL")
        if not tables and not create:
            raise DatabaseMissingError(str(self.dsn))

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """The server gone, or the write lock held past the busy timeout: one line
        naming the database (masked) and what to do."""
        try:
            yield
        except asyncpg.LockNotAvailableError as error:
            raise DatabaseLockedError(str(self.dsn), self.busy_timeout_s) from error
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as error:
            if isinstance(error, asyncpg.InterfaceError) and not _lost(error):
                raise
            raise StoreError(
                self.redactor.text(
                    f"lost the connection to PostgreSQL at {self.dsn} ({error}): check that "
                    "the server runs, then run adw again"
                )
            ) from error


async def _listen_on(
    connection: asyncpg.Connection, deliver: Deliver, listening: asyncio.Event, *, resync: bool
) -> None:
    """Deliver the notices `connection` hears until the server closes it or it breaks
    (raised when a ping goes unanswered); `resync` first, once it listens."""
    closed = asyncio.Event()
    connection.add_termination_listener(lambda _connection: closed.set())
    await connection.add_listener(
        CHANNEL, lambda _c, _pid, _channel, payload: deliver(Change.from_payload(payload))
    )
    if resync:
        deliver(RESYNC)
    listening.set()
    while not closed.is_set() and not connection.is_closed():
        try:
            async with asyncio.timeout(PING_S):
                await closed.wait()
        except TimeoutError:
            await connection.execute("SELECT 1", timeout=PING_S)


def _lost(error: asyncpg.InterfaceError) -> bool:
    return "closed" in str(error) or "connection" in str(error)


async def _prepare(connection: asyncpg.Connection) -> None:
    """Read `numeric` (the time arithmetic of `dialect`) as a float, as SQLite's REAL:
    the store has no numeric columns."""
    await connection.set_type_codec(
        "numeric", encoder=str, decoder=float, schema="pg_catalog", format="text"
    )


async def _connect(dsn: PostgresDsn, busy_timeout_s: float) -> asyncpg.Connection:
    """The writer: waiting at most the busy timeout for the write lock."""
    connection = await asyncpg.connect(dsn.url, timeout=busy_timeout_s)
    try:
        await _prepare(connection)
        await connection.execute(f"SET lock_timeout = {int(busy_timeout_s * 1000)}")
    except BaseException:
        await connection.close()
        raise
    return connection


@contextmanager
def _connect_errors(dsn: PostgresDsn, redactor: Redactor) -> Iterator[None]:
    """Why the database cannot be reached, in one line naming it (masked)."""
    try:
        yield
    except asyncpg.InvalidPasswordError as error:
        raise StoreError(
            f"PostgreSQL at {dsn} refused the password ({_said(error, redactor)}): fix the "
            "password in ADW_DB (or --db)"
        ) from error
    except asyncpg.InvalidAuthorizationSpecificationError as error:
        raise StoreError(
            f"PostgreSQL at {dsn} refused the connection ({_said(error, redactor)}): check "
            "the user in ADW_DB (or --db) and the server's pg_hba.conf"
        ) from error
    except asyncpg.InvalidCatalogNameError as error:
        raise StoreError(
            f"PostgreSQL at {dsn} has no such database ({_said(error, redactor)}): create it "
            "(createdb NAME) or point ADW_DB (or --db) at another"
        ) from error
    except (OSError, TimeoutError, asyncpg.PostgresConnectionError) as error:
        raise StoreError(
            f"cannot reach PostgreSQL at {dsn} ({_said(error, redactor)}): start the server, "
            "or check the host and port in ADW_DB (or --db)"
        ) from error
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as error:
        raise StoreError(f"cannot use PostgreSQL at {dsn}: {_said(error, redactor)}") from error


def _said(error: BaseException, redactor: Redactor) -> str:
    return redactor.text(str(error) or type(error).__name__)
