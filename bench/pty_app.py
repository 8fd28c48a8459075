"""A command in a child process whose terminal is a real pseudo-terminal.

The TUI benchmarks (and tests/tui/test_real_terminal.py) run the app this way so that
Textual's Linux driver, compositor and output thread do their real work; the parent reads
what the app writes to the terminal.
"""

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

COLUMNS, ROWS = 160, 50


class PtyChild:
    """The child, started by the constructor: `argv` run in `cwd` on a new terminal of
    `columns` x `rows`, TERM=xterm-256color, with `env` over this process's environment
    less the variables named in `unset`."""

    def __init__(
        self,
        argv: list[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        unset: Collection[str] = (),
        columns: int = COLUMNS,
        rows: int = ROWS,
    ) -> None:
        dropped = {"COLUMNS", "LINES", *unset}
        environ = {k: v for k, v in os.environ.items() if k not in dropped}
        environ["TERM"] = "xterm-256color"
        environ.update(env or {})
        self.started = time.perf_counter()
        pid, master = pty.fork()
        if pid == 0:  # the child: size its terminal, then become the command
            try:
                winsize = struct.pack("HHHH", rows, columns, 0, 0)
                fcntl.ioctl(pty.STDOUT_FILENO, termios.TIOCSWINSZ, winsize)
                os.chdir(cwd)
                os.execve(argv[0], argv, environ)
            finally:
                os._exit(127)
        self.pid, self.master = pid, master

    def output(self, timeout_s: float, *, quiet_s: float | None = None) -> Iterator[bytes]:
        """What the child writes to its terminal, as it comes, until it closes it; with
        `quiet_s`, also an empty chunk each time it has written nothing for that long
        (a frame is then complete on screen). Past `timeout_s` from the start the child
        is killed and TimeoutError raised."""
        deadline = self.started + timeout_s
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                os.kill(self.pid, signal.SIGKILL)
                raise TimeoutError(f"the app was still running after {timeout_s:.0f}s")
            wait = min(remaining, 1.0 if quiet_s is None else quiet_s)
            ready, _, _ = select.select([self.master], [], [], wait)
            if not ready:
                if quiet_s is not None:
                    yield b""
                continue
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            yield data

    def type(self, keys: bytes) -> None:
        """Send `keys` as if typed at the terminal."""
        os.write(self.master, keys)

    def close(self) -> int:
        """Close the terminal and reap the child (which has ended or been killed); its
        exit code (negative: the signal that ended it)."""
        os.close(self.master)
        _, status = os.waitpid(self.pid, 0)
        # What it left running in its process group (Gemini CLI's relaunched Node, say)
        # goes too: a test leaves no process behind.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        return os.waitstatus_to_exitcode(status)

    def stop(self) -> None:
        """Kill the child if it is still running (it is not reaped before `close`), then
        `close`."""
        os.kill(self.pid, signal.SIGKILL)
        self.close()
