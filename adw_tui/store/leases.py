"""Limits that hold for every process on one database: run slots and port pairs (per
host: each machine has its own), and calls per rate-limited service (for all hosts).

A lease is a row: the slot or port pair a run holds, and which process holds it. Taking
one is a read-check-insert inside one `BEGIN IMMEDIATE` transaction, so processes taking
at the same time are serialised and none can see a count the other is about to change.
A process that dies (killed, crashed, the machine rebooted) cannot release what it held,
so each take first clears the leases of holders that are gone: on this host, a holder
whose process no longer exists (its pid, with the start time it had, so a reused pid is
not mistaken for it); on another host, one whose heartbeat is older than `stale_after_s`.
"""

import builtins
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from adw_tui.domain.fleet import host_name
from adw_tui.store.audit import record_audit
from adw_tui.store.backend import Backend, Row, Writer, rerun_when_lost

# A holder on another host that has not heartbeated for this long is taken for dead.
STALE_AFTER_S = 60.0


class LeaseKind(StrEnum):
    SLOT = "slot"
    PORTS = "ports"
    TRIGGER = "trigger"
    """A trigger at work (`adw webhook`, `adw poll`): its `adw_id` column says what it is
    (`webhook http://127.0.0.1:8001/gh-webhook`), so any dashboard can show it."""


@dataclass(frozen=True, slots=True)
class Holder:
    """A process that holds leases: its host, pid and start time (seconds since the epoch)."""

    host: str
    pid: int
    started: float

    @classmethod
    def this_process(cls) -> "Holder":
        # psutil is imported where used: opening the store to read needs none of it.
        import psutil

        return cls(host_name(), os.getpid(), psutil.Process().create_time())

    def is_alive(self) -> bool:
        """Whether this process still runs; only answerable for a holder on this host."""
        import psutil

        try:
            process = psutil.Process(self.pid)
            same = abs(process.create_time() - self.started) < 1.0
            return same and process.status() != psutil.STATUS_ZOMBIE
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return False


@dataclass(frozen=True, slots=True)
class Lease:
    kind: LeaseKind
    number: int
    adw_id: str
    holder: Holder
    heartbeat_at: float  # seconds since the epoch


# Matches the leases of one holder (with `_identity(holder)` as its parameters).
_OF_HOLDER = "host = ? AND pid = ? AND started = ?"


def _identity(holder: Holder) -> tuple[str, int, float]:
    return holder.host, holder.pid, holder.started


