"""`adw run`: one workflow run, headless, with live progress on stderr."""

import argparse
import asyncio
import contextlib

from adw_tui.cli.commands.runs import print_run, run_json
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, error_console, print_json
from adw_tui.cli.progress import ProgressPrinter
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator


async def run_workflow(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store() as store:
        orchestrator = Orchestrator(store, context.repo, context.settings)
        progress = ProgressPrinter(error_console)
        watcher = asyncio.create_task(watch_progress(orchestrator, progress))
        try:
            adw_id = await orchestrator.launch(
                args.issue,
                workflow=args.workflow,
                engine=args.engine,
                model_set=args.model_set,
                adw_id=args.adw_id,
            )
            run = await orchestrator.wait(adw_id)
        finally:
            await orchestrator.close()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if args.json:
            print_json(await run_json(store, adw_id))
        else:
            await print_run(store, adw_id, stream=console)
    return 0 if run.status is RunStatus.SUCCEEDED else 1


async def watch_progress(orchestrator: Orchestrator, progress: ProgressPrinter) -> None:
    async for event in orchestrator.subscribe():
        progress.handle(event)
