"""Connections to a PostgreSQL state database (asyncpg): one serialised writer, a pool of
readers.

The writer is one connection owned by one thread that runs its own event loop, as
aiosqlite owns a SQLite connection: a group-committed write (`write`) runs there whole,
its statements awaited on that loop one after another (`run_until_complete`), so the
store's write functions stay plain functions and a save costs one hop from the caller's
loop. Reads use a pool on the caller's loop and never wait for the writer.

Isolation: READ COMMITTED, PostgreSQL's default. Every write transaction first takes a
transaction-scoped advisory lock (`pg_session.WRITE_LOCK`), so write transactions on the
database are serialised across processes exactly as SQLite's `BEGIN IMMEDIATE`
serialises them: each sees everything committed before it, and the store's
read-check-write transactions (leases, breakers, rate limits, the one-active-run check of
a launch) keep their guarantees unchanged.

Two kinds of writes need less, and take less:

- A write that names its run (`write(..., run=)`: a save, an update, a rollback fork, a
  takeover's version) changes and checks only that run's rows: its row, its versions,
  its step attempts. Its transaction holds `WRITE_LOCK` shared and the run's own lock
  (`pg_session.run_lock_key`), exclusive. Writes to different runs so commit at once,
  from any number of processes; two writes to one run still run one after the other,
  each seeing the other's version (a read-modify-write `update` never has to retry); and
  a transaction holding `WRITE_LOCK` exclusive (every other write) still runs alone, so
  what it reads of any run (a status, a version) nobody changes under it. Only
  exclusive-lock writes change a run's status or create a run, so a run-scoped write's
  check of its run's status holds to its commit.
- A claim (`claim`, `FOR UPDATE SKIP LOCKED`) takes no advisory lock: it is one
  statement that changes only the row it locks (the reservation of a queued run), and
  row locks order it with every other writer of that row. It is its own transaction
  (implicit, committed before its answer is sent: one round trip), so it has no
  transaction id to ask about when its answer is lost; its audit entry carries a token
  instead, unique in `audit_log.claim`, which settles it (`_settled`).

The versioned state does not depend on the advisory locks alone: the compare-and-set
trigger locks the run's row (`FOR UPDATE`) before checking its version, and (adw_id,
version) is the primary key, so even a writer that skips the locks can never write a
version twice or out of order (READ COMMITTED re-reads the locked row once the other
transaction ends). Serialisable isolation would add retries on serialisation failures
without adding a guarantee the locks do not already give.

A server that goes away (a restart) is waited for, within `ADW_DB_RECONNECT` seconds
(`reconnect`): a read is read again on a new connection, a write transaction cut off
before it committed is run again whole, and a COMMIT whose answer was lost is settled by
asking the server what became of it, so a write is applied exactly once (`pg_session`;
a claim by its token).
"""

import asyncio
import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Coroutine,
    Iterator,
)
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import Any, TypeVar, cast

import asyncpg
from asyncpg.types import ServerVersion

from adw_tui.domain.errors import (
    DatabaseLockedError,
    DatabaseMissingError,
    DatabaseUnreachableError,
    ForeignDatabaseError,
    ServerTooOldError,
    StoreError,
    TransactionLostError,
)
from adw_tui.domain.redaction import Redactor
from adw_tui.store.audit import audited_claim
from adw_tui.store.backend import Engine, Params, ReadParams, Row, Writer, now_iso, rerun_when_lost
from adw_tui.store.changes import CHANNEL, RESYNC, Change, Deliver
from adw_tui.store.dialect import postgres_query, postgres_sql
from adw_tui.store.group_commit import GroupCommit, T, Write, redacted, settle
from adw_tui.store.location import PostgresDsn
from adw_tui.store.pg_session import Fetched, PostgresSession, fetched
from adw_tui.store.reconnect import FIRST_WAIT_S, LONGEST_WAIT_S, Outage, connection_lost
from adw_tui.store.schema import Migration

R = TypeVar("R")
logger = logging.getLogger(__name__)

