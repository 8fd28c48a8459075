"""`adw budget`: the run and daily budgets in force, where each comes from, and today's
spend; `--run`/`--daily` set them for every process on the database (see
`adw_tui.runtime.budgets`)."""

import argparse

from rich.table import Table

from adw_tui.cli.args import BudgetArg
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_json
from adw_tui.domain.clock import start_of_day, utc_now
from adw_tui.runtime.budgets import budgets_in_force
from adw_tui.store import Store
from adw_tui.store.budgets import BUDGET_SCOPES, BudgetScope

ACTOR = "cli"
SETTING = {"run": "ADW_RUN_BUDGET_USD", "daily": "ADW_DAILY_BUDGET_USD"}


async def budget(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store() as store:
        for scope in BUDGET_SCOPES:
            await _set(store, scope, getattr(args, scope))
        in_force = await budgets_in_force(store, context.settings)
        spent = await store.spent_since(start_of_day(utc_now()))
    if args.json:
        print_json(
            {
                "spent_today_usd": spent,
                "budgets": {
                    scope: {"usd": entry.usd, "source": entry.source}
                    for scope, entry in in_force.items()
                },
            }
        )
        return 0
    table = Table("budget", "US dollars", "from", title=f"Spent today (UTC): ${spent:.2f}")
    for scope, entry in in_force.items():
        source = "adw budget" if entry.source == "database" else SETTING[scope]
        table.add_row(scope, "no limit" if entry.usd is None else f"${entry.usd:.2f}", source)
    console.print(table)
    return 0


async def _set(store: Store, scope: BudgetScope, value: BudgetArg | None) -> None:
    if value is None:  # not given
        return
    if value == "default":
        await store.budgets.clear(scope, actor=ACTOR)
    else:
        await store.budgets.set(scope, None if value == "none" else value, actor=ACTOR)