class Leases:
    def __init__(self, database: Backend, *, stale_after_s: float = STALE_AFTER_S) -> None:
        self._db = database
        self._stale_after_s = stale_after_s

    @cached_property
    def _this_process(self) -> Holder:
        """Asked for on the first lease: a store opened to read never needs psutil."""
        return Holder.this_process()

    @rerun_when_lost
    async def take(
        self,
        kind: LeaseKind,
        adw_id: str,
        holder: Holder,
        *,
        limit: int,
        candidates: Iterable[int] | None = None,
        usable: Callable[[int], bool] = lambda number: True,
    ) -> int | None:
        """The number of the `kind` lease `adw_id` holds, taken now if it holds none, or
        None when `limit` leases of that kind are held on `holder`'s host (by any process)
        or no candidate is free and `usable`.

        `candidates` are the numbers to try in order (default 0 to limit - 1); `usable` is
        asked about a free one before it is taken (a port pair: whether its ports bind)."""
        async with self._db.transaction() as connection:
            held = await self._held(connection, kind)
            mine = next((lease for lease in held if lease.adw_id == adw_id), None)
            if mine is not None and mine.holder.host == holder.host:
                return mine.number
            if mine is not None:
                # The run moved host (a worker there died, one here took it over): its
                # lease comes with it, counted here.
                await connection.execute(
                    "DELETE FROM leases WHERE kind = ? AND adw_id = ?", (kind, adw_id)
                )
            held = [lease for lease in held if lease.holder.host == holder.host]
            if len(held) >= limit:
                return None
            taken = {lease.number for lease in held}
            for number in range(limit) if candidates is None else candidates:
                if number in taken or not usable(number):
                    continue
                await connection.execute(
                    "INSERT INTO leases (kind, number, adw_id, host, pid, started, "
                    "heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (kind, number, adw_id, *_identity(holder), time.time()),
                )
                return number
        return None

    @rerun_when_lost
    async def release(self, kind: LeaseKind, adw_id: str, holder: Holder) -> None:
        """Give back the run's lease of that kind if `holder` holds it."""
        async with self._db.transaction() as connection:
            await connection.execute(
                f"DELETE FROM leases WHERE kind = ? AND adw_id = ? AND {_OF_HOLDER}",
                (kind, adw_id, *_identity(holder)),
            )

    @rerun_when_lost
    async def heartbeat(self, holder: Holder) -> None:
        """Say that `holder` still lives, for processes on other hosts."""
        async with self._db.transaction() as connection:
            await connection.execute(
                f"UPDATE leases SET heartbeat_at = ? WHERE {_OF_HOLDER}",
                (time.time(), *_identity(holder)),
            )

    async def list(self, kind: LeaseKind) -> builtins.list[Lease]:
        """The leases of that kind held now, as last written (dead holders included until
        the next take clears them)."""
        rows = await self._db.fetch_all(
            "SELECT * FROM leases WHERE kind = ? ORDER BY number", (kind,)
        )
        return [_lease(row) for row in rows]

    async def live(self, kind: LeaseKind) -> builtins.list[Lease]:
        """The leases of that kind whose holders are alive, by a read alone (the dead
        ones stay in the table until the next take clears them)."""
        return [lease for lease in await self.list(kind) if self._alive(lease)]

    @rerun_when_lost
    async def admit_call(self, service: str, max_rate: float, period_s: float) -> float:
        """Record a call to `service` if fewer than `max_rate` were recorded (by any
        process) in the last `period_s` seconds and return 0; else record nothing and
        return how long to wait before one leaves the window."""
        now = time.time()
        async with self._db.transaction() as connection:
            await connection.execute(
                "DELETE FROM rate_calls WHERE service = ? AND at <= ?", (service, now - period_s)
            )
            rows = await connection.execute_fetchall(
                "SELECT at FROM rate_calls WHERE service = ? ORDER BY at", (service,)
            )
            if len(rows) < max_rate:
                await connection.execute(
                    "INSERT INTO rate_calls (service, at) VALUES (?, ?)", (service, now)
                )
                return 0.0
        # The call that lets one more in is the one `max_rate` places from the newest.
        oldest_that_counts = float(rows[len(rows) - int(max_rate)]["at"])
        return max(oldest_that_counts + period_s - now, 0.001)

    async def may_take(self, kind: LeaseKind, adw_id: str, limit: int) -> bool:
        """Whether `take` could succeed for this process, from a look without the write
        lock: a process waiting for others to free a slot asks often at the cost of a
        read. False only when `limit` live holders on this host hold the others."""
        rows = await self._db.fetch_all(
            "SELECT * FROM leases WHERE kind = ? AND host = ?", (kind, self._this_process.host)
        )
        held = [_lease(row) for row in rows]
        if any(lease.adw_id == adw_id for lease in held):
            return True
        return sum(self._alive(lease) for lease in held) < limit

    def _alive(self, lease: Lease) -> bool:
        if lease.holder == self._this_process:
            return True
        if lease.holder.host == self._this_process.host:
            return lease.holder.is_alive()
        return lease.heartbeat_at > time.time() - self._stale_after_s

    async def _held(self, connection: Writer, kind: LeaseKind) -> builtins.list[Lease]:
        """The leases of `kind`, after clearing those of dead holders (of every kind)."""
        rows = await connection.execute_fetchall("SELECT * FROM leases ORDER BY kind, number")
        live: builtins.list[Lease] = []
        for lease in map(_lease, rows):
            if self._alive(lease):
                live.append(lease)
                continue
            await connection.execute(
                "DELETE FROM leases WHERE kind = ? AND host = ? AND number = ?",
                (lease.kind, lease.holder.host, lease.number),
            )
            await record_audit(
                connection,
                actor="runtime",
                action=f"{lease.kind}.reclaim",
                adw_id=lease.adw_id,
                detail={"pid": lease.holder.pid, "host": lease.holder.host},
            )
        return [lease for lease in live if lease.kind == kind]


def _lease(row: Row) -> Lease:
    return Lease(
        LeaseKind(row["kind"]),
        row["number"],
        row["adw_id"],
        Holder(row["host"], row["pid"], row["started"]),
        row["heartbeat_at"],
    )
