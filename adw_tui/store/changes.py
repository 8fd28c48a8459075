"""Notices of what any process, on any host, committed to the database: for live views
(the dashboard) that must not wait for their next poll.

A notice is small: the run, what of it changed (its row, or its agent's transcript) and
a number (the run's version, the transcript chunk's seq); or a worker of the fleet whose
row moved (registered, its slots or runs in hand changed, stopped, forgotten). The data
stays in its table, read by whoever acts on the notice. Triggers raise the notices
inside the writing transaction, so a notice comes only after its write committed (a
write rolled back raises none), and every writer is covered however it writes:

- PostgreSQL: `pg_notify` on `CHANNEL`, delivered at commit to the connections that
  LISTEN (a dedicated one per process: `PostgresDatabase.listen`);
- SQLite (one host, many processes): a row in `changes`; a dedicated connection asks
  `PRAGMA data_version` every `SQLITE_POLL_S` whether anyone committed, and then reads
  the rows it has not seen (`Database.listen`).

A run's row notifies when what a view shows of it moves (`updated_at`, `status`): a
heartbeat alone does not; nor does a worker's heartbeat (every few seconds per worker,
it would flood every listener): a view judges a worker gone silent by its own clock,
and reads the worker again before saying so. When notices may have been missed (a
listener reconnected, a subscriber fell far behind, SQLite's `changes` pruned under a
slow reader), a `RESYNC` notice says to read everything again.

One listener per process feeds every subscription (`ChangeFeed`); it starts with the
first subscription and stops with the last.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

CHANNEL = "adw_changes"
"""PostgreSQL's notification channel."""
SQLITE_POLL_S = 0.05
"""How often a SQLite listener asks whether another connection committed."""
MAX_PENDING = 1000
"""Notices a subscription holds unread at most; beyond, they become one RESYNC."""


class ChangeKind(StrEnum):
    RUN = "run"
    """The run's row: created, or its status, step, version or cost moved (seq: its
    version)."""
    TRANSCRIPT = "transcript"
    """A transcript chunk of one of the run's step attempts (seq: the chunk's)."""
    WORKER = "worker"
    """A worker's row: registered, stopped, forgotten, or its slots, runs in hand or
    abilities moved (seq: its runs in hand; no run, the worker's name)."""
    RESYNC = "resync"
    """Notices may have been missed: read everything again (no run)."""


@dataclass(frozen=True, slots=True)
class Change:
    kind: ChangeKind
    adw_id: str | None = None
    seq: int = 0
    worker: str | None = None
    """The worker's name, for a WORKER notice."""

    @classmethod
    def of(cls, kind: str, subject: str, seq: int) -> "Change":
        """A notice of `kind` about `subject`: a worker's name for a WORKER notice, else
        a run's adw_id (as SQLite's `changes` rows hold them)."""
        if kind == ChangeKind.WORKER:
            return cls(ChangeKind.WORKER, seq=seq, worker=subject)
        return cls(ChangeKind(kind), subject, seq)

    @classmethod
    def from_payload(cls, payload: str) -> "Change | None":
        """A notice from its NOTIFY payload: `{"run": ..., "kind": ..., "seq": ...}`, or
        `{"worker": ..., ...}`; None for one adw's triggers did not write (any role may
        NOTIFY on the channel), which is dropped."""
        try:
            fields = json.loads(payload)
            subject = fields["worker"] if "worker" in fields else fields["run"]
            return cls.of(str(fields["kind"]), str(subject), int(fields["seq"]))
        except (ValueError, KeyError, TypeError):
            return None


RESYNC = Change(ChangeKind.RESYNC)

Deliver = Callable[[Change], None]
Listen = Callable[[Deliver, asyncio.Event], Coroutine[Any, Any, None]]
"""A backend's listener: delivers every notice committed from when it set the event
(listening) until it is cancelled."""


class Subscription:
    """The notices since subscribing, taken in batches: all that came since the last."""

    def __init__(self) -> None:
        self._pending: list[Change] = []
        self._arrived = asyncio.Event()
        self._failure: BaseException | None = None

    def put(self, change: Change) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._pending = [RESYNC]
        self._pending.append(change)
        self._arrived.set()

    def fail(self, error: BaseException) -> None:
        self._failure = error
        self._arrived.set()

    async def next(self) -> list[Change]:
        """The notices that came since the last call, waiting for one if none did."""
        await self._arrived.wait()
        if self._failure is not None:
            raise self._failure
        batch, self._pending = self._pending, []
        self._arrived.clear()
        return batch

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> list[Change]:
        return await self.next()


class ChangeFeed:
    """One listener on the database for every subscription of this process."""

    def __init__(self, listen: Listen) -> None:
        self._listen = listen
        self._subscriptions: set[Subscription] = set()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        """A subscription to every notice committed from now on (once it is entered:
        on PostgreSQL, that waits for the server to answer)."""
        subscription = Subscription()
        self._subscriptions.add(subscription)
        try:
            await self._started()
            yield subscription
        finally:
            self._subscriptions.discard(subscription)
            if not self._subscriptions:
                await self.close()

    async def close(self) -> None:
        """Stop listening (the next subscription starts again). The listener is kept
        until it has ended, so a close that is itself cancelled leaves it to the next
        (the store's): its connection is closed before the event loop is."""
        listener = self._listener
        if listener is None:
            return
        if not listener.done():  # (one ended with the loop it ran on is done)
            listener.cancel()
            # Its failure, if it failed, went to the subscriptions (`_ended`).
            await asyncio.wait({listener})
        if self._listener is listener:
            self._listener = None

    async def _started(self) -> None:
        """A listener listening: this one's, or a new one (none yet, or it ended with
        the loop it ran on)."""
        # One being stopped (the last subscription's `close`, still awaiting it) is as
        # good as none: the new subscription needs a listener that goes on.
        if self._listener is None or self._listener.done() or self._listener.cancelling():
            self._listening = asyncio.Event()
            self._listener = asyncio.create_task(
                self._listen(self._deliver, self._listening), name="adw-store-changes"
            )
            self._listener.add_done_callback(self._ended)
        listener = self._listener
        listening = asyncio.ensure_future(self._listening.wait())
        try:
            await asyncio.wait({listening, listener}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            listening.cancel()
        if not self._listening.is_set():  # the listener failed before it listened
            listener.result()

    def _deliver(self, change: Change) -> None:
        for subscription in self._subscriptions:
            subscription.put(change)

    def _ended(self, listener: "asyncio.Task[None]") -> None:
        """A listener that failed (not stopped) fails its subscriptions with its error."""
        if listener.cancelled() or listener.exception() is None:
            return
        error = listener.exception()
        assert error is not None
        for subscription in self._subscriptions:
            subscription.fail(error)
        if self._listener is listener:
            self._listener = None
