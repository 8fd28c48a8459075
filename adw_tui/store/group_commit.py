"""Writes done in one call on the writer's thread, and batched into one transaction.

A write here is a plain function of a `SyncWriter`. Each runs whole on the writer
connection's thread: BEGIN (SQLite's IMMEDIATE, PostgreSQL's with the write lock), its
statements and COMMIT are one hand-off from the event loop instead of one per statement.
Writes queued while a transaction runs go into the next one together (group commit): one
BEGIN and one COMMIT (one fsync) for all of them.

A write that raises (a stale version, an active run) is undone alone and its caller gets
the error; the others commit. The group first runs without savepoints (each costs a
PostgreSQL server two round trips); only when a write raises is the transaction undone
and the group run again, each write in a savepoint of its own. A write may so run twice:
it must have no effect but its statements (and its value).

A write may name the one run it is about (`run`): it changes and checks only that run's
rows. A group of such writes tells the session which runs (`SyncSession.begin`), so that
PostgreSQL serialises it only with writes to those runs (see `store.postgres`). Such a
write may also name the query it runs first (`reads`, of its run alone): the group runs
that query for all its runs in one statement (`SyncSession.read_ahead`; on PostgreSQL a
round trip instead of one a write), and each write's first statement is answered from
it.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from adw_tui.domain.errors import TransactionLostError
from adw_tui.domain.redaction import Redactor
from adw_tui.store.backend import Cursor, SyncSession

T = TypeVar("T")
Write = Callable[["SyncWriter"], T]
OnWriterThread = Callable[[Callable[[], Any]], Awaitable[Any]]
Outcome = tuple[Any, Exception | None]

MAX_GROUP = 200
"""Writes per transaction at most: a long queue is committed in several."""


def redacted(redactor: Redactor, params: Sequence[Any]) -> list[Any]:
    """`params` with secrets redacted from every `str`: the one point where untrusted
    strings (agent output, error messages, state) reach the file."""
    return [redactor.text(p) if isinstance(p, str) else p for p in params]


@dataclass(frozen=True)
class GroupWrite:
    """A write of a group: what it runs, whether its caller stopped waiting, the run it
    is about (None: any rows) and the query of that run it runs first."""

    write: Write[Any]
    cancelled: Callable[[], bool]
    run: str | None = None
    reads: str | None = None


@dataclass(frozen=True)
class _HeldBack:
    """A statement `send` held back, of a write about `run`."""

    run: str
    sql: str
    params: list[Any]


class SyncWriter:
    """The writer connection inside a transaction, on its own thread, with secrets
    redacted from every parameter.

    A write about one run may `send` a statement whose result it does not need: it is
    held back and sent with those like it of the group's other runs, in one round trip
    (`SyncSession.execute_many`), before the next statement about its run or the
    commit. The writes of one run see each other's statements in order; those of other
    runs need not: they change and check nothing of it."""

    def __init__(self, session: SyncSession, redactor: Redactor) -> None:
        self._session = session
        self._redactor = redactor
        self._run: str | None = None
        self._held: list[_HeldBack] = []
        self._ahead: dict[str, tuple[str, Cursor]] = {}
        """Runs whose first query the group read ahead: the query and its answer, good
        until a statement about the run runs (it may change what the query reads)."""
        self._started: set[int] = set()
        """The writes (their ids) that began: run again, they are not left out for a
        caller that stopped waiting since (that write commits with its group)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        ahead = self._ahead.pop(self._run, None) if self._run is not None else None
        if ahead is not None and ahead[0] == sql and list(params) == [self._run]:
            return ahead[1]
        if any(self._run in (None, held.run) for held in self._held):
            self.flush()
        return self._session.execute(sql, redacted(self._redactor, params))

    def send(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run `sql` for its effect alone (its error may come at a later statement)."""
        if self._run is not None:
            self._ahead.pop(self._run, None)
        if self._run is None:
            self.execute(sql, params)
        else:
            self._held.append(_HeldBack(self._run, sql, redacted(self._redactor, params)))

    def flush(self) -> None:
        """Send the statements held back: each run's in order, the same statement of
        several runs at once."""
        queues: dict[str, deque[_HeldBack]] = {}
        for held in self._held:
            queues.setdefault(held.run, deque()).append(held)
        self._held = []
        while queues:
            sql = next(iter(queues.values()))[0].sql
            batch = [queue.popleft() for queue in queues.values() if queue[0].sql == sql]
            self._session.execute_many(sql, [held.params for held in batch])
            queues = {run: queue for run, queue in queues.items() if queue}

    def run_group(self, writes: list[GroupWrite]) -> list[Outcome]:
        """One transaction: each write's value, or the error that undid it alone; a
        write whose `cancelled()` is true by its turn is left out. An error of BEGIN or
        COMMIT undoes them all and is raised."""
        session = self._session
        runs = [write.run for write in writes]
        scope = None if None in runs else sorted({run for run in runs if run is not None})
        session.begin(scope)
        try:
            if len(writes) == 1:
                return self._run_alone(writes[0])
            try:
                if scope is not None:
                    self._read_ahead(writes)
                outcomes = [self._run_write(write) for write in writes]
                self.flush()
            except TransactionLostError:
                raise  # the connection's, not a write's: the whole group is queued again
            except Exception:
                self._held, self._ahead = [], {}
                session.rollback()
                session.begin(scope)
                outcomes = [self._run_undone_alone(write) for write in writes]
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return outcomes

    def _read_ahead(self, writes: list[GroupWrite]) -> None:
        """The first query of each run's first write, for all the runs at once (a query
        at a time). Only in a group whose writes each name their run: a write about any
        rows might change what another's query reads."""
        firsts: dict[str, str] = {}
        for write in writes:
            if write.run is not None and write.run not in firsts and write.reads is not None:
                firsts[write.run] = write.reads
        for sql in dict.fromkeys(firsts.values()):
            runs = [run for run, reads in firsts.items() if reads == sql]
            for run, answer in self._session.read_ahead(sql, runs).items():
                self._ahead[run] = (sql, answer)

    def _run_write(self, write: GroupWrite) -> Outcome:
        # Read from the writer's thread: a future's state is one attribute, and either
        # answer is consistent (a write that started is committed with its group).
        if id(write) not in self._started:
            if write.cancelled():  # its caller stopped waiting (BEGIN may wait long)
                return None, None
            self._started.add(id(write))
        self._run = write.run
        return write.write(self), None

    def _run_undone_alone(self, write: GroupWrite) -> Outcome:
        """`write` in a savepoint: its error undoes it alone."""
        self._session.execute("SAVEPOINT adw_write")
        try:
            outcome: Outcome = (self._run_write(write)[0], None)
            self.flush()
        except Exception as error:
            self._held = []
            self._session.execute("ROLLBACK TO adw_write")
            outcome = (None, error)
        self._session.execute("RELEASE adw_write")
        return outcome

    def _run_alone(self, write: GroupWrite) -> list[Outcome]:
        """The one write of a group, in the transaction `run_group` began: it needs no
        savepoint, its error undoes the transaction."""
        if write.cancelled():
            self._session.rollback()
            return [(None, None)]
        try:
            value = self._run_write(write)[0]
            self.flush()
        except Exception as error:
            self._session.rollback()
            return [(None, error)]
        self._session.commit()
        return [(value, None)]


