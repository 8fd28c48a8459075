"""The audit log: an append-only record of who changed what."""

import json
from typing import Any

from adw_tui.domain.models import AuditEntry
from adw_tui.store.backend import Backend, Writer, now_iso, rerun_when_lost


def audit_entry(
    *,
    actor: str,
    action: str,
    adw_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> tuple[str, tuple[Any, ...]]:
    """The statement appending an entry, to run inside the write it records, so that it
    commits with the change."""
    return (
        "INSERT INTO audit_log (at, actor, action, adw_id, detail) VALUES (?, ?, ?, ?, ?)",
        (now_iso(), actor, action, adw_id, json.dumps(detail or {}, sort_keys=True)),
    )


def audited_claim(claim_sql: str) -> str:
    """`claim_sql` (an UPDATE ... RETURNING adw_id of one row at most) and its audit
    entry, as one statement (a data-modifying WITH, which PostgreSQL has): its
    parameters, then the entry's time, actor, action, detail and the claim's token."""
    return (
        f"WITH claimed AS ({claim_sql}) INSERT INTO audit_log (at, actor, action, adw_id, "
        "detail, claim) SELECT ?, ?, ?, adw_id, ?, ? FROM claimed RETURNING adw_id"
    )


async def record_audit(
    connection: Writer,
    *,
    actor: str,
    action: str,
    adw_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an entry inside the caller's write transaction, so it commits with the change."""
    await connection.execute(*audit_entry(actor=actor, action=action, adw_id=adw_id, detail=detail))


class AuditLog:
    def __init__(self, database: Backend) -> None:
        self._db = database

    @rerun_when_lost
    async def record(
        self,
        *,
        actor: str,
        action: str,
        adw_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        async with self._db.transaction() as connection:
            await record_audit(connection, actor=actor, action=action, adw_id=adw_id, detail=detail)

    async def entries(self, *, adw_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest entries first, for one run or for everything."""
        where, params = ("WHERE adw_id = ?", [adw_id]) if adw_id else ("", [])
        rows = await self._db.fetch_all(
            f"SELECT * FROM audit_log {where} ORDER BY id DESC LIMIT ?", [*params, limit]
        )
        return [
            AuditEntry.model_validate({**dict(row), "detail": json.loads(row["detail"])})
            for row in rows
        ]
