"""`adw run`: one workflow run, headless, with live progress on stderr."""

import argparse

from adw_tui.cli.commands.show import print_run, run_json
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, error_console, print_json
from adw_tui.cli.progress import live_orchestrator
from adw_tui.domain.models import RunStatus
from adw_tui.domain.sanitize import safe_markup
from adw_tui.runtime.recovery import recover_at_start


async def run_workflow(args: argparse.Namespace, context: CliContext) -> int:
    async with (
        await context.open_store() as store,
        live_orchestrator(store, context.repo, context.settings) as orchestrator,
    ):
        orphans, resumed = await recover_at_start(orchestrator, context.settings.recover_action)
        for orphan in orphans:
            error_console.print(
                f"[yellow]run {orphan.adw_id} was left running ({safe_markup(orphan.reason)}): "
                f"{context.settings.recover_action.replace('_', '-')}[/]"
            )
        adw_id = await orchestrator.launch(
            args.issue,
            workflow=args.workflow,
            engine=args.engine,
            model_set=args.model_set,
            adw_id=args.adw_id,
            force=args.force,
        )
        run = await orchestrator.wait(adw_id)
        for other in resumed:
            await orchestrator.wait(other)
    async with await context.open_store() as store:
        if args.json:
            print_json(await run_json(store, adw_id))
        else:
            await print_run(store, adw_id, stream=console)
    return 0 if run.status is RunStatus.SUCCEEDED else 1
