"""Connections to a SQLite state database: one serialised writer, one reader, and a
reader of its own for each listing read in batches while it is read.

Every write goes through `Database.write()` (a function run whole on the writer's thread,
group-committed: see `group_commit`) or `Database.transaction()` (statements awaited one
by one): an asyncio.Lock orders this process's writers, and `BEGIN IMMEDIATE` takes
SQLite's write lock up front, so other processes wait on the busy timeout instead of
failing later with an upgrade conflict. Reads use their own connection and never wait for
a writer (WAL). A listing read in batches holds its read transaction (its snapshot)
until its last batch, across awaits: on the shared reader, every read meanwhile would see
that snapshot, and a run could not read back what it had just written.

Both hand out a writer that redacts secrets from every text parameter.
"""

import asyncio
import contextlib
import math
import os
import sqlite3
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiosqlite

from adw_tui.domain.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    DatabaseMissingError,
    DatabaseWriteCause,
    DatabaseWriteError,
    ForeignDatabaseError,
    StoreError,
)
from adw_tui.domain.redaction import Redactor
from adw_tui.store.audit import record_audit
from adw_tui.store.backend import Engine, Params, ReadParams, Row
from adw_tui.store.backend import Writer as AnyWriter
from adw_tui.store.changes import RESYNC, SQLITE_POLL_S, Change, Deliver
from adw_tui.store.group_commit import GroupCommit, T, Write, redacted
from adw_tui.store.schema import Migration

Synchronous = Literal["FULL", "NORMAL"]
R = TypeVar("R")


class Writer:
    """The writer connection inside a transaction, with secrets redacted from every `str`
    parameter before SQLite sees it."""

    def __init__(self, connection: aiosqlite.Connection, redactor: Redactor) -> None:
        self._connection = connection
        self._redactor = redactor

    async def execute(self, sql: str, params: Params = ()) -> aiosqlite.Cursor:
        return await self._connection.execute(sql, redacted(self._redactor, params))

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self._connection.execute_fetchall(sql, redacted(self._redactor, params)))


class SqliteSession:
    """The writer's sqlite3 connection, on aiosqlite's thread, for a group of writes."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        return self._connection.execute(sql, params)

    def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        self._connection.executemany(sql, params)

    def read_ahead(self, sql: str, runs: Sequence[str]) -> Mapping[str, sqlite3.Cursor]:
        """Nothing: a statement costs SQLite no round trip, each write runs its own."""
        return {}

    def begin(self, runs: Sequence[str] | None = None) -> None:
        """BEGIN IMMEDIATE: SQLite has one lock, the database's, whatever `runs` says."""
        self._connection.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._connection.execute("COMMIT")

    def rollback(self) -> None:
        if self._connection.in_transaction:
            self._connection.rollback()


