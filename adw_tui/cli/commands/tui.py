"""`adw tui` (and `adw` alone): the live dashboard on the repository.

textual is imported here only when the command runs, so the other commands never load it.
"""

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from adw_tui.cli.collector import paused_collector
from adw_tui.cli.context import CliContext
from adw_tui.config import Settings
from adw_tui.store import Store

if TYPE_CHECKING:  # made, and the runtime imported, after the first frame (tui.app)
    from adw_tui.runtime.orchestrator import Orchestrator

Startup = Callable[["Orchestrator"], Awaitable[None]]


async def run_tui(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store() as store:
        await open_dashboard(
            store,
            context.repo,
            context.settings,
            on_first_frame=lambda: context.start_observability("screen"),
        )
    return 0


async def open_dashboard(
    store: Store,
    repo: Path,
    settings: Settings,
    *,
    startup: Startup | None = None,
    on_first_frame: Callable[[], None] | None = None,
) -> None:
    """Run the dashboard until the user quits. It first settles runs a dead process left
    running, as `adw run` does; runs still going when it quits end `interrupted`
    (resumable with `adw recover`). The garbage collector is paused until the first
    frame (`adw_tui.cli.collector`)."""
    with paused_collector() as resume_collector:

        def first_frame() -> None:
            resume_collector()
            if on_first_frame is not None:
                on_first_frame()

        from adw_tui.tui.app import create_app

        app = create_app(
            store,
            repo,
            settings,
            startup=startup,
            recover_on_start=True,
            on_first_frame=first_frame,
        )
        try:
            await app.run_async()
        finally:
            await app.close_runtime()
