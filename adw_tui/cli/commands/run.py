"""`adw run`: one workflow run, headless, with live progress on stderr."""

import argparse

from adw_tui.cli.commands.show import print_run, run_json
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_json
from adw_tui.cli.progress import live_orchestrator, recover_and_report
from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import RunStatus


async def run_workflow(args: argparse.Namespace, context: CliContext) -> int:
    if args.labels and not args.enqueue:
        raise AdwError("--labels goes with --enqueue: they say which workers may take the run")
    if args.best_of:
        from adw_tui.cli.commands.best_of import run_best_of

        return await run_best_of(args, context)
    if args.engines or args.model_sets:
        raise AdwError("--engines and --model-sets go with --best-of N")
    if args.enqueue:
        from adw_tui.cli.commands.fleet import enqueue_run

        return await enqueue_run(args, context)
    context.start_observability("interactive")
    async with (
        await context.open_store() as store,
        live_orchestrator(store, context.repo, context.settings) as orchestrator,
    ):
        resumed = await recover_and_report(orchestrator, context.settings)
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