READERS = 4
"""Reader connections at most, per process."""
OLDEST_SERVER = 13
"""The oldest PostgreSQL major version adw uses. A COMMIT whose answer was lost with
its connection is settled by asking the server what became of the transaction, with
`pg_current_xact_id`, `pg_current_xact_id_if_assigned`, `pg_xact_status` and the `xid8`
type (`pg_session`), all new in 13: on an older server the first write would fail on
an unknown function, so it is refused at open, before anything is written."""
DEFAULT_RECONNECT_S = 60.0
PING_S = 5.0
"""A listening connection silent this long is asked `SELECT 1`: a server gone without
closing it (its host down) is noticed within twice this."""


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
                    value, error = job(), None
                except BaseException as raised:
                    value, error = None, raised
                # The caller's loop may have closed meanwhile (asyncio.run ended on a
                # Ctrl-C while a shielded write went on here): no one waits for the
                # answer, and the thread must go on serving the jobs after it.
                with contextlib.suppress(RuntimeError):
                    caller.call_soon_threadsafe(settle, done, value, error)
        finally:
            self.loop.close()


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
        outage: Outage,
    ) -> None:
        self.dsn = dsn
        self.redactor = redactor
        self.busy_timeout_s = busy_timeout_s
        self._thread = thread
        self._session = session
        self._readers = readers
        self._outage = outage
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
        reconnect_s: float = DEFAULT_RECONNECT_S,
        redactor: Redactor | None = None,
    ) -> "PostgresDatabase":
        """Connect the writer and the readers (a server not there now is an error at
        once: the reconnect window is for a server that went away later). `create`
        False: a database adw never migrated is DatabaseMissingError (nothing is
        created)."""
        redactor = (redactor or Redactor()).with_secret(dsn.url, "ADW_DB")
        if dsn.password:
            redactor = redactor.with_secret(dsn.password, "ADW_DB")
        outage = Outage(str(dsn), reconnect_s, redactor)
        thread = WriterThread()
        connection: asyncpg.Connection | None = None
        readers: asyncpg.Pool | None = None

        def connect() -> Coroutine[Any, Any, asyncpg.Connection]:
            return _connect(dsn, busy_timeout_s)

        try:
            with _connect_errors(dsn, redactor):
                connection = await thread.run(lambda: thread.wait(connect()))
            refuse_old_server(str(dsn), connection.get_server_version())
            with _connect_errors(dsn, redactor):
                readers = await asyncpg.create_pool(
                    dsn.url,
                    min_size=1,
                    max_size=READERS,
                    init=_prepare,
                    reset=_keep_session,
                    timeout=busy_timeout_s,
                )
            assert connection is not None  # connected above, or raised
            session = PostgresSession(connection, connect, thread, outage)
            database = cls(dsn, thread, session, readers, busy_timeout_s, redactor, outage)
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

    @property
    def unreachable_since(self) -> datetime | None:
        return self._outage.since

    async def reachable_for_s(self) -> float:
        """The shorter of: since this process last got the server back, and since the
        server (re)started, on the server's own clock (a restart this process never
        noticed between two of its statements still counts)."""
        row = await self.fetch_one("SELECT EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())")
        up_s = float(row[0]) if row else 0.0
        return min(up_s, self._outage.reachable_for_s())

    async def close(self) -> None:
        await self._readers.close()
        await self._thread.run(self._session.close)
        await self._thread.stop()

    async def write(
        self, write: Write[T], *, run: str | None = None, reads: str | None = None
    ) -> T:
        """Run `write` in a write transaction on the writer's thread (group-committed);
        return its value once committed. Its group lost with the connection before it
        committed, it is queued again (see `pg_session`)."""
        with self._errors():
            return await rerun_when_lost(self._group_commit.write)(write, run, reads)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Writer]:
        """A write transaction on the writer connection; commits unless the body raises.
        The connection lost meanwhile: TransactionLostError, for the caller to run the
        transaction again whole (`backend.rerun_when_lost`)."""
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

    async def claim(self, sql: str, params: Params, *, actor: str, action: str) -> str | None:
        """`sql` (an UPDATE ... RETURNING adw_id of one row at most, locked `FOR UPDATE
        SKIP LOCKED`) and its audit entry, as one statement in a transaction of its own
        (implicit: one round trip) on a reader connection, without the database's write
        lock: many processes claim at once instead of one after another. Its answer lost
        with the connection: what became of it is settled by its token (`_settled`). A
        caller cancelled while the statement is on its way may not know what it claimed
        (nothing is rolled back any more): that reservation is given back once its owner
        is gone, as any (`Fleet.release_reservation`)."""
        token = uuid.uuid4().hex
        statement = postgres_sql(audited_claim(sql))
        values = redacted(self.redactor, [*params, now_iso(), actor, action, "{}", token])
        sent = False
        with self._errors():
            try:
                async with self._reader() as connection:
                    sent = True
                    claimed = await fetched(cast(asyncpg.Connection, connection), statement, values)
            except Exception as error:
                if not (sent and connection_lost(error)):
                    raise
                await self._readers.expire_connections()  # the others are dead too
                return await self._settled(token, actor=actor, action=action)
        return str(claimed.rows[0][0]) if claimed.rows else None

    async def _settled(self, token: str, *, actor: str, action: str) -> str | None:
        """The run the claim of `token` took, its answer lost: the token is taken by an
        entry saying the claim was lost, unless the claim holds it already (committed;
        one still running is waited for, as the token is unique). A claim that never ran,
        or runs later, then cannot commit: its own entry would repeat the token. Not
        committed: TransactionLostError, and the claim is made again with a new token."""
        # Read again on a new connection when lost, as a read is: a second try finds the
        # entry of the first, which the next statement tells apart from the claim's.
        await self.fetch_all(
            "INSERT INTO audit_log (at, actor, action, detail, claim) VALUES (?, ?, ?, '{}', ?) "
            "ON CONFLICT (claim) WHERE claim IS NOT NULL DO NOTHING",
            (now_iso(), actor, f"{action}.lost", token),
        )
        rows = await self.fetch_all(
            "SELECT adw_id FROM audit_log WHERE claim = ? AND action = ?", (token, action)
        )
        if not rows:
            raise TransactionLostError(str(self.dsn))
        return str(rows[0][0])

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
        longer after each failed try (as `reconnect` waits), and what was committed
        meanwhile is unknown: RESYNC once listening again. An error that is not a lost
        connection (a password changed meanwhile) ends the listener."""
        wait_s = FIRST_WAIT_S
        while True:
            try:
                connection = await asyncpg.connect(self.dsn.url, timeout=self.busy_timeout_s)
            except Exception as error:
                if not connection_lost(error):
                    raise
                logger.warning("change listener: %s", self._unreachable(error))
                await asyncio.sleep(wait_s)
                wait_s = min(wait_s * 2, LONGEST_WAIT_S)
                continue
            wait_s = FIRST_WAIT_S
            try:
                await _listen_on(connection, deliver, listening, resync=listening.is_set())
            except Exception as error:
                if not connection_lost(error):
                    raise
                logger.warning("change listener: %s", self._unreachable(error))
            finally:
                connection.terminate()

    def _unreachable(self, error: BaseException) -> str:
        return f"lost PostgreSQL at {self.dsn} ({_said(error, self.redactor)})"

    async def fetch_all(self, sql: str, params: ReadParams = ()) -> list[Row]:
        """The rows of one query; a connection the server dropped is read again on a
        new one, waiting for the server (with backoff) within the reconnect window."""
        query, values = postgres_query(sql, params)

        async def read() -> list[Row]:
            async with self._readers.acquire() as connection:
                with _dropped_when_lost(connection):
                    return list(await connection.fetch(query, *values))

        with self._errors():
            return await self._outage.retried(read, self._readers.expire_connections)

    async def fetch_one(self, sql: str, params: ReadParams = ()) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def batches(
        self,
        sql: str,
        params: Params = (),
        *,
        size: int = 500,
        key: str | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[list[Row], None]:
        """The rows of one query, `size` at a time, from one snapshot (a read-only
        repeatable-read transaction, held until the last batch or the caller stops).

        A read cut off with its connection (a server restart) goes on, with `key` (the
        column naming each row): the query is read again from a new snapshot, once the
        server answers within the reconnect window, and the rows already given are
        skipped, so none comes twice and none the new snapshot holds is missed; they
        count against `limit` (the query's LIMIT), which the new snapshot's rows would
        otherwise fill again. Without `key`, or cut off again past the window, it fails
        with one line."""
        query, values = postgres_query(sql, params)
        given: set[object] = set()
        left = limit
        cut_at: float | None = None
        with self._errors():
            while True:
                try:
                    async with (
                        self._reader() as connection,
                        connection.transaction(isolation="repeatable_read", readonly=True),
                    ):
                        cursor = await connection.cursor(query, *values)
                        while rows := await cursor.fetch(size):
                            batch = [row for row in rows if key is None or row[key] not in given]
                            if left is not None:
                                batch = batch[:left]
                                left -= len(batch)
                            if key is not None:
                                given.update(row[key] for row in batch)
                            if batch:
                                yield batch
                            if left == 0:
                                return
                    return
                except Exception as error:
                    cut_at = cut_at if cut_at is not None else time.monotonic()
                    resumable = key is not None and connection_lost(error)
                    if not resumable or time.monotonic() - cut_at > self._outage.window_s:
                        raise
                    logger.warning("read cut off, reading on: %s", self._unreachable(error))
                    await self._readers.expire_connections()  # the others are dead too

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator["asyncpg.pool.PoolConnectionProxy[Any]"]:
        """A pool connection that answers: one the server dropped is replaced, waiting
        for the server within the reconnect window (one round trip, `SELECT 1`, only
        when the pool had lost connections)."""

        async def answering() -> "asyncpg.pool.PoolConnectionProxy[Any]":
            connection = await self._readers.acquire()
            try:
                with _dropped_when_lost(connection):
                    await connection.fetchval("SELECT 1")
            except BaseException:
                await self._readers.release(connection)
                raise
            return connection

        connection = await self._outage.retried(
            self._readers.acquire, self._readers.expire_connections, again=answering
        )
        try:
            with _dropped_when_lost(connection):
                yield connection
        finally:
            await self._readers.release(connection)

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
        """The server gone past the reconnect window, or the write lock held past the
        busy timeout: one line naming the database (masked) and what to do."""
        try:
            yield
        except asyncpg.LockNotAvailableError as error:
            raise DatabaseLockedError(str(self.dsn), self.busy_timeout_s) from error
        except Exception as error:
            if not connection_lost(error):
                raise
            said = self.redactor.text(str(error) or type(error).__name__)
            raise DatabaseUnreachableError(
                self.redactor.text(str(self.dsn)), self._outage.window_s, said
            ) from error


def refuse_old_server(server: str, version: ServerVersion) -> None:
    """ServerTooOldError for a server older than `OLDEST_SERVER` (its version as the
    server says it: 12.18, or before 10, 9.6.24)."""
    if version.major < OLDEST_SERVER:
        numbers = (version.major, version.micro) if version.major >= 10 else version[:3]
        raise ServerTooOldError(server, ".".join(map(str, numbers)), OLDEST_SERVER)


async def _listen_on(
    connection: asyncpg.Connection, deliver: Deliver, listening: asyncio.Event, *, resync: bool
) -> None:
    """Deliver the notices `connection` hears until the server closes it or it breaks
    (raised when a ping goes unanswered); `resync` first, once it listens."""
    closed = asyncio.Event()
    connection.add_termination_listener(lambda _connection: closed.set())

    def heard(
        _connection: "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]",
        _pid: int,
        _channel: str,
        payload: object,
    ) -> None:
        change = Change.from_payload(str(payload))
        if change is not None:
            deliver(change)

    await connection.add_listener(CHANNEL, heard)
    if resync:
        deliver(RESYNC)
    listening.set()
    while not closed.is_set() and not connection.is_closed():
        try:
            async with asyncio.timeout(PING_S):
                await closed.wait()
        except TimeoutError:
            await connection.execute("SELECT 1", timeout=PING_S)


@contextmanager
def _dropped_when_lost(connection: "asyncpg.pool.PoolConnectionProxy[Any]") -> Iterator[None]:
    """A pool connection whose server went away is closed at once, so the pool does not
    reset it on release (a reset of a connection cut mid-statement fails) and makes a
    new one next time."""
    try:
        yield
    except Exception as error:
        if connection_lost(error) or isinstance(error, TransactionLostError):
            # A connection the server closed may be back in the pool already.
            with contextlib.suppress(asyncpg.InterfaceError):
                connection.terminate()
        raise


async def _prepare(connection: asyncpg.Connection) -> None:
    """Read `numeric` (the time arithmetic of `dialect`) as a float, as SQLite's REAL:
    the store has no numeric columns."""
    await connection.set_type_codec(
        "numeric", encoder=str, decoder=float, schema="pg_catalog", format="text"
    )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to reset when a reader goes back to the pool (asyncpg's default sends a
    round trip of RESET ALL, UNLISTEN, CLOSE ALL and unlocking): a reader keeps no
    session state, no settings, listeners, cursors or session locks, only its
    transactions, which asyncpg ends itself."""


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