@dataclass
class _Queued:
    write: Write[Any]
    run: str | None
    reads: str | None
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit:
    """Queues writes and commits them in groups, one group at a time, under `lock` (the
    lock every other write transaction of the connection takes)."""

    def __init__(
        self,
        session: Callable[[], SyncSession],
        on_writer_thread: OnWriterThread,
        lock: asyncio.Lock,
        redactor: Redactor,
    ) -> None:
        self._session = session
        self._on_writer_thread = on_writer_thread
        self._lock = lock
        self._redactor = redactor
        self._queue: list[_Queued] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, write: Write[T], run: str | None = None, reads: str | None = None) -> T:
        """Run `write` (about `run`, or any rows; its first query `reads`) in a write
        transaction; return what it returns once committed. A caller cancelled before its
        write's turn in the transaction writes nothing; cancelled after, the write
        commits (or fails) with its group."""
        queued = _Queued(write, run, reads)
        self._queue.append(queued)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="adw-group-commit")
        result: T = await queued.done
        return result

    async def _flush(self) -> None:
        try:
            async with self._lock:
                while self._queue:
                    group = [q for q in self._queue[:MAX_GROUP] if not q.done.done()]
                    del self._queue[:MAX_GROUP]
                    if group:
                        await self._commit(group)
        except BaseException:
            for queued in self._queue:
                queued.done.cancel()
            self._queue.clear()
            raise
        finally:
            self._flusher = None

    async def _commit(self, group: list[_Queued]) -> None:
        writer = SyncWriter(self._session(), self._redactor)
        writes = [
            GroupWrite(queued.write, queued.done.cancelled, queued.run, queued.reads)
            for queued in group
        ]
        try:
            # Shielded: the group runs on in the thread whatever happens here.
            outcomes: list[Outcome] = await asyncio.shield(
                self._on_writer_thread(lambda: writer.run_group(writes))
            )
        except Exception as error:
            for queued in group:
                settle(queued.done, None, error)
            return
        except BaseException:
            for queued in group:
                queued.done.cancel()
            raise
        for queued, (value, failure) in zip(group, outcomes, strict=True):
            settle(queued.done, value, failure)


def settle(done: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    """Give a waiting caller `value`, or raise `error` in it; nothing once it stopped
    waiting."""
    if done.done():  # its caller was cancelled
        return
    if error is None:
        done.set_result(value)
    else:
        done.set_exception(error)
