"""Runs queued for the fleet and the workers that take them (see `adw_tui.domain.fleet`).

A worker takes a run in two steps. `take_next` reserves the oldest queued run it can do
by writing itself as the run's owner while the run stays queued, so no other worker
reserves it; its orchestrator's claim then starts it (a compare-and-set on the status:
of any two processes, one executes a run). A reservation whose worker is gone is given
back by `release_reservation`.
"""

import json

from adw_tui.domain.fleet import FleetWants, WorkerAbilities, WorkerRecord
from adw_tui.domain.models import RunRecord, RunStatus
from adw_tui.store.audit import record_audit
from adw_tui.store.backend import Backend, Row, now_iso, rerun_when_lost
from adw_tui.store.group_commit import SyncWriter, Write

TAKEABLE = (RunStatus.QUEUED, RunStatus.INTERRUPTED)
_TAKEABLE = ", ".join(f"'{status}'" for status in TAKEABLE)


def queued_for_fleet(adw_id: str, wants: FleetWants) -> Write[None]:
    """The write that marks a new run as queued for the fleet: run in the transaction
    that creates it, so no process starts it meanwhile as its own."""

    def mark(connection: SyncWriter) -> None:
        connection.execute(
            "UPDATE runs SET fleet = ? WHERE adw_id = ?", (wants.model_dump_json(), adw_id)
        )

    return mark


class Fleet:
    def __init__(self, database: Backend) -> None:
        self._db = database

    @rerun_when_lost
    async def take_next(self, owner: str, abilities: WorkerAbilities) -> str | None:
        """Reserve for `owner` the oldest run queued for the fleet (or interrupted there)
        that `abilities` can do; its adw_id, or None when there is none to take now.

        One statement, which picks the run and reserves it (PostgreSQL: a run another
        worker's statement has locked is skipped, so workers take runs at once instead
        of in turn, and each take is one round trip)."""
        if abilities.engines is not None and not abilities.engines:
            return None  # no engine at all: nothing to take
        can_do, can_do_params = _can_do(abilities)
        skip_locked = " FOR UPDATE SKIP LOCKED" if self._db.engine == "postgresql" else ""
        # The outer conditions are the compare-and-set: under any isolation, of two
        # workers that pick the same run one reserves it.
        return await self._db.claim(
            "UPDATE runs SET owner = ?, heartbeat_at = ? WHERE adw_id = (SELECT adw_id FROM "
            f"runs WHERE fleet IS NOT NULL AND status IN ({_TAKEABLE}) AND owner IS NULL"
            f"{can_do} ORDER BY created_at LIMIT 1{skip_locked}) AND owner IS NULL "
            f"AND status IN ({_TAKEABLE}) RETURNING adw_id",
            (owner, now_iso(), *can_do_params),
            actor=owner,
            action="run.reserve",
        )

    async def reserved(self) -> list[RunRecord]:
        """Runs queued for the fleet that a worker reserved and has not started."""
        rows = await self._db.fetch_all(
            f"SELECT * FROM runs WHERE fleet IS NOT NULL AND status IN ({_TAKEABLE}) "
            "AND owner IS NOT NULL ORDER BY created_at"
        )
        return [RunRecord.model_validate(dict(row)) for row in rows]

    @rerun_when_lost
    async def release_reservation(self, adw_id: str, owner: str, *, actor: str) -> None:
        """Give back a run `owner` reserved and never started (it is gone)."""
        async with self._db.transaction() as connection:
            cursor = await connection.execute(
                f"UPDATE runs SET owner = NULL WHERE adw_id = ? AND owner = ? "
                f"AND status IN ({_TAKEABLE})",
                (adw_id, owner),
            )
            if cursor.rowcount:
                await record_audit(
                    connection, actor=actor, action="run.unreserve", adw_id=adw_id,
                    detail={"owner": owner},
                )  # fmt: skip

    async def queued(self) -> int:
        """Runs waiting for a worker."""
        row = await self._db.fetch_one(
            f"SELECT COUNT(*) FROM runs WHERE fleet IS NOT NULL AND status IN ({_TAKEABLE}) "
            "AND owner IS NULL"
        )
        return int(row[0]) if row else 0

    @rerun_when_lost
    async def register(self, worker: WorkerRecord) -> None:
        """Write the worker's row (again, on each heartbeat)."""
        async with self._db.transaction() as connection:
            await connection.execute(
                "INSERT INTO workers (name, host, pid, slots, engines, labels, started_at, "
                "heartbeat_at, stopped_at, memory_percent, running, version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "host = excluded.host, pid = excluded.pid, slots = excluded.slots, "
                "engines = excluded.engines, labels = excluded.labels, "
                "started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, "
                "stopped_at = excluded.stopped_at, memory_percent = excluded.memory_percent, "
                "running = excluded.running, version = excluded.version",
                (
                    worker.name,
                    worker.host,
                    worker.pid,
                    worker.slots,
                    None if worker.engines is None else json.dumps(worker.engines),
                    json.dumps(worker.labels),
                    worker.started_at.isoformat(),
                    worker.heartbeat_at.isoformat(),
                    worker.stopped_at.isoformat() if worker.stopped_at else None,
                    worker.memory_percent,
                    worker.running,
                    worker.version,
                ),
            )

    @rerun_when_lost
    async def forget_workers(self, stopped_before: str) -> int:
        """Drop the rows of workers that stopped, or went silent, before `stopped_before`
        (an ISO time): how many were dropped."""
        async with self._db.transaction() as connection:
            cursor = await connection.execute(
                "DELETE FROM workers WHERE COALESCE(stopped_at, heartbeat_at) < ?",
                (stopped_before,),
            )
            return int(cursor.rowcount)

    async def workers(self) -> list[WorkerRecord]:
        """Every worker that ever registered, the newest heartbeat first."""
        rows = await self._db.fetch_all("SELECT * FROM workers ORDER BY heartbeat_at DESC")
        return [_worker(row) for row in rows]

    async def worker(self, name: str) -> WorkerRecord | None:
        """The worker `name`'s row (None: never registered, or forgotten)."""
        row = await self._db.fetch_one("SELECT * FROM workers WHERE name = ?", (name,))
        return None if row is None else _worker(row)


def _can_do(abilities: WorkerAbilities) -> tuple[str, list[str]]:
    """The runs `abilities` can do, as conditions on `runs.fleet` (a `FleetWants`), and
    their parameters: on one of its engines (any, when None), asking for no label it
    lacks. A run asking for none (most) is seen so without reading its labels one by
    one."""
    labels = sorted(abilities.labels)
    asks_none = "COALESCE(json_extract(runs.fleet, '$.labels'), '[]') = '[]'"
    labels_ok = f" AND {asks_none}"
    if labels:
        lacked = (
            "SELECT 1 FROM json_each(runs.fleet, '$.labels') AS label "
            f"WHERE label.value NOT IN ({_marks(labels)})"
        )
        labels_ok = f" AND ({asks_none} OR NOT EXISTS ({lacked}))"
    if abilities.engines is None:
        return labels_ok, labels
    engines = sorted(abilities.engines)
    engine_ok = f" AND json_extract(runs.fleet, '$.engine') IN ({_marks(engines)})"
    return engine_ok + labels_ok, engines + labels


def _marks(values: list[str]) -> str:
    return ", ".join("?" for _ in values)


def _worker(row: Row) -> WorkerRecord:
    data = dict(row)
    engines = data.pop("engines")
    return WorkerRecord.model_validate(
        {
            **data,
            "engines": None if engines is None else json.loads(engines),
            "labels": json.loads(data.pop("labels")),
        }
    )
