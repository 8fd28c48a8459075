"""The `adw` command.

Exit codes: 0 success, 1 the operation failed, 2 usage error. Errors are one line on
stderr; a traceback is shown only with ADW_DEBUG=1.
"""

import argparse
import asyncio
import os
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adw_tui import __version__
from adw_tui.cli.args import ArgumentParser
from adw_tui.cli.commands import dlq, doctor, migrate, prompt, runs
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import print_error
from adw_tui.config import Settings
from adw_tui.domain.errors import AdwError

Handler = Callable[[argparse.Namespace, CliContext], Coroutine[Any, Any, int]]
COMMAND_MODULES = (runs, dlq, prompt, migrate, doctor)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="adw",
        description="Drive AI coding agents from issue to reviewed branch.",
    )
    parser.add_argument("--version", action="version", version=f"adw {__version__}")
    parser.add_argument(
        "--repo", type=Path, help="target repository (default: git top level of the cwd)"
    )
    parser.add_argument(
        "--db", type=Path, help="state database (default: $ADW_DB or <repo>/agents/adw_state.db)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(commands.add_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `adw` with `argv`; return the exit code (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "ADW_" + "_".join(str(part) for part in first["loc"]).upper()
        print_error(f"invalid setting {name}: {first['msg']}")
        return 2
    handler: Handler = args.handler
    try:
        return asyncio.run(handler(args, CliContext.from_args(args, settings)))
    except AdwError as error:
        print_error(str(error))
        return 1
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except Exception as error:
        if os.environ.get("ADW_DEBUG"):
            raise
        print_error(
            f"unexpected {type(error).__name__}: {error} (rerun with ADW_DEBUG=1 for details)"
        )
        return 1
