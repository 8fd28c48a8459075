"""Write transactions on PostgreSQL that survive the server going away (a restart):
what is done again on a new connection, and what is not.

- BEGIN (with the write lock) is tried again on a new connection, with backoff, until
  the server answers or the reconnect window ends (`reconnect.Outage`): nothing of the
  transaction exists yet.
- A statement after BEGIN whose connection went away: the transaction surely did not
  commit (COMMIT was never sent, and the server rolls back what a lost connection left
  open). TransactionLostError says so, and the transaction is run again whole by its
  caller: a queued group write is queued again (`PostgresDatabase.write`), a store
  function that is one transaction is called again (`backend.rerun_when_lost`). Nothing
  of a transaction is replayed statement by statement: run again, it reads what is
  there now and decides again.
- A COMMIT whose answer never came is in doubt: the server may have committed it. So
  before COMMIT the transaction's id is asked (`pg_current_xact_id_if_assigned`: one
  round trip more per transaction; a transaction that wrote nothing has none; a group
  that read ahead (`read_ahead`) was given it with its reads), and in doubt the server
  is asked, on a new connection, what became of it (`pg_xact_status`: after a restart
  a transaction that did not commit reads "aborted"; while its old backend has not yet
  noticed the lost client it reads "in progress" and is asked again). Committed: the
  COMMIT succeeded, and nothing runs again. Not committed, or no id:
  TransactionLostError, and the transaction runs again whole. (Both functions are
  PostgreSQL 13's and newer.)

A claim (`PostgresDatabase.claim`) is one statement in a transaction of its own, with no
id to ask about: it is settled by the unique token its audit entry carries.

So a write is applied once, never twice and never lost silently, whatever it writes: a
versioned save's compare-and-set on (adw_id, version) would refuse a second application
anyway, but audit entries, step attempts and transcript chunks have no such key. A group
commit (`group_commit`) is one transaction: its writes commit together or are all queued
again, each still undone alone when it raises.
"""

import asyncio
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

import asyncpg

from adw_tui.domain.errors import StoreError, TransactionLostError
from adw_tui.store.backend import IntegrityError, Params
from adw_tui.store.dialect import postgres_sql
from adw_tui.store.reconnect import FIRST_WAIT_S, Outage, connection_lost

R = TypeVar("R")

WRITE_LOCK = 0x616477
"""The advisory lock every write transaction holds ('adw'): the database's write lock,
exclusive, or shared by writes that each name their run (with that run's lock; see
`postgres`)."""
RUN_LOCKS = WRITE_LOCK
"""The space of the runs' advisory locks (a pair of int4 keys: this, `run_lock_key`)."""
TRANSACTION_ID = "SELECT pg_current_xact_id_if_assigned()::text"
TRANSACTION_STATUS = "SELECT pg_xact_status($1::text::xid8)"
_FIRST_PARAMETER = re.compile(r"\$1(?!\d)")


@dataclass(frozen=True, slots=True)
class Fetched:
    """A statement's rows and how many rows it changed (from its command tag)."""

    rows: list[Any]
    rowcount: int

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows


async def fetched(connection: asyncpg.Connection, sql: str, params: Params) -> Fetched:
    """Run one statement (PostgreSQL's SQL) with `params`."""
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


def run_lock_key(adw_id: str) -> int:
    """The key of a run's advisory lock: its id's CRC-32 as an int4. Two runs that
    share a key only wait for each other."""
    return zlib.crc32(adw_id.encode()) - 2**31


def begin_locked(runs: Sequence[str] | None) -> str:
    """BEGIN and the write lock, as one round trip: the database's, or with `runs`, the
    database's shared and each run's own, in the order of their keys (so no two
    transactions each wait for the other)."""
    if runs is None:
        return f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
    keys = sorted({run_lock_key(run) for run in runs})
    return "; ".join(
        [
            "BEGIN",
            f"SELECT pg_advisory_xact_lock_shared({WRITE_LOCK})",
            *(f"SELECT pg_advisory_xact_lock({RUN_LOCKS}, {key})" for key in keys),
        ]
    )


async def fetched_many(connection: asyncpg.Connection, sql: str, params: Sequence[Params]) -> None:
    """Run one statement (PostgreSQL's SQL) once for each of `params`, in one round trip
    (asyncpg sends every execution before it reads the first answer)."""
    try:
        await connection.executemany(sql, params)
    except asyncpg.IntegrityConstraintViolationError as error:
        raise IntegrityError(str(error)) from error


def for_each_run(sql: str) -> str:
    """`sql` (PostgreSQL's, one parameter: a run's id) as one statement for a list of
    runs (`$1`, a text[]): each run's rows, with two more columns, last: the run and the
    transaction's id (`pg_current_xact_id`, which assigns one: a group that reads ahead
    writes)."""
    if "$2" in sql:
        raise ValueError(f"a query read ahead has one parameter, the run's id: {sql}")
    of_one_run = _FIRST_PARAMETER.sub("asked.adw_run", sql)
    return (
        "SELECT found.*, asked.adw_run, pg_current_xact_id()::text AS adw_transaction "
        f"FROM unnest($1::text[]) AS asked(adw_run) CROSS JOIN LATERAL ({of_one_run}) AS found"
    )


