"""`adw web`: the dashboard in a browser. textual-serve starts one `adw tui` process per
browser tab and relays its screen over a websocket."""

import argparse
import shlex
import sys

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console
from adw_tui.domain.errors import AdwError


def dashboard_command(context: CliContext) -> str:
    """The shell command each browser tab runs: this Python's `adw tui` on the same
    repository and database."""
    argv = [sys.executable, "-m", "adw_tui", "--repo", str(context.repo)]
    if context.db_option is not None:
        argv += ["--db", str(context.db_option)]
    return shlex.join([*argv, "tui"])


def serve_web(args: argparse.Namespace, context: CliContext) -> int:
    """Serve until interrupted. A plain function: textual-serve runs its own event loop."""
    from textual_serve.server import Server

    server = Server(
        dashboard_command(context),
        host=args.host,
        port=args.port,
        title=f"adw · {context.repo.name}",
    )
    console.print(
        f"adw dashboard for {context.repo} at [bold]http://{args.host}:{args.port}[/] "
        "(ctrl+c stops)"
    )
    try:
        server.serve()
    except OSError as error:
        raise AdwError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}; "
            "choose another --port"
        ) from error
    return 0
