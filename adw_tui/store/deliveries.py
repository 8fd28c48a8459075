"""What a trigger (the webhook, the poller) acted on: one row per delivery, so that an event
GitHub sends again, or an issue the poller sees again after a restart, never starts a
second run.

A row is taken before anything is started (`record_new`: insert-if-new, atomic, with its
audit entry in the same transaction), and settled once the launch answered: as started
inside the transaction that creates its run (`settling`, given to `Store.create_run`), so
a delivery that starts a run costs one write of its own; as refused by a write of its own
(`settle`). A process that dies between the two leaves the row `pending`: the event is
not acted on again (at most once), and the row says so.
"""

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from adw_tui.store.audit import audit_entry
from adw_tui.store.backend import Backend, Row, now_iso
from adw_tui.store.group_commit import SyncWriter, Write


class DeliveryOutcome(StrEnum):
    PENDING = "pending"
    """Taken; the launch has not answered yet."""
    STARTED = "started"
    IGNORED = "ignored"
    REFUSED = "refused"
    """The runtime refused the launch (an active run of the workflow, an unknown issue)."""


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    """GitHub's `X-GitHub-Delivery`, or the poller's `poll:<issue>:<comment id|opened>`."""
    source: str
    """`webhook` or `poll`."""
    event: str
    action: str | None = None
    issue: int | None = None
    workflow: str | None = None
    outcome: DeliveryOutcome = DeliveryOutcome.PENDING
    reason: str | None = None
    """Why it was ignored or refused; None when a run started or is starting."""
    adw_id: str | None = None
    received_at: str | None = None


@dataclass(frozen=True)
class DeliverySummary:
    """What the triggers did since a moment: deliveries by outcome, and the newest one."""

    counts: dict[DeliveryOutcome, int]
    newest: Delivery | None


class Deliveries:
    def __init__(self, database: Backend) -> None:
        self._db = database

    async def record_new(
        self, delivery: Delivery, *, actor: str, detail: dict[str, Any] | None = None
    ) -> bool:
        """Insert `delivery` unless its id is known; True when it was new. The audit entry
        (`trigger.<outcome>`, with `detail`) commits with it, and only when it was new."""

        def insert(connection: SyncWriter) -> bool:
            cursor = connection.execute(
                "INSERT INTO deliveries (delivery_id, source, event, action, issue, workflow, "
                "outcome, adw_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (delivery_id) DO NOTHING",
                (
                    delivery.delivery_id,
                    delivery.source,
                    delivery.event,
                    delivery.action,
                    delivery.issue,
                    delivery.workflow,
                    _stored_outcome(delivery.outcome, delivery.reason),
                    delivery.adw_id,
                    delivery.received_at or now_iso(),
                ),
            )
            if cursor.rowcount == 0:
                return False
            connection.execute(*_audit(delivery, actor, detail))
            return True

        return await self._db.write(insert)

    async def settle(
        self,
        delivery: Delivery,
        *,
        actor: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write a taken delivery's outcome (and the run it started), audited, on its own."""
        await self._db.write(settling(delivery, actor=actor, detail=detail))

    async def release(self, delivery: Delivery, *, actor: str, reason: str) -> None:
        """Forget a taken delivery whose launch failed in a way that may pass (GitHub
        down, adw shutting down), so that its redelivery, or the next poll, acts on it;
        audited (`trigger.released`, with why)."""

        def delete(connection: SyncWriter) -> None:
            connection.execute(
                "DELETE FROM deliveries WHERE delivery_id = ?", (delivery.delivery_id,)
            )
            connection.execute(
                *audit_entry(
                    actor=actor,
                    action="trigger.released",
                    detail={"delivery": delivery.delivery_id, "reason": reason},
                )
            )

        await self._db.write(delete)

    async def get(self, delivery_id: str) -> Delivery | None:
        row = await self._db.fetch_one(
            "SELECT * FROM deliveries WHERE delivery_id = ?", (delivery_id,)
        )
        return None if row is None else _from_row(row)

    async def known(self, delivery_ids: Sequence[str]) -> builtins.set[str]:
        """Which of `delivery_ids` are recorded (one query per 500 ids)."""
        found: set[str] = set()
        for start in range(0, len(delivery_ids), 500):
            chunk = delivery_ids[start : start + 500]
            rows = await self._db.fetch_all(
                "SELECT delivery_id FROM deliveries WHERE delivery_id IN "
                f"({', '.join('?' for _ in chunk)})",
                chunk,
            )
            found.update(row["delivery_id"] for row in rows)
        return found

    async def summary(self, since: str) -> DeliverySummary:
        """Deliveries received at or after `since` (ISO time) by outcome, and the newest
        delivery of all; two reads over the time index."""
        outcome = "substr(outcome, 1, instr(outcome || ':', ':') - 1)"
        rows = await self._db.fetch_all(
            f"SELECT {outcome} AS kind, count(*) AS n FROM deliveries "
            "WHERE received_at >= ? GROUP BY kind",
            (since,),
        )
        counts = {DeliveryOutcome(row["kind"]): int(row["n"]) for row in rows}
        newest = await self.list(limit=1)
        return DeliverySummary(counts, newest[0] if newest else None)

    async def list(self, *, limit: int = 100) -> builtins.list[Delivery]:
        """The newest first."""
        rows = await self._db.fetch_all(
            "SELECT * FROM deliveries ORDER BY received_at DESC LIMIT ?", (limit,)
        )
        return [_from_row(row) for row in rows]


def settling(
    delivery: Delivery, *, actor: str, detail: dict[str, Any] | None = None
) -> Write[None]:
    """The write of a taken delivery's outcome (and the run it started), audited: run on
    its own (`Deliveries.settle`), or in the transaction that creates the run it started
    (`Store.create_run(with_run=...)`), which commits or undoes both together."""

    def update(connection: SyncWriter) -> None:
        connection.execute(
            "UPDATE deliveries SET outcome = ?, adw_id = ? WHERE delivery_id = ?",
            (
                _stored_outcome(delivery.outcome, delivery.reason),
                delivery.adw_id,
                delivery.delivery_id,
            ),
        )
        connection.execute(*_audit(delivery, actor, detail))

    return update


def _from_row(row: Row) -> Delivery:
    outcome, _, reason = str(row["outcome"]).partition(": ")
    return Delivery(
        delivery_id=row["delivery_id"],
        source=row["source"],
        event=row["event"],
        action=row["action"],
        issue=row["issue"],
        workflow=row["workflow"],
        outcome=DeliveryOutcome(outcome),
        reason=reason or None,
        adw_id=row["adw_id"],
        received_at=row["received_at"],
    )


def _stored_outcome(outcome: DeliveryOutcome, reason: str | None) -> str:
    """`ignored: a bot's comment`: the outcome and, when there is one, why."""
    return f"{outcome}: {reason}" if reason else str(outcome)


def _audit(
    delivery: Delivery, actor: str, detail: dict[str, Any] | None
) -> tuple[str, tuple[Any, ...]]:
    return audit_entry(
        actor=actor,
        action=f"trigger.{delivery.outcome}",
        adw_id=delivery.adw_id,
        detail={
            "delivery": delivery.delivery_id,
            "source": delivery.source,
            "event": delivery.event,
            "action": delivery.action,
            "issue": delivery.issue,
            "workflow": delivery.workflow,
            **({"reason": delivery.reason} if delivery.reason else {}),
            **(detail or {}),
        },
    )