async def fetched_for_runs(
    connection: asyncpg.Connection, sql: str, runs: Sequence[str]
) -> tuple[dict[str, Fetched], str | None]:
    """`sql` (PostgreSQL's, one parameter: a run's id) for each of `runs`, in one round
    trip: each run's rows (those of a run with none: empty), and the transaction's id."""
    rows = await connection.fetch(for_each_run(sql), list(runs))
    found: dict[str, list[Any]] = {run: [] for run in runs}
    for row in rows:
        found[row["adw_run"]].append(row)
    each = {run: Fetched(run_rows, len(run_rows)) for run, run_rows in found.items()}
    return each, rows[0]["adw_transaction"] if rows else None


TransactionStatus = Callable[[str], Awaitable[str | None]]
"""What the server made of a transaction id, asked on a new connection."""


async def commit(
    connection: asyncpg.Connection,
    server: str,
    status_of: TransactionStatus,
    xid: str | None = None,
) -> None:
    """COMMIT the connection's transaction (its id `xid`, asked first when not given).
    Its connection lost before COMMIT went, or the server saying the COMMIT in doubt did
    not commit: TransactionLostError."""
    try:
        if xid is None:
            xid = await connection.fetchval(TRANSACTION_ID)
    except Exception as error:
        if connection_lost(error):
            raise TransactionLostError(server) from error
        raise
    try:
        await connection.execute("COMMIT")
    except Exception as error:
        if not connection_lost(error):
            raise
        # In doubt. No id: the transaction wrote nothing, and running it again is safe.
        if xid is None or await status_of(xid) != "committed":
            raise TransactionLostError(server) from error


async def settled_status(connection: asyncpg.Connection, xid: str, outage: Outage) -> str | None:
    """The transaction's status once it is no longer in progress (its backend ends it
    when it notices its client is gone), waiting at most the reconnect window."""
    deadline = time.monotonic() + outage.window_s
    while (status := await connection.fetchval(TRANSACTION_STATUS, xid)) == "in progress":
        if time.monotonic() > deadline:
            raise StoreError(
                f"a COMMIT to PostgreSQL at {outage.server} was cut off and the server still "
                f"has it in progress after {outage.window_s:g}s: check the server, then run "
                "adw again"
            )
        await asyncio.sleep(FIRST_WAIT_S)
    return cast(str | None, status)


class OnThread(Protocol):
    """What the session needs of its thread: run a coroutine there to its end."""

    def wait(self, work: Coroutine[Any, Any, R]) -> R: ...


class PostgresSession:
    """The writer connection, used from its thread, connected again when it was lost."""

    def __init__(
        self,
        connection: asyncpg.Connection,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        thread: OnThread,
        outage: Outage,
    ) -> None:
        self.connection = connection
        self._connect = connect
        self._thread = thread
        self._outage = outage
        self._xid: str | None = None
        """The open transaction's id, when a read ahead gave it."""

    def execute(self, sql: str, params: Params = ()) -> Fetched:
        return self._in_transaction(fetched(self.connection, postgres_sql(sql), params))

    def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        self._in_transaction(fetched_many(self.connection, postgres_sql(sql), params))

    def read_ahead(self, sql: str, runs: Sequence[str]) -> dict[str, Fetched]:
        """`sql` (one parameter: a run's id) for each of `runs`, in one round trip instead
        of one each; the transaction's id comes with it, so COMMIT does not ask it."""
        each, xid = self._in_transaction(fetched_for_runs(self.connection, postgres_sql(sql), runs))
        self._xid = self._xid or xid
        return each

    def begin(self, runs: Sequence[str] | None = None) -> None:
        """BEGIN and the write lock (`begin_locked`) in one round trip, on a new
        connection when the server dropped this one. A lock not had within the busy
        timeout leaves no transaction behind (as a failed BEGIN IMMEDIATE)."""
        self._xid = None
        try:
            self._thread.wait(self._begin(begin_locked(runs)))
        except BaseException:
            self.rollback()
            raise

    def commit(self) -> None:
        xid, self._xid = self._xid, None
        self._thread.wait(commit(self.connection, self._outage.server, self._status, xid))

    def rollback(self) -> None:
        """Undo the open transaction; a connection already gone has none left."""
        self._xid = None
        if self.connection.is_closed() or not self.connection.is_in_transaction():
            return
        try:
            self._thread.wait(self.connection.execute("ROLLBACK"))
        except Exception as error:
            if not connection_lost(error):
                raise
            self.connection.terminate()

    def script(self, sql: str) -> None:
        """Several statements in one (a migration), unprepared, without parameters."""
        self._in_transaction(self.connection.execute(sql))

    def close(self) -> None:
        try:
            self._thread.wait(self.connection.close())
        except Exception as error:
            if not connection_lost(error):
                raise
            self.connection.terminate()

    def _in_transaction(self, work: Coroutine[Any, Any, R]) -> R:
        try:
            return self._thread.wait(work)
        except Exception as error:
            if connection_lost(error):
                self.connection.terminate()
                raise TransactionLostError(self._outage.server) from error
            raise

    async def _begin(self, begin: str) -> None:
        async def begun() -> None:
            if self.connection.is_closed():
                self.connection = await self._connect()
            await self.connection.execute(begin)

        await self._outage.retried(begun, self._drop)

    async def _status(self, xid: str) -> str | None:
        async def asked() -> str | None:
            self.connection.terminate()
            self.connection = await self._connect()
            return await settled_status(self.connection, xid, self._outage)

        return await self._outage.retried(asked, self._drop)

    async def _drop(self) -> None:
        self.connection.terminate()
