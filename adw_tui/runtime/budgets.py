"""The budget in force for each scope: an operator's override in the database (`adw
budget`), else the settings'. Read at each check, so a raise takes effect at once in
every process on the database."""

from dataclasses import dataclass
from typing import Literal

from adw_tui.config import Settings
from adw_tui.store import Store
from adw_tui.store.budgets import BUDGET_SCOPES, BudgetScope

BudgetSource = Literal["database", "settings"]


@dataclass(frozen=True, slots=True)
class Budget:
    scope: BudgetScope
    usd: float | None
    """None: no limit."""
    source: BudgetSource


async def budgets_in_force(store: Store, settings: Settings) -> dict[BudgetScope, Budget]:
    overrides = await store.budgets.overrides()
    configured: dict[BudgetScope, float | None] = {
        "run": settings.run_budget_usd,
        "daily": settings.daily_budget_usd,
    }
    return {
        scope: Budget(scope, overrides[scope], "database")
        if scope in overrides
        else Budget(scope, configured[scope], "settings")
        for scope in BUDGET_SCOPES
    }


async def budget_usd(store: Store, settings: Settings, scope: BudgetScope) -> float | None:
    """The US dollars `scope` may spend now; None for no limit."""
    return (await budgets_in_force(store, settings))[scope].usd