class Database:
    """The writer and reader connections to one SQLite file."""

    engine: Engine = "sqlite"

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        busy_timeout_s: float,
        redactor: Redactor,
    ) -> None:
        self.path = path
        self.redactor = redactor
        self.busy_timeout_s = busy_timeout_s
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()
        # aiosqlite runs every call of a connection on that connection's one thread; a
        # group of writes is one such call, on its sqlite3 connection.
        self._group_commit = GroupCommit(
            lambda: SqliteSession(writer._conn),
            writer._execute,
            self._write_lock,
            redactor,
        )

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        create: bool = True,
        busy_timeout_s: float = 30.0,
        synchronous: Synchronous = "FULL",
        redactor: Redactor | None = None,
    ) -> "Database":
        if path.is_dir():
            raise StoreError(
                f"database path {path} is a directory: pass --db (or ADW_DB) a file path, "
                f"such as {path / 'adw_state.db'}"
            )
        if not path.exists():
            if not create:
                raise DatabaseMissingError(str(path))
            path.parent.mkdir(parents=True, exist_ok=True)
        with _translate_errors(path, busy_timeout_s):
            writer = await _connect(path, busy_timeout_s)
            try:
                await _refuse_foreign(writer, path)
                await _enable_wal(writer, busy_timeout_s)
                await writer.execute(f"PRAGMA synchronous={synchronous}")
                reader = await _connect(path, busy_timeout_s, query_only=True)
            except BaseException:
                await writer.close()
                raise
        return cls(path, writer, reader, busy_timeout_s, redactor or Redactor())

    @property
    def location(self) -> Path:
        return self.path

    @property
    def unreachable_since(self) -> datetime | None:
        """None: a file has no server to lose."""
        return None

    async def reachable_for_s(self) -> float:
        return math.inf

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()

    async def write(
        self, write: Write[T], *, run: str | None = None, reads: str | None = None
    ) -> T:
        """Run `write` in a write transaction on the writer's thread (with writes queued
        meanwhile: group commit); return its value once committed."""
        with _translate_errors(self.path, self.busy_timeout_s):
            return await self._group_commit.write(write, run, reads)

    async def claim(self, sql: str, params: Params, *, actor: str, action: str) -> str | None:
        """`sql` (an UPDATE ... RETURNING adw_id of one row at most) and its audit entry,
        in the write transaction (SQLite has one writer at a time; PostgreSQL claims by
        row locks, see `PostgresDatabase.claim`)."""
        async with self.transaction() as connection:
            rows = await connection.execute_fetchall(sql, params)
            if not rows:
                return None
            adw_id = str(rows[0][0])
            await record_audit(connection, actor=actor, action=action, adw_id=adw_id)
        return adw_id

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Writer]:
        """A write transaction on the writer connection; commits unless the body raises."""
        async with self._write_lock:
            with _translate_errors(self.path, self.busy_timeout_s):
                await self._begin()
                try:
                    yield Writer(self._writer, self.redactor)
                except BaseException:
                    if self._writer.in_transaction:
                        await asyncio.shield(self._writer.rollback())
                    raise
                # Shielded: once COMMIT is sent it completes, so a cancelled caller never
                # believes a committed save was lost.
                await asyncio.shield(self._writer.execute("COMMIT"))

    async def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file and truncate it
        (`wal_checkpoint(TRUNCATE)`). After a write failed for want of room (a full disk,
        a file size limit), this gives the log's space back, so that a small write may
        still go through."""
        async with self._write_lock:
            with _translate_errors(self.path, self.busy_timeout_s):
                await self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def _begin(self) -> None:
        """BEGIN IMMEDIATE, which may wait up to the busy timeout for another process.

        A caller cancelled during that wait must not leave the connection inside a
        transaction it never ends: the BEGIN runs on in aiosqlite's thread, so wait for
        it and roll it back before passing the cancellation on.
        """
        begin = asyncio.ensure_future(self._writer.execute("BEGIN IMMEDIATE"))
        try:
            await asyncio.shield(begin)
        except asyncio.CancelledError:
            with contextlib.suppress(sqlite3.Error):
                await begin
            if self._writer.in_transaction:
                await self._writer.rollback()
            raise

    async def schema_version(self, connection: AnyWriter | None = None) -> int:
        """`PRAGMA user_version`: the number of the last migration applied."""
        if connection is None:
            rows = await self.fetch_all("PRAGMA user_version")
        else:
            rows = await connection.execute_fetchall("PRAGMA user_version")
        return int(rows[0][0]) if rows else 0

    async def apply(self, connection: AnyWriter, migration: Migration) -> None:
        """Its statements one by one (executescript would COMMIT the transaction), then
        its number as `user_version`."""
        for statement in _statements(migration.sql):
            await connection.execute(statement)
        await connection.execute(f"PRAGMA user_version={migration.version}")

    async def health(self) -> tuple[str, list[str]]:
        journal = await self.fetch_one("PRAGMA journal_mode")
        check = await self.fetch_all("PRAGMA quick_check")
        return str(journal[0]) if journal else "", [str(row[0]) for row in check]

    async def fetch_all(self, sql: str, params: ReadParams = ()) -> list[Row]:
        with _translate_errors(self.path, self.busy_timeout_s):
            return list(await self._reader.execute_fetchall(sql, params))

    async def listen(self, deliver: Deliver, listening: asyncio.Event) -> None:
        """Every `SQLITE_POLL_S`, ask a connection of its own whether any other
        connection committed (`PRAGMA data_version`: one read of shared memory), and if
        so deliver the rows of `changes` it has not seen. Rows missing before the first
        unseen one were pruned unread: RESYNC."""
        reader = ChangeReader(self.path, self.busy_timeout_s)
        try:
            with _translate_errors(self.path, self.busy_timeout_s):
                seen = await reader.call(reader.open)
                listening.set()
                while True:
                    await asyncio.sleep(SQLITE_POLL_S)
                    for seq, subject, kind, ref in await reader.call(reader.after, seen):
                        if seq > seen + 1:
                            deliver(RESYNC)
                        deliver(Change.of(kind, subject, ref))
                        seen = seq
        finally:
            reader.close()

    async def batches(
        self,
        sql: str,
        params: Params = (),
        *,
        size: int = 500,
        key: str | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[list[Row], None]:
        """The rows of one query, `size` at a time as SQLite produces them: a long result
        is never held whole, and the first rows come before the last are read. The rows
        are one snapshot (one read transaction, held until the last batch or until the
        caller stops), on a reader of the listing's own. (`key` and `limit` are
        PostgreSQL's business: a file loses no connection, and the query's LIMIT holds.)"""
        with _translate_errors(self.path, self.busy_timeout_s):
            async with self._listing_reader() as reader, reader.execute(sql, params) as cursor:
                while rows := await cursor.fetchmany(size):
                    yield list(rows)

    @asynccontextmanager
    async def _listing_reader(self) -> AsyncIterator[aiosqlite.Connection]:
        """A reader of the listing's own, closed with it (a millisecond or two to open):
        however the listing ends, a cancel as its statement starts included, no snapshot
        outlives it."""
        reader = await _connect(self.path, self.busy_timeout_s, query_only=True)
        try:
            yield reader
        finally:
            await asyncio.shield(reader.close())

    async def fetch_one(self, sql: str, params: ReadParams = ()) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None


def _statements(script: str) -> list[str]:
    """Split a migration into statements, as SQLite reads them."""
    statements: list[str] = []
    buffer = ""
    for line in script.strip().splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return statements


async def _connect(
    path: Path, busy_timeout_s: float, *, query_only: bool = False
) -> aiosqlite.Connection:
    # isolation_level=None: no implicit (deferred) transactions; writes say BEGIN IMMEDIATE.
    connection = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout_s)
    try:
        connection.row_factory = sqlite3.Row
        await connection.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        await connection.execute("PRAGMA foreign_keys=ON")
        if query_only:
            await connection.execute("PRAGMA query_only=ON")
    except BaseException:
        # Else aiosqlite's thread outlives the event loop and prints a traceback at exit.
        await connection.close()
        raise
    return connection


class ChangeReader:
    """The change listener's connection, on a thread of its own: every call, its close
    included, runs there one after another, so a listener cancelled twice (as
    `asyncio.run` cancels what is left when it ends) never leaves the connection in use
    or a result bound for a closed event loop."""

    def __init__(self, path: Path, busy_timeout_s: float) -> None:
        self._path = path
        self._busy_timeout_s = busy_timeout_s
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="adw-changes")
        self._connection: sqlite3.Connection | None = None
        self._version = 0

    async def call(self, job: Callable[..., R], *args: Any) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._thread, job, *args)

    def open(self) -> int:
        """Connect; the newest notice's seq (0: none yet)."""
        self._connection = sqlite3.connect(
            self._path, timeout=self._busy_timeout_s, isolation_level=None
        )
        self._connection.execute("PRAGMA query_only=ON")
        self._version = self._data_version()
        [seen] = self._connection.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()
        return int(seen)

    def after(self, seen: int) -> list[tuple[int, str, str, int]]:
        """The notices after `seen`, if another connection committed since the last
        call (else none, unread)."""
        assert self._connection is not None
        version = self._data_version()
        if version == self._version:
            return []
        self._version = version
        return self._connection.execute(
            "SELECT seq, adw_id, kind, ref FROM changes WHERE seq > ? ORDER BY seq", (seen,)
        ).fetchall()

    def close(self) -> None:
        """Close the connection after the call in progress, if any; without waiting."""
        self._thread.submit(self._disconnect)
        self._thread.shutdown(wait=False)

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()

    def _data_version(self) -> int:
        """A number that changes whenever another connection commits to the database."""
        assert self._connection is not None
        [version] = self._connection.execute("PRAGMA data_version").fetchone()
        return int(version)


