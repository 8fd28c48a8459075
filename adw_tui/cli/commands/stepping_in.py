"""`adw attach ADW_ID` and `adw shell ADW_ID`: a person takes a run over in its worktree,
in this terminal, as the dashboard's `a` and `s` do (see `runtime.handover`)."""

import argparse

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console
from adw_tui.domain.clock import utc_now
from adw_tui.domain.sanitize import safe_markup
from adw_tui.runtime.foreground import run_in_foreground
from adw_tui.runtime.handover import Handover, plan_attach, plan_shell, record_return
from adw_tui.store import Store

ACTOR = "cli"


async def attach_run(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store(create=False) as store:
        handover = await plan_attach(store, args.adw_id, context.settings)
        return await _hand_over(store, handover)


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
