"""What the store needs of a database, whichever engine holds it: SQLite (`Database`,
the embedded default) or PostgreSQL (`PostgresDatabase`).

The store's SQL is written once, in the portable subset both engines accept; a backend
runs it as it is (SQLite) or through `dialect.postgres_sql` (PostgreSQL). Writes come two
ways, as in `Database`: a plain function of a `SyncWriter` run whole on the writer's
thread and group-committed (`write`), or an async `Writer` awaited statement by statement
(`transaction`). Either way every write transaction is serialised with every other
writer on the database, as SQLite's `BEGIN IMMEDIATE` does: the store's read-check-write
transactions (leases, breakers, rate limits) rely on that.
"""

import functools
import sqlite3
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, Protocol, TypeVar

from adw_tui.domain.clock import utc_now
from adw_tui.domain.errors import TransactionLostError
from adw_tui.domain.redaction import Redactor

if TYPE_CHECKING:
    import asyncio

    from adw_tui.store.changes import Deliver
    from adw_tui.store.group_commit import T, Write
    from adw_tui.store.location import DatabaseLocation
    from adw_tui.store.schema import Migration

Engine = Literal["sqlite", "postgresql"]
Params = Sequence[Any]
ReadParams = Sequence[Any] | Mapping[str, Any]
"""Positional (`?`) or named (`:name`) parameters of a read."""

P = ParamSpec("P")
R = TypeVar("R")

RERUNS = 5
"""Times a transaction whose connection went away is run again, at most."""

IntegrityError = sqlite3.IntegrityError
"""The one integrity error the store catches (a duplicate key, a trigger's refusal):
SQLite's own, which the PostgreSQL backend raises too, for its constraint violations."""


def now_iso() -> str:
    """The current UTC time as stored: ISO 8601 with microseconds, sortable as text."""
    return utc_now().isoformat(timespec="microseconds")


def rerun_when_lost(transaction: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """`transaction`, a function that is one write transaction and nothing else, run
    again when the connection went away before it committed (TransactionLostError):
    nothing of it was written, so running it again runs it once. A COMMIT whose answer
    was lost never gets here as such: the PostgreSQL backend first asks the server what
    became of it, and only a transaction that did not commit is run again."""

    @functools.wraps(transaction)
    async def once(*args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(RERUNS):
            try:
                return await transaction(*args, **kwargs)
            except TransactionLostError:
                continue
        return await transaction(*args, **kwargs)

    return once


class Row(Protocol):
    """A result row: by position, by column name, and `dict(row)` (sqlite3.Row and
    asyncpg.Record both are)."""

    def __getitem__(self, key: int | str, /) -> Any: ...
    def keys(self) -> Iterable[str]: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...


class Cursor(Protocol):
    """What a statement gave: its rows, and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Changed(Protocol):
    @property
    def rowcount(self) -> int: ...


class Writer(Protocol):
    """The writer connection inside an awaited transaction, with secrets redacted from
    every `str` parameter."""

    async def execute(self, sql: str, params: Params = ()) -> Changed: ...
    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...


class SyncSession(Protocol):
    """The writer connection as seen from the writer's own thread: what a group of
    writes (`group_commit.SyncWriter.run_group`) is made of."""

    def execute(self, sql: str, params: Params = ()) -> Cursor: ...
    def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        """`sql` once for each of `params`, in one round trip where the engine has them."""

    def read_ahead(self, sql: str, runs: Sequence[str]) -> Mapping[str, Cursor]:
        """`sql` (one parameter: a run's id) for each of `runs` at once, where that saves
        the engine round trips (PostgreSQL): each run's rows, with more columns after
        the query's own. An engine whose statements cost no round trip gives nothing,
        and each write runs its query itself."""

    def begin(self, runs: Sequence[str] | None = None) -> None:
        """Start a write transaction that holds the database's write lock; `runs`: its
        writes change and check only these runs' rows, which an engine that can lock
        less then does (PostgreSQL: see `store.postgres`)."""

    def commit(self) -> None: ...
    def rollback(self) -> None:
        """End the transaction, if one is open, undoing it."""


class Backend(Protocol):
    """A state database: a serialised writer and readers that never wait for it."""

    engine: Engine
    redactor: Redactor

    @property
    def location(self) -> "DatabaseLocation": ...

    @property
    def unreachable_since(self) -> datetime | None:
        """Since when the database server has been away, while this process waits for it
        to come back (None while it answers, and always for an embedded database)."""

    async def reachable_for_s(self) -> float:
        """Seconds the database has been there for this process without a break (a
        server restart or a lost connection starts them again; infinite for an embedded
        database): other processes' heartbeats held back by an outage are not missed."""

    async def close(self) -> None: ...
    async def write(
        self, write: "Write[T]", *, run: str | None = None, reads: str | None = None
    ) -> "T":
        """Run `write` in a write transaction (group-committed); its value once
        committed. `run`: the write changes and checks only that run's rows (its row,
        versions and step attempts), so it need not wait for writes to other runs.
        `reads`: the query (one parameter: `run`) the write runs first, which a group
        may run for all its runs at once (`SyncSession.read_ahead`)."""

    def transaction(self) -> AbstractAsyncContextManager[Writer]: ...
    async def claim(self, sql: str, params: Params, *, actor: str, action: str) -> str | None:
        """Run `sql`, an UPDATE that claims one row at most by row locks (`FOR UPDATE
        SKIP LOCKED` on PostgreSQL) and returns its adw_id, with an audit entry (`actor`,
        `action`), in a transaction of their own; the adw_id (None: nothing claimed).
        Without the database's write lock where the engine allows, so many workers claim
        at once."""

    async def checkpoint(self) -> None: ...
    async def fetch_all(self, sql: str, params: ReadParams = ()) -> list[Row]: ...
    async def fetch_one(self, sql: str, params: ReadParams = ()) -> Row | None: ...
    def batches(
        self,
        sql: str,
        params: Params = (),
        *,
        size: int = 500,
        key: str | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[list[Row], None]:
        """The rows of one query, `size` at a time, from one snapshot. `key`: the column
        naming each row; a read cut off with its connection then goes on from a new
        snapshot without the rows already given (else it fails, one line), and gives at
        most `limit` (the query's LIMIT) in all."""

    async def schema_version(self, connection: Writer | None = None) -> int:
        """The last migration applied: read alone (None), or inside a write
        transaction."""

    async def apply(self, connection: Writer, migration: "Migration") -> None:
        """Run `migration`'s SQL for this engine inside the write transaction."""

    async def health(self) -> tuple[str, list[str]]:
        """The journal mode and the integrity check's lines (`["ok"]` when sound)."""

    async def listen(self, deliver: "Deliver", listening: "asyncio.Event") -> None:
        """Pass `deliver` every change notice committed, by any process, from when
        `listening` is set until cancelled, on a connection of its own (see
        `adw_tui.store.changes`)."""
