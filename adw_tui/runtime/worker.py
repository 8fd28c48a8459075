"""A worker (`adw worker`): it runs the runs queued for the fleet that it can do, as many
at once as it has slots, from any host sharing the database.

A starting worker first kills what agents of its repository were left running by a
worker killed here (their runs were taken over elsewhere). Then, each round, it gives
back reservations of workers that are gone, settles runs whose worker stopped
heartbeating (they become interrupted, and so takeable again: a run is
resumed by exactly one worker, whichever claims it), then takes runs while a slot is
free. A heartbeat is judged missed only once the database has been reachable for the
whole takeover window (`recovery.orphaned`): when the server restarts, every worker's
beats wait for it (the store reconnects), and none takes over another's runs for a gap
that was the database's. Its row in `workers` (host, adw version, slots, runs, memory)
is written at each heartbeat, so `adw workers` and any dashboard see the fleet.

A worker stops, with the one-line `SchemaMovedError`, when a newer adw migrated the
database past what it knows: its runs in flight are stopped as interrupted, and workers
of the new version resume them.
"""

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psutil

from adw_tui import __version__
from adw_tui.domain.clock import Clock, utc_now
from adw_tui.domain.errors import AdwError
from adw_tui.domain.fleet import WorkerAbilities, WorkerRecord, host_name
from adw_tui.domain.models import RunRecord
from adw_tui.runtime.events import RunChanged, RuntimeEvent
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.recovery import kill_abandoned_agents, orphaned, recover_orphans

logger = logging.getLogger(__name__)

POLL_S = 1.0
"""How long an idle worker waits before it looks at the queue again (a run of its own
ending wakes it at once)."""
HEARTBEAT_S = 5.0
"""How often the worker writes its row (the fleet view's "last heartbeat")."""
MISSED_BEATS = 6
"""A run on another host is taken over once its owner missed this many heartbeats."""
PRUNE_EVERY = timedelta(hours=1)
"""How often a worker prunes the transcript chunks past their retention (age and size),
and the rows of workers gone for longer than `WORKER_ROW_RETENTION`."""
WORKER_ROW_RETENTION = timedelta(days=7)
"""How long `adw workers` keeps listing a worker that stopped or went silent."""
ABANDONED_WITHIN = timedelta(days=1)
"""How far back a starting worker looks for agents of this host left without a process."""


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    slots: int
    abilities: WorkerAbilities = field(default_factory=WorkerAbilities)


def default_worker_name() -> str:
    """`host:pid`: unique while the process lives."""
    return f"{host_name()}:{os.getpid()}"


