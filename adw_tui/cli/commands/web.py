"""`adw web`: the dashboard in a browser. textual-serve starts one `adw tui` process per
browser tab and relays its screen over a websocket."""

import argparse
import os
import shlex
import sys

from rich.markup import escape

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console
from adw_tui.cli.web_access import WebAccess, new_token
from adw_tui.domain.errors import AdwError
from adw_tui.store.location import is_dsn


def dashboard_command(context: CliContext) -> str:
    """The shell command each browser tab runs: this Python's `adw tui` on the same
    repository and database. A PostgreSQL DSN is not on its command line, where any user
    could read its password: the tabs inherit it as ADW_DB (see `serve_web`)."""
    argv = [sys.executable, "-m", "adw_tui", "--repo", str(context.repo)]
    if context.db_option is not None and not is_dsn(context.db_option):
        argv += ["--db", context.db_option]
    return shlex.join([*argv, "tui"])


def serve_web(args: argparse.Namespace, context: CliContext) -> int:
    """Serve until interrupted. A plain function: textual-serve runs its own event loop."""
    from aiohttp import web
    from textual_serve.server import Server

    configured = context.settings.web_token
    access = WebAccess.for_address(
        args.host, args.port, configured.get_secret_value() if configured else new_token()
    )

    access.keep_out_of_access_log()
    if context.db_option is not None and is_dsn(context.db_option):
        os.environ["ADW_DB"] = context.db_option  # for the tabs (see dashboard_command)

    class GuardedServer(Server):
        """textual-serve's server with adw's access rules in front of every route."""

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(access.middleware())
            return app

    server = GuardedServer(
        dashboard_command(context),
        host=args.host,
        port=args.port,
        title=f"adw · {context.repo.name}",
    )
    url = access.url(args.host, args.port)
    console.print(
        f"adw dashboard for {escape(str(context.repo))} at [bold]{url}[/] (ctrl+c stops)",
        soft_wrap=True,  # the URL stays on one line, whole, for copying
    )
    try:
        server.serve()
    except OSError as error:
        raise AdwError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}; "
            "choose another --port"
        ) from error
    return 0
