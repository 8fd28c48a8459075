"""Running a person's command (`runtime.handover`) in the terminal's foreground.

The child inherits the terminal (stdin, stdout, stderr) and stays in adw's process group,
the terminal's foreground one, so it can read the keyboard. Like `system(3)`, adw
ignores the keyboard's SIGINT and SIGQUIT while it waits: Ctrl-C in the person's shell
must not stop the dashboard or `adw attach` behind it. The event loop keeps running:
runs in progress in this process go on while the person works.
"""

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from adw_tui.domain.errors import AdwError
from adw_tui.runtime.handover import Handover

_KEYBOARD_SIGNALS = (signal.SIGINT, signal.SIGQUIT)


async def run_in_foreground(handover: Handover) -> int:
    """Run the handover's command to its end; its exit code (negative: killed by that
    signal). An AdwError naming the command when it cannot start."""
    with _keyboard_signals_left_to_the_child():
        try:
            process = await asyncio.create_subprocess_exec(
                *handover.argv, cwd=handover.cwd, env=handover.env
            )
        except OSError as error:
            raise AdwError(
                f"cannot start {handover.argv[0]} in {handover.cwd}: {error.strerror or error}"
            ) from error
        try:
            return await process.wait()
        finally:
            if process.returncode is None:  # adw is closing under the person's feet
                process.send_signal(signal.SIGHUP)  # as a closed terminal would
                await asyncio.shield(process.wait())


def _ignore(_signal: int, _frame: FrameType | None) -> None:
    """A handler that does nothing (not SIG_IGN, which the child would inherit)."""


@contextlib.contextmanager
def _keyboard_signals_left_to_the_child() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; nothing to protect there
        return
    before = {number: signal.signal(number, _ignore) for number in _KEYBOARD_SIGNALS}
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