async def _refuse_foreign(connection: aiosqlite.Connection, path: Path) -> None:
    """Refuse a file whose tables are another application's, before anything changes it.

    adw's first migration creates `schema_migrations` in the same transaction as every
    other table, so a file with tables but without that one was never adw's; migrating it
    would mix adw's tables into that application's data (and switch it to WAL).
    """
    rows = await connection.execute_fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    )
    tables = [str(row[0]) for row in rows]
    if tables and "schema_migrations" not in tables:
        raise ForeignDatabaseError(str(path), tables)


async def _enable_wal(connection: aiosqlite.Connection, busy_timeout_s: float) -> None:
    """Switch to WAL, waiting out other connections that switch the same new file.

    Changing the journal mode needs an exclusive lock, and SQLite answers SQLITE_BUSY at
    once, without calling the busy handler, when several connections convert a new file
    at the same moment; so retry here until the busy timeout, as the handler would.
    """
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            await connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(0.01)


@contextmanager
def _translate_errors(path: Path, busy_timeout_s: float) -> Iterator[None]:
    """Turn SQLite's low-level errors into messages that name the file and the remedy,
    by SQLite's result code (the extended one, such as SQLITE_IOERR_WRITE, is shown)."""
    try:
        yield
    except sqlite3.OperationalError as error:
        code = getattr(error, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        detail = f"{error}, {getattr(error, 'sqlite_errorname', 'SQLITE_ERROR')}"
        if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise DatabaseLockedError(str(path), busy_timeout_s) from error
        if primary == sqlite3.SQLITE_CANTOPEN:
            raise StoreError(
                f"cannot open database {path} ({detail}): {_why_not_open(path)}"
            ) from error
        cause = _WRITE_CAUSES.get(primary) if primary is not None else None
        if cause is not None:
            raise DatabaseWriteError(str(path), cause, detail) from error
        raise
    except sqlite3.DatabaseError as error:
        if isinstance(error, sqlite3.IntegrityError | sqlite3.ProgrammingError):
            raise
        raise DatabaseCorruptError(str(path), str(error)) from error


_WRITE_CAUSES: dict[int, DatabaseWriteCause] = {
    sqlite3.SQLITE_FULL: "full",
    sqlite3.SQLITE_READONLY: "read_only",
    sqlite3.SQLITE_IOERR: "io",
}


def _why_not_open(path: Path) -> str:
    """What to fix when SQLite cannot open `path`: in WAL mode it also creates the
    `-wal` and `-shm` files beside it, so its directory must be writable too."""
    directory = path.parent
    if not directory.is_dir():
        return f"its directory {directory} does not exist: create it, or pass --db another file"
    if not os.access(directory, os.W_OK | os.X_OK):
        return (
            f"its directory {directory} is not writable, and SQLite creates {path.name}-wal "
            "and -shm files beside it: make the directory writable, or pass --db (or ADW_DB) "
            "a file in a writable one"
        )
    return "check that the file can be read and written, or pass --db (or ADW_DB) another file"
