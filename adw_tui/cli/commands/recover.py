"""`adw recover`: settle runs a dead process left behind, then resume (or dead-letter) them."""

import argparse

from rich.markup import escape
from rich.table import Table

from adw_tui.cli.commands.runs import STATUS_STYLES
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_json
from adw_tui.cli.progress import live_orchestrator
from adw_tui.domain.models import NewDeadLetter, RunStatus
from adw_tui.runtime.recovery import (
    RECOVERY_ACTOR,
    last_engine,
    recover_orphans,
    resumable_runs,
)


async def recover_runs(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store(create=False) as store:
        recovered = await recover_orphans(store, context.repo)
        runs = await resumable_runs(store)
        if args.json:
            print_json({"recovered": recovered, "resumable": [run.adw_id for run in runs]})
        elif recovered:
            table = Table("adw_id", "workflow", "owner", "why", "agents killed", "worktree")
            for item in recovered:
                table.add_row(
                    item.adw_id,
                    escape(item.workflow),
                    escape(item.owner or ""),
                    escape(item.reason),
                    str(item.killed_processes),
                    escape(item.worktree),
                )
            console.print(table)
        if not runs:
            console.print("No interrupted runs to resume.")
            return 0
        if args.dead_letter:
            for run in runs:
                await store.dead_letters.add(
                    NewDeadLetter(
                        adw_id=run.adw_id,
                        workflow=run.workflow,
                        step=run.current_step,
                        state_version=run.version,
                        error_class="interrupted",
                        error_message="interrupted; dead-lettered by `adw recover --dead-letter`",
                        attempts=0,
                    ),
                    actor=RECOVERY_ACTOR,
                )
            console.print(f"{len(runs)} interrupted runs dead-lettered: `adw dlq ls`")
            return 0
        async with live_orchestrator(store, context.repo, context.settings) as orchestrator:
            for run in runs:
                await orchestrator.launch(
                    int(run.issue or 0),
                    workflow=run.workflow,
                    adw_id=run.adw_id,
                    engine=await last_engine(store, run.adw_id),
                )
            finished = [await orchestrator.wait(run.adw_id) for run in runs]
    table = Table("adw_id", "workflow", "resumed from", "status now")
    for run, done in zip(runs, finished, strict=True):
        table.add_row(
            run.adw_id,
            escape(run.workflow),
            escape(run.current_step or ""),
            f"[{STATUS_STYLES[done.status]}]{done.status}[/]",
        )
    console.print(table)
    return 0 if all(done.status is RunStatus.SUCCEEDED for done in finished) else 1
