"""`adw pause` and `adw resume`: free a running run's slot, and let it go on later.

A pause travels through the database to the process executing the run (a dashboard, an
`adw run`), which stops the run's step (see `adw_tui.runtime.pausing`). A resume runs
the paused run here, as `adw run --adw-id` would, with live progress on stderr.
"""

import argparse

from adw_tui.cli.commands.show import print_run
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_error
from adw_tui.cli.progress import live_orchestrator
from adw_tui.domain.models import RunStatus
from adw_tui.domain.sanitize import safe_markup
from adw_tui.runtime.pausing import pause_elsewhere

PAUSE_ACTOR = "cli"


async def pause_run(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store(create=False) as store:
        run = await pause_elsewhere(store, args.adw_id, actor=PAUSE_ACTOR, timeout_s=args.wait)
    if run.status is not RunStatus.PAUSED:
        print_error(f"run {run.adw_id} ended {run.status} before it could be paused")
        return 1
    console.print(
        f"run {run.adw_id} paused in step {safe_markup(run.current_step or '?')}: its slot "
        f"is free; `adw resume {run.adw_id}` (or p in the dashboard) goes on",
        soft_wrap=True,
    )
    return 0


async def resume_run(args: argparse.Namespace, context: CliContext) -> int:
    return await resume_here(args.adw_id, context)


async def resume_here(adw_id: str, context: CliContext) -> int:
    """Run the paused run here until it ends (or is paused again), with live progress."""
    context.start_logging("interactive")
    async with (
        await context.open_store(create=False) as store,
        live_orchestrator(store, context.repo, context.settings) as orchestrator,
    ):
        await orchestrator.resume(adw_id)
        run = await orchestrator.wait(adw_id)
        await print_run(store, adw_id, stream=console)
    # Paused again (from elsewhere) is no failure: the run is where it was left.
    return 0 if run.status in (RunStatus.SUCCEEDED, RunStatus.PAUSED) else 1
