"""Agent subprocesses: the one place that starts them in a session of their own and kills
their whole process tree (their environment comes from `adw_tui.agents.environment`)."""

import asyncio
import contextlib
import fcntl
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

STDERR_TAIL_BYTES = 16 * 1024


async def start_agent_process(
    argv: list[str], *, cwd: Path, env: Mapping[str, str], stdin: bool = False
) -> asyncio.subprocess.Process:
    """Start `argv` in a new session (its own process group), stdout and stderr piped;
    stdin piped too when `stdin` (see `feed_stdin`), else /dev/null."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    _widen_stdout(process)
    return process


STDOUT_PIPE_BYTES = 1024 * 1024


def _widen_stdout(process: asyncio.subprocess.Process) -> None:
    """Give the agent's stdout pipe 1 MiB (Linux's default ceiling) instead of 64 KiB.

    A Node.js CLI that ends with `process.exit()` loses what it had not yet written to a
    full pipe: Gemini CLI, echoing a 200 KB prompt back as one line, was seen to end its
    stream mid-line when adw was slow to read. The bigger buffer holds such a line whole.
    Best effort: elsewhere (no F_SETPIPE_SZ, a lower limit) the pipe stays as it is.
    """
    # asyncio's own handle on the pipes it made: the one way to reach the pipe's fd.
    transport = getattr(process, "_transport", None)
    pipe = transport.get_pipe_transport(1) if transport is not None else None
    file = pipe.get_extra_info("pipe") if pipe is not None else None
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if file is None or set_size is None:
        return
    # An agent that already ended may have had its pipe read to the end and closed.
    with contextlib.suppress(OSError, ValueError):
        fcntl.fcntl(file.fileno(), set_size, STDOUT_PIPE_BYTES)


async def feed_stdin(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Write `data` to an agent's stdin, then close it so the agent sees the end.

    Run it beside the stdout reader, never before it: a prompt larger than the pipe's
    buffer (64 KiB) is only taken in as the agent reads. An agent that exits, or is
    killed, before reading everything closes the pipe; that is no error here: how the
    agent ended says what happened.
    """
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        try:
            writer.write(data)
            await writer.drain()
        finally:
            writer.close()
        await writer.wait_closed()


async def process_exit(process: asyncio.subprocess.Process, poll_s: float = 0.01) -> int:
    """Wait until the process itself has exited and return its code.

    Unlike `Process.wait()`, which on Python 3.11 also waits for every pipe to close, this
    returns even when a child the agent left behind still holds stdout open.
    """
    while process.returncode is None:  # noqa: ASYNC110 - no public exit event on 3.11
        await asyncio.sleep(poll_s)
    return process.returncode


async def kill_process_tree(process: asyncio.subprocess.Process, grace_s: float) -> None:
    """SIGTERM the process group and every descendant, SIGKILL what is left after
    `grace_s`, and reap the leader. Safe to call when the process has already exited
    (its group may still hold children it left behind)."""
    descendants = _descendants(process)
    _signal_all(process.pid, descendants, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process_exit(process), timeout=grace_s)
    alive = await _wait_procs(descendants, grace_s)
    _signal_all(process.pid, alive, signal.SIGKILL)
    await process_exit(process)
    await _wait_procs(alive, grace_s)


def _descendants(process: asyncio.subprocess.Process) -> "list[psutil.Process]":
    """The leader's descendants while it lives. Once it is reaped (the usual case: the
    agent exited) none are found under its pid, which another process may hold by now:
    its group is signalled alone, and every agent call ends without importing psutil."""
    if process.returncode is not None:
        return []
    import psutil

    try:
        return psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        return []


async def _wait_procs(processes: "list[psutil.Process]", grace_s: float) -> "list[psutil.Process]":
    """Wait up to `grace_s` for `processes` to end; those still alive."""
    if not processes:
        return []
    import psutil

    _, alive = await asyncio.to_thread(psutil.wait_procs, processes, timeout=grace_s)
    return alive


def _signal_all(group: int, processes: "list[psutil.Process]", sig: signal.Signals) -> None:
    # The leader started a session, so its pid is the group id; processes that left the
    # group (setsid, double fork) are signalled one by one.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)
    if not processes:
        return
    import psutil

    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(sig)


class StderrTail:
    """Drains a stderr pipe in the background, keeping only its last `limit` bytes, so a
    chatty agent can neither fill the pipe (and block) nor fill memory."""

    def __init__(self, stream: asyncio.StreamReader, limit: int = STDERR_TAIL_BYTES) -> None:
        self._limit = limit
        self._tail = bytearray()
        self._task = asyncio.ensure_future(self._drain(stream))

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self._tail += chunk
            if len(self._tail) > 2 * self._limit:
                del self._tail[: -self._limit]

    async def text(self, wait_s: float = 1.0) -> str:
        """The tail so far, after waiting up to `wait_s` for the pipe to close."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), timeout=wait_s)
        return bytes(self._tail[-self._limit :]).decode("utf-8", errors="replace")

    def close(self) -> None:
        self._task.cancel()
