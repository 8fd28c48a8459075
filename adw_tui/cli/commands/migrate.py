"""`adw migrate`: import the original ADW scripts' state files."""

import argparse
from pathlib import Path

from rich.table import Table

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_json
from adw_tui.domain.errors import AdwError
from adw_tui.domain.sanitize import safe_markup
from adw_tui.store.legacy import LegacyOutcome, import_legacy_states, legacy_state_files

OUTCOME_STYLES = {
    LegacyOutcome.IMPORTED: "green",
    LegacyOutcome.ALREADY_IMPORTED: "dim",
    LegacyOutcome.CORRUPT: "red",
    LegacyOutcome.FOREIGN: "yellow",
}


async def migrate_legacy(args: argparse.Namespace, context: CliContext) -> int:
    source: Path = args.source if args.source is not None else context.repo / "agents"
    if not source.is_dir():
        raise AdwError(f"--from {source}: no such directory")
    if not legacy_state_files(source):
        console.print(f"No legacy */adw_state.json files under {source}; nothing to import.")
        return 0
    async with await context.open_store() as store:
        results = await import_legacy_states(store, source)
    if args.json:
        print_json(results)
        return 0
    table = Table("file", "adw_id", "outcome", "reason", title=f"legacy state files in {source}")
    for result in results:
        table.add_row(
            safe_markup(str(result.path.relative_to(source))),
            result.adw_id or "",
            f"[{OUTCOME_STYLES[result.outcome]}]{result.outcome}[/]",
            safe_markup(result.reason),
        )
    console.print(table)
    counts = dict.fromkeys(LegacyOutcome, 0)
    for result in results:
        counts[result.outcome] += 1
    console.print(
        ", ".join(f"{count} {outcome.replace('_', ' ')}" for outcome, count in counts.items())
        + f" (database {store.path})"
    )
    return 0
