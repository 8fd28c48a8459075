"""What the views know of the fleet (the workers, and the runs waiting for one), kept
current by the store's change notices instead of a poll.

A worker's row notifies when it registers, stops, is forgotten, or its slots, runs in
hand or abilities move; its heartbeat, every few seconds, notifies nobody. So a view
computes a worker's heartbeat age by its own clock when it draws it, from the heartbeat
last read, and marks the worker silent once that age passes `WORKER_SILENT_AFTER`,
without a read: every `FALLBACK_S` the whole is read (`due`), so the heartbeat known is
never older than that plus one heartbeat interval, well under `WORKER_SILENT_AFTER`, for
a worker that kept beating. A run notice can move the runs waiting for a worker: they
are counted again.
"""

from datetime import datetime, timedelta

from adw_tui.domain.clock import Clock
from adw_tui.domain.fleet import WorkerRecord
from adw_tui.store import Store
from adw_tui.store.changes import Change, ChangeKind

FALLBACK_S = 10.0
"""The fleet read whole this often, notices or not (its heartbeats' ages, memory)."""


class FleetWatch:
    """The workers and the runs waiting for one, as last read."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._workers: dict[str, WorkerRecord] = {}
        self.waiting = 0
        """Runs queued for the fleet that no worker took yet."""
        self.read_at: datetime | None = None
        """When the workers were last read whole (None: never)."""

    @property
    def workers(self) -> list[WorkerRecord]:
        """Every worker that registered, the newest heartbeat first (as `adw workers`)."""
        return sorted(self._workers.values(), key=lambda w: w.heartbeat_at, reverse=True)

    async def read(self) -> None:
        """The workers and the runs waiting, read whole."""
        now = self._clock()
        self._workers = {worker.name: worker for worker in await self._store.fleet.workers()}
        self.waiting = await self._store.fleet.queued()
        self.read_at = now

    async def changed(self, batch: list[Change]) -> bool:
        """What a batch of notices names, read again: the workers named, the count of
        runs waiting after a run moved, everything after a RESYNC. True when anything
        was read."""
        if any(change.kind is ChangeKind.RESYNC for change in batch):
            await self.read()
            return True
        named = {c.worker for c in batch if c.kind is ChangeKind.WORKER and c.worker}
        for name in sorted(named):
            worker = await self._store.fleet.worker(name)
            if worker is None:
                self._workers.pop(name, None)
            else:
                self._workers[name] = worker
        runs_moved = any(change.kind is ChangeKind.RUN for change in batch)
        if runs_moved:
            self.waiting = await self._store.fleet.queued()
        return bool(named) or runs_moved

    def due(self, now: datetime) -> bool:
        """Whether the fleet should be read whole now: never read, or read `FALLBACK_S`
        ago (the heartbeats, which notify nobody, and the memory moved since)."""
        return self.read_at is None or now - self.read_at >= timedelta(seconds=FALLBACK_S)

    def gauge(self, now: datetime) -> tuple[int, int, int] | None:
        """Workers working, gone silent, and runs waiting for one; None without a
        fleet (no worker running, no run waiting)."""
        working = [w for w in self._workers.values() if w.stopped_at is None]
        if not working and not self.waiting:
            return None
        silent = sum(worker.silent(now) for worker in working)
        return len(working) - silent, silent, self.waiting
