"""`adw breakers [reset NAME]`: the circuit breakers of the engines and trackers."""

import argparse

from rich.table import Table

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_json, short_time
from adw_tui.domain.breakers import Breaker, BreakerState
from adw_tui.domain.clock import utc_now
from adw_tui.domain.errors import DatabaseMissingError
from adw_tui.domain.sanitize import safe_markup

STATE_STYLES = {
    BreakerState.CLOSED: "green",
    BreakerState.HALF_OPEN: "yellow",
    BreakerState.OPEN: "red",
}


async def list_breakers(args: argparse.Namespace, context: CliContext) -> int:
    """Every breaker that has recorded a failure; one never listed is closed."""
    try:
        store = await context.open_store(create=False)
    except DatabaseMissingError:
        breakers: list[Breaker] = []
    else:
        async with store:
            breakers = await store.breakers.list()
    if args.json:
        print_json(breakers)
        return 0
    if not breakers:
        console.print("No breaker has recorded a failure: every engine and tracker is closed.")
        return 0
    policy = context.settings.breaker_policy()
    table = Table("name", "state", "failures", "successes", "opened at", "probe from", "last error")
    for breaker in breakers:
        table.add_row(
            safe_markup(breaker.name),
            f"[{STATE_STYLES[breaker.state]}]{breaker.state}[/]",
            str(breaker.consecutive_failures),
            str(breaker.consecutive_successes),
            short_time(breaker.opened_at),
            short_time(breaker.blocked_until(policy)),
            safe_markup(breaker.last_error or ""),
        )
    console.print(table)
    return 0


async def reset_breaker(args: argparse.Namespace, context: CliContext) -> int:
    """Close a breaker at once; a name never used is closed already, and says so."""
    try:
        store = await context.open_store(create=False)
    except DatabaseMissingError:
        before = Breaker(name=args.name)
    else:
        async with store:
            before = await store.breakers.reset(args.name, now=utc_now(), actor="cli")
    name = safe_markup(args.name)
    if before.updated_at is None:
        console.print(f"breaker {name} has never recorded a failure: it is closed already")
    elif before.state is BreakerState.CLOSED:
        console.print(
            f"breaker {name} was closed; its {before.consecutive_failures} consecutive "
            "failures are cleared"
        )
    else:
        console.print(
            f"breaker {name} closed (it was {before.state} after "
            f"{before.consecutive_failures} consecutive failures)"
        )
    return 0
