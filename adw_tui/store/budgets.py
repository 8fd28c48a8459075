"""Budgets set by an operator while adw runs (`adw budget`): each overrides its setting
(`ADW_RUN_BUDGET_USD`, `ADW_DAILY_BUDGET_USD`) for every process on the database, which
reads it again at each check, so a raise reaches a running dashboard, webhook or poller
without a restart."""

from typing import Literal

from adw_tui.store.audit import record_audit
from adw_tui.store.backend import Backend, now_iso, rerun_when_lost

BudgetScope = Literal["run", "daily"]
BUDGET_SCOPES: tuple[BudgetScope, ...] = ("run", "daily")


class Budgets:
    def __init__(self, database: Backend) -> None:
        self._db = database

    async def overrides(self) -> dict[BudgetScope, float | None]:
        """The scopes an operator set, each with its US dollars (None: no limit)."""
        rows = await self._db.fetch_all("SELECT scope, usd FROM budget_overrides")
        return {
            scope: row["usd"] for row in rows for scope in BUDGET_SCOPES if row["scope"] == scope
        }

    @rerun_when_lost
    async def set(self, scope: BudgetScope, usd: float | None, *, actor: str) -> None:
        """Override the setting of `scope` with `usd` (None: no limit); audited."""
        async with self._db.transaction() as connection:
            await connection.execute(
                "INSERT INTO budget_overrides (scope, usd, set_by, set_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (scope) DO UPDATE SET usd = excluded.usd, "
                "set_by = excluded.set_by, set_at = excluded.set_at",
                (scope, usd, actor, now_iso()),
            )
            await record_audit(connection, actor=actor, action="budget.set", detail={scope: usd})

    @rerun_when_lost
    async def clear(self, scope: BudgetScope, *, actor: str) -> None:
        """Back to the setting of `scope`; audited."""
        async with self._db.transaction() as connection:
            await connection.execute("DELETE FROM budget_overrides WHERE scope = ?", (scope,))
            await record_audit(
                connection, actor=actor, action="budget.clear", detail={"scope": scope}
            )
