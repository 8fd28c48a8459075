"""`adw attach ADW_ID` and `adw shell ADW_ID`: a person takes a run over in its worktree,
in this terminal, as the dashboard's `a` and `s` do (see `runtime.handover`)."""

import argparse

from adw_tui.cli.commands.pause import resume_here
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console
from adw_tui.domain.clock import utc_now
from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import RunStatus
from adw_tui.domain.sanitize import safe_markup
from adw_tui.runtime.foreground import run_in_foreground
from adw_tui.runtime.handover import Handover, plan_attach, plan_shell, record_return
from adw_tui.runtime.pausing import pause_elsewhere
from adw_tui.store import Store

ACTOR = "cli"


async def attach_run(args: argparse.Namespace, context: CliContext) -> int:
    """Attach; a running run is paused first (by the process running it), and with
    `--resume` goes on here once the session is left."""
    async with await context.open_store(create=False) as store:
        run = await store.get_run(args.adw_id)
        if run.status is RunStatus.RUNNING:
            await plan_attach(store, args.adw_id, context.settings, running=True)
            run = await pause_elsewhere(store, args.adw_id, actor=ACTOR)
            if run.status is not RunStatus.PAUSED:
                raise AdwError(f"run {args.adw_id} ended {run.status} before it could be paused")
            console.print(
                f"[dim]run {args.adw_id} paused in step {safe_markup(run.current_step or '?')}[/]"
            )
        handover = await plan_attach(store, args.adw_id, context.settings)
        code = await _hand_over(store, handover)
        paused = (await store.get_run(args.adw_id)).status is RunStatus.PAUSED
    if not paused:
        return code
    if args.resume:
        return await resume_here(args.adw_id, context)
    console.print(f"run {args.adw_id} stays paused: `adw resume {args.adw_id}` goes on")
    return code


async def open_shell(args: argparse.Namespace, context: CliContext) -> int:
    import os

    async with await context.open_store(create=False) as store:
        handover = await plan_shell(store, args.adw_id, os.environ)
        return await _hand_over(store, handover)


async def _hand_over(store: Store, handover: Handover) -> int:
    """Run the handover in this terminal, record it, and exit as its command did."""
    console.print(
        f"[dim]run {handover.adw_id}:[/] {safe_markup(handover.what)}; "
        "[dim]leave it to come back[/]"
    )
    started = utc_now()
    code = await run_in_foreground(handover)
    version = await record_return(
        store, handover, exit_code=code, started=started, ended=utc_now(), actor=ACTOR
    )
    recorded = f"; recorded as version {version} of its history" if version else ""
    console.print(f"[dim]back from run {handover.adw_id} (exit {code}){recorded}[/]")
    return code if code >= 0 else 128 - code
