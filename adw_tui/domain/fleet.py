"""A fleet: runs queued for workers (`adw run --enqueue`), and the workers that take them
(`adw worker`), on any host sharing the database.

A run queued for the fleet says what it needs of the worker that takes it (its engine's
CLI, labels such as `gpu`); a worker says what it has, and takes only runs it can do.
"""

import os
import socket
from datetime import datetime, timedelta

from pydantic import ConfigDict, Field

from adw_tui import __version__
from adw_tui.domain.durations import format_age
from adw_tui.domain.modeling import Model

HOST_NAME_ENV = "ADW_HOST_NAME"
WORKER_SILENT_AFTER = timedelta(seconds=30)
"""A worker whose heartbeat is older than this is shown as gone silent."""


def host_name() -> str:
    """This host's name in owners, leases and the worker list: `ADW_HOST_NAME`, else the
    system's (set it where several workers share one machine, or containers one name)."""
    return os.environ.get(HOST_NAME_ENV) or socket.gethostname()


def owned_elsewhere(owner: str | None) -> bool:
    """Whether a run's `owner` (`host:pid`) is a process on another host: its agents'
    files are there, their transcripts here only as the database's chunks."""
    return bool(owner) and str(owner).rpartition(":")[0] != host_name()


class FleetWants(Model):
    """What a run queued for the fleet needs of the worker that takes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str
    labels: tuple[str, ...] = ()


class WorkerAbilities(Model):
    """What a worker can take: runs on these engines (None: any) that ask for no label it
    lacks (the store's `Fleet.take_next` picks them so, in its query)."""

    model_config = ConfigDict(frozen=True)

    engines: frozenset[str] | None = None
    labels: frozenset[str] = frozenset()


class WorkerRecord(Model):
    """A worker as the database knows it, for `adw workers` and the dashboard."""

    name: str
    host: str
    pid: int
    slots: int = Field(ge=1)
    engines: list[str] | None = None
    labels: list[str] = Field(default_factory=list)
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None = None
    memory_percent: float | None = None
    running: int = 0
    version: str | None = None
    """The adw version the worker runs (None: a worker from before versions were kept)."""

    def silent(self, now: datetime) -> bool:
        """Still registered as working, but no heartbeat for `WORKER_SILENT_AFTER`."""
        return self.stopped_at is None and now - self.heartbeat_at > WORKER_SILENT_AFTER

    def state(self, now: datetime) -> str:
        """`working`, `silent` (no heartbeat for `WORKER_SILENT_AFTER`) or `stopped`."""
        if self.stopped_at is not None:
            return "stopped"
        return "silent" if self.silent(now) else "working"


WORKER_COLUMNS = (
    "worker", "host", "version", "slots", "runs", "engines", "labels", "heartbeat", "memory",
    "state",
)  # fmt: skip
"""What `adw workers` and the fleet screen show of a worker (`worker_figures`)."""


def worker_figures(worker: WorkerRecord, now: datetime) -> tuple[str, ...]:
    """A worker as the views show it (`WORKER_COLUMNS`), as plain text: the views make
    it safe for their terminal."""
    return (
        worker.name,
        worker.host,
        _version(worker.version),
        str(worker.slots),
        str(worker.running),
        ", ".join(worker.engines) if worker.engines is not None else "any",
        ", ".join(worker.labels) or "-",
        f"{format_age(now - worker.heartbeat_at)} ago",
        "-" if worker.memory_percent is None else f"{worker.memory_percent:.0f}%",
        worker.state(now),
    )


def _version(version: str | None) -> str:
    """The worker's adw version, marked where it is not this adw's."""
    if version == __version__:
        return version
    return f"{version or '?'} (not {__version__})"
