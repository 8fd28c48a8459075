"""Starting an agent process: the one place that does, without asyncio.

An agent is started with `subprocess.Popen` and handed to the event loop afterwards
(`adw_tui.agents.process.adopt`), so that `adw prompt` can start its agent before adw
imports the rest of itself: the agent's own start-up then overlaps those imports."""

import contextlib
import fcntl
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

STDOUT_PIPE_BYTES = 1024 * 1024


def spawn_agent(
    argv: list[str], *, cwd: Path, env: Mapping[str, str], stdin: bool = False
) -> "subprocess.Popen[bytes]":
    """Start `argv` in a new session (its own process group), stdout and stderr piped;
    stdin piped too when `stdin` (the caller writes it, then closes it), else /dev/null.
    Raises OSError when it cannot be started."""
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None
    _widen(process.stdout.fileno())
    return process


def end_spawned(process: "subprocess.Popen[bytes]") -> None:
    """SIGKILL the agent's whole group, reap it and close its pipes: for an agent that no
    event loop has taken over (one that was never adopted, or whose adoption failed).
    Not for one already reaped: its pid, and so its group id, may be another's by now."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


def _widen(fd: int) -> None:
    """Give the agent's stdout pipe 1 MiB (Linux's default ceiling) instead of 64 KiB.

    A Node.js CLI that ends with `process.exit()` loses what it had not yet written to a
    full pipe: Gemini CLI, echoing a 200 KB prompt back as one line, was seen to end its
    stream mid-line when adw was slow to read. The bigger buffer holds such a line whole.
    Best effort: elsewhere (no F_SETPIPE_SZ, a lower limit) the pipe stays as it is.
    """
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, set_size, STDOUT_PIPE_BYTES)


def give_prompt(process: "subprocess.Popen[bytes]", data: bytes) -> None:
    """Write `data` to the agent's stdin pipe, then close it, in a thread of its own (a
    prompt larger than the pipe's buffer is only taken in as the agent reads). The pipe is
    the thread's from then on: `process.stdin` is None. An agent that ends before reading
    everything closes the pipe: no error here, how the agent ended says what happened."""
    pipe, process.stdin = process.stdin, None
    if pipe is None:
        raise ValueError("the agent was started without a stdin pipe")

    def write() -> None:
        with contextlib.suppress(BrokenPipeError, ValueError), pipe:
            pipe.write(data)

    threading.Thread(target=write, name="agent-prompt", daemon=True).start()