class Worker:
    def __init__(
        self,
        orchestrator: Orchestrator,
        spec: WorkerSpec,
        *,
        poll_s: float = POLL_S,
        heartbeat_s: float = HEARTBEAT_S,
        clock: Clock = utc_now,
    ) -> None:
        self._orchestrator = orchestrator
        self._spec = spec
        self._poll_s = poll_s
        self._heartbeat_s = heartbeat_s
        self._stale_after_s = MISSED_BEATS * orchestrator.settings.heartbeat_interval
        self._clock = clock
        self._started = clock()
        self._wakeup = asyncio.Event()
        self.taken: list[str] = []
        """The runs this worker took, in order."""

    async def run(self, stop: asyncio.Event) -> None:
        """Take and run queued runs until `stop` is set; the runs still going are then
        left to the orchestrator's close (interrupted, for another worker to resume)."""
        killed = await kill_abandoned_agents(
            self._orchestrator.store, self._orchestrator.repo, within=ABANDONED_WITHIN
        )
        if killed:
            logger.warning("worker %s killed %d abandoned agent processes", self._spec.name, killed)
        listener = self._wake_on_end
        self._orchestrator.bus.listeners.append(listener)
        beat = asyncio.create_task(self._heartbeats(stop), name="adw-worker-heartbeat")
        try:
            while not stop.is_set():
                self._wakeup.clear()
                await self._orchestrator.store.check_schema()
                await self._settle_gone()
                await self._fill()
                await self._nap(stop)
        finally:
            self._orchestrator.bus.listeners.remove(listener)
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            await self._register(stopped=True)

    async def _fill(self) -> None:
        """Take runs while a slot is free."""
        store = self._orchestrator.store
        while len(self._orchestrator.running()) < self._spec.slots:
            adw_id = await store.fleet.take_next(self._orchestrator.owner, self._spec.abilities)
            if adw_id is None:
                return
            run = await store.get_run(adw_id)
            try:
                await self._orchestrator.launch(
                    int(run.issue or 0), workflow=run.workflow, adw_id=adw_id
                )
            except AdwError as error:
                # This host cannot start it (its workflow file is missing here, say):
                # give it back for another worker, and say why.
                logger.error("run %s not started by worker %s: %s", adw_id, self._spec.name, error)
                await store.fleet.release_reservation(
                    adw_id, self._orchestrator.owner, actor=self._spec.name
                )
                raise
            self.taken.append(adw_id)

    async def _settle_gone(self) -> None:
        """Give back reservations of workers that are gone; settle their runs."""
        store = self._orchestrator.store
        reachable_for_s = await store.reachable_for_s()
        for run in await store.fleet.reserved():
            if run.owner != self._orchestrator.owner and self._gone(run, reachable_for_s):
                await store.fleet.release_reservation(
                    run.adw_id, str(run.owner), actor=self._spec.name
                )
        await recover_orphans(
            store,
            self._orchestrator.repo,
            stale_after_s=self._stale_after_s,
            worktrees=self._orchestrator.worktrees,
        )

    def _gone(self, run: RunRecord, reachable_for_s: float) -> bool:
        return orphaned(run, self._stale_after_s, reachable_for_s=reachable_for_s) is not None

    async def _heartbeats(self, stop: asyncio.Event) -> None:
        pruned_at: datetime | None = None
        while not stop.is_set():
            try:
                await self._register(stopped=False)
                if pruned_at is None or self._clock() - pruned_at > PRUNE_EVERY:
                    pruned_at = self._clock()
                    await self._prune()
            except Exception:  # the database is away: say so, try again next beat
                logger.exception("worker heartbeat not written")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._heartbeat_s)

    async def _prune(self) -> None:
        """Drop the transcript chunks past their retention (the oldest first), and the
        rows of workers gone for longer than `WORKER_ROW_RETENTION` (any worker may)."""
        store, now = self._orchestrator.store, self._clock()
        settings = self._orchestrator.settings
        keep = timedelta(days=settings.transcript_retention_days)
        await store.transcripts.prune((now - keep).isoformat())
        await store.transcripts.prune_to_size(int(settings.transcript_retention_mb * 1_000_000))
        await store.fleet.forget_workers((now - WORKER_ROW_RETENTION).isoformat())

    async def _register(self, *, stopped: bool) -> None:
        now = self._clock()
        engines = self._spec.abilities.engines
        await self._orchestrator.store.fleet.register(
            WorkerRecord(
                name=self._spec.name,
                host=host_name(),
                pid=os.getpid(),
                slots=self._spec.slots,
                engines=None if engines is None else sorted(engines),
                labels=sorted(self._spec.abilities.labels),
                started_at=self._started,
                heartbeat_at=now,
                stopped_at=now if stopped else None,
                memory_percent=psutil.virtual_memory().percent,
                running=len(self._orchestrator.running()),
                version=__version__,
            )
        )

    def _wake_on_end(self, event: RuntimeEvent) -> None:
        if isinstance(event, RunChanged) and event.status.is_final:
            self._wakeup.set()

    async def _nap(self, stop: asyncio.Event) -> None:
        """Until the poll interval passes, a run of this worker ends, or `stop`."""
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wakeup.wait())]
        await asyncio.wait(waits, timeout=self._poll_s, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()
