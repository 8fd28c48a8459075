"""`adw serve`: the status API on its own (`/health`, `/status`, `/metrics`), for
Prometheus and health checks, beside whatever runs the workflows on the same database."""

import argparse
import asyncio

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console
from adw_tui.domain.errors import AdwError
from adw_tui.observability.server import listen, status_app
from adw_tui.observability.status import store_status


async def serve_status(args: argparse.Namespace, context: CliContext) -> int:
    context.start_logging("daemon")
    async with await context.open_store(create=False) as store:
        app = status_app(store, lambda: store_status(store))
        try:
            runner, address = await listen(app, args.host, args.port)
        except OSError as error:
            raise AdwError(
                f"cannot listen on {args.host}:{args.port}: {error.strerror or error}; "
                "choose another --port"
            ) from error
        console.print(
            f"adw serve: http://{address}/metrics (Prometheus), /status and /health "
            f"for {store.path}; Ctrl-C stops",
            highlight=False,
        )
        try:
            await asyncio.Event().wait()  # until Ctrl-C cancels the command
        finally:
            await runner.cleanup()
    return 0
