"""The `adw` command.

Exit codes: 0 success, 1 the operation failed, 2 usage error. Errors are one line on
stderr; a traceback is shown only with ADW_DEBUG=1.
"""

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from adw_tui.cli.collector import paused_collector
from adw_tui.cli.parser import build_parser, commands_named

if TYPE_CHECKING:
    from adw_tui.cli.context import CliContext, HeadStart

Handler = Callable[[argparse.Namespace, "CliContext"], Coroutine[Any, Any, int] | int]
"""A command: a coroutine run on a new event loop, or (for a command that runs a loop
of its own, as `adw web` does) a plain function."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run `adw` with `argv`; return the exit code (the console script exits with it)."""
    if argv is None:
        argv = sys.argv[1:]
    with paused_collector() as resume_collector:
        args = build_parser(commands_named(argv)).parse_args(argv)
        # Before anything else is imported: the command's head start, if it has one.
        head_start: HeadStart | None = _load(args.head_start)(args) if args.head_start else None
        try:
            return _run(args, head_start, resume_collector)
        finally:
            if head_start is not None:
                head_start.discard()


def _run(
    args: argparse.Namespace, head_start: "HeadStart | None", resume_collector: Callable[[], None]
) -> int:
    # Imported after parsing: `--help`, `--version` and usage errors need none of this.
    from adw_tui.cli.context import CliContext, SettingsError
    from adw_tui.cli.output import print_error
    from adw_tui.domain.errors import AdwError

    context = CliContext.from_args(args, head_start)
    try:
        context.settings  # noqa: B018 - read now, so a bad setting is a usage error
    except SettingsError as error:
        print_error(str(error))
        return 2
    handler: Handler = _load(args.handler)
    resume_collector()  # the imports are made: the command's own work needs collecting
    try:
        outcome = handler(args, context)
        if isinstance(outcome, int):
            return outcome
        import asyncio  # not before the handler: `adw prompt` gives its agent its prompt first

        return asyncio.run(outcome)
    except AdwError as error:
        print_error(str(error))
        return 1
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except BrokenPipeError:
        # Whoever read stdout stopped (`adw runs | head`): end quietly, as Unix tools do,
        # and keep the interpreter's last flush from failing on the closed pipe too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as error:
        if os.environ.get("ADW_DEBUG"):
            raise
        print_error(
            f"unexpected {type(error).__name__}: {error} (rerun with ADW_DEBUG=1 for details)"
        )
        return 1


def run() -> NoReturn:
    """The console script: `main`, then exit with its code (`exit_now`)."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """End the process with `code` once its work is done, skipping the interpreter's
    teardown: freeing every module and object that the imports made (pydantic's, rich's,
    asyncio's) cost a short command like `adw prompt` some 15 ms after its work was
    done. What the teardown does that matters still happens first: the exit handlers run
    (logging's flush among them) and stdout and stderr are flushed. When a thread that is
    not a daemon still runs (the interpreter would wait for it), or a flush fails (a
    closed pipe, which the interpreter reports), the exit is the interpreter's own.
    Not in `main`, which tests call in a long-lived process.
    """
    import atexit
    import threading

    others = [thread for thread in threading.enumerate() if thread is not threading.main_thread()]
    if any(not thread.daemon for thread in others):
        gc.freeze()  # the final collection would walk every object the imports made
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


def _load(name: str) -> Any:
    """Import `adw_tui.cli.commands.<module>` for "module:function" and return the function."""
    module_name, function = name.split(":")
    return getattr(importlib.import_module(f"adw_tui.cli.commands.{module_name}"), function)
