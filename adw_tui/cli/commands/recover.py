"""`adw recover`: settle runs a dead process left behind, then resume (or dead-letter) them."""

import argparse

from rich.table import Table

from adw_tui.cli.commands.runs import STATUS_STYLES
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_json
from adw_tui.cli.progress import live_orchestrator
from adw_tui.domain.models import RunStatus
from adw_tui.domain.sanitize import safe_markup
from adw_tui.runtime.recovery import recover_orphans, resumable_runs, settle_interrupted
from adw_tui.runtime.worktrees import worktree_manager


async def recover_runs(args: argparse.Namespace, context: CliContext) -> int:
    context.start_logging("interactive")
    async with await context.open_store(create=False) as store:
        recovered = await recover_orphans(
            store, context.repo, worktrees=worktree_manager(context.repo, context.settings)
        )
        runs = await resumable_runs(store)
        if args.json:
            print_json({"recovered": recovered, "resumable": [run.adw_id for run in runs]})
        elif recovered:
            table = Table("adw_id", "workflow", "owner", "why", "agents killed", "worktree")
            for item in recovered:
                table.add_row(
                    item.adw_id,
                    safe_markup(item.workflow),
                    safe_markup(item.owner or ""),
                    safe_markup(item.reason),
                    str(item.killed_processes),
                    safe_markup(item.worktree),
                )
            console.print(table)
        if not runs:
            console.print("No interrupted runs to resume.")
            return 0
        action = "dead_letter" if args.dead_letter else context.settings.recover_action
        async with live_orchestrator(store, context.repo, context.settings) as orchestrator:
            launched = await settle_interrupted(orchestrator, runs, action)
            finished = [await orchestrator.wait(adw_id) for adw_id in launched]
        if action == "dead_letter":
            console.print(f"{len(runs)} interrupted runs dead-lettered: `adw dlq ls`")
            return 0
    table = Table("adw_id", "workflow", "resumed from", "status now")
    for run, done in zip(runs, finished, strict=True):
        table.add_row(
            run.adw_id,
            safe_markup(run.workflow),
            safe_markup(run.current_step or ""),
            f"[{STATUS_STYLES[done.status]}]{done.status}[/]",
        )
    console.print(table)
    return 0 if all(done.status is RunStatus.SUCCEEDED for done in finished) else 1
