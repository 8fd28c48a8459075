"""Agent subprocesses on the event loop: started (`adw_tui.agents.spawn`, in a session of
their own) and adopted, fed, read, and killed with their whole process tree (their
environment comes from `adw_tui.agents.environment`)."""

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from adw_tui.agents.spawn import end_spawned, spawn_agent

if TYPE_CHECKING:
    import psutil

STDERR_TAIL_BYTES = 16 * 1024
GROUP_POLL_S = 0.01
"""How often a group whose members could not be listed is looked at again."""


class ChildProcess(Protocol):
    """A process `kill_process_tree` can end: an agent, or a command asyncio started."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...


class AgentProcess:
    """An agent process `spawn_agent` started, its pipes read and written on the event
    loop. Its exit is seen by polling (`returncode`), as `process_exit` does anyway."""

    def __init__(
        self,
        popen: "subprocess.Popen[bytes]",
        stdin: asyncio.StreamWriter | None,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
        transports: list[asyncio.BaseTransport],
    ) -> None:
        self._popen = popen
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self._transports = transports

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    def close(self) -> None:
        """Close the pipes' transports (the process itself is left as it is)."""
        for transport in self._transports:
            transport.close()


async def start_agent_process(
    argv: list[str], *, cwd: Path, env: Mapping[str, str], stdin: bool = False
) -> AgentProcess:
    """`spawn_agent`, adopted by the running event loop."""
    return await adopt(spawn_agent(argv, cwd=cwd, env=env, stdin=stdin))


async def adopt(popen: "subprocess.Popen[bytes]") -> AgentProcess:
    """The process `popen` (started by `spawn_agent`), its pipes on the running loop."""
    loop = asyncio.get_running_loop()
    assert popen.stdout is not None
    assert popen.stderr is not None
    transports: list[asyncio.BaseTransport] = []

    async def reader(pipe: IO[bytes]) -> asyncio.StreamReader:
        stream = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream), pipe
        )
        transports.append(transport)
        return stream

    try:
        stdout, stderr = await reader(popen.stdout), await reader(popen.stderr)
        writer = None
        if popen.stdin is not None:
            # A write pipe's StreamWriter wants a protocol with flow control and a close
            # waiter: asyncio's own subprocess streams use a reader protocol for it too.
            pipe, protocol = await loop.connect_write_pipe(
                lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), popen.stdin
            )
            transports.append(pipe)
            writer = asyncio.StreamWriter(pipe, protocol, None, loop)
    except BaseException:
        # Cancelled (a pause, a shutdown) before any caller owned the process: nothing
        # else would ever kill it.
        for opened in transports:
            opened.close()
        end_spawned(popen)
        raise
    return AgentProcess(popen, writer, stdout, stderr, transports)


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


WATCHED_POLL_S = 1.0
"""How often a process whose exit is watched through its pidfd is polled all the same: a
safety net for a pid reaped elsewhere (asyncio's child watcher) and reused at once."""


async def process_exit(process: ChildProcess, poll_s: float = 0.01) -> int:
    """Wait until the process itself has exited and return its code.

    Unlike `Process.wait()`, which on Python 3.11 also waits for every pipe to close, this
    returns even when a child the agent left behind still holds stdout open. The exit is
    seen at once where the system gives the process a descriptor to watch (Linux's pidfd):
    an agent call ends the moment its agent does, and a long call is not woken every
    `poll_s` to ask; elsewhere it is polled every `poll_s`.
    """
    exited = asyncio.Event()
    with _exit_notice(process, exited.set) as watched:
        while process.returncode is None:
            if watched and not exited.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(exited.wait(), WATCHED_POLL_S)
            else:  # noticed (its code is moments away for asyncio's processes), or unwatched
                await asyncio.sleep(poll_s)
    return process.returncode


@contextlib.contextmanager
def _exit_notice(process: ChildProcess, notify: Callable[[], None]) -> Iterator[bool]:
    """Call `notify` once, when `process` exits; whether it can (not without a pidfd, or
    for a process reaped already: polling sees those exits)."""
    if process.returncode is not None or not hasattr(os, "pidfd_open"):
        yield False
        return
    try:
        descriptor = os.pidfd_open(process.pid)
    except OSError:
        yield False
        return
    loop = asyncio.get_running_loop()

    def readable() -> None:
        loop.remove_reader(descriptor)  # once: it stays readable once the process ended
        notify()

    loop.add_reader(descriptor, readable)
    try:
        yield True
    finally:
        loop.remove_reader(descriptor)
        os.close(descriptor)


async def kill_process_tree(process: ChildProcess, grace_s: float) -> None:
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
    await _wait_group_gone(process.pid, grace_s)


def _descendants(process: ChildProcess) -> "list[psutil.Process]":
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


async def _wait_group_gone(group: int, grace_s: float) -> None:
    """Wait up to `grace_s` until no process is left in the group: one forked after the
    descendants were listed got the group's SIGKILL, yet nobody waited for it. The group
    is listed again (and killed again: a fork may still come) until it is empty. An
    empty group costs one `killpg(0)`, and no psutil."""
    deadline = time.monotonic() + grace_s
    while _group_exists(group):
        members = _group_members(group)
        _signal_all(group, members, signal.SIGKILL)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        if members:
            await _wait_procs(members, remaining)
        else:  # gone between the two looks: look again
            await asyncio.sleep(min(GROUP_POLL_S, remaining))


def _group_exists(group: int) -> bool:
    """Whether any process (a zombie not reaped yet included) is still in `group`."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # only members this user may not signal: nothing left to do
        return False
    return True


def _group_members(group: int) -> "list[psutil.Process]":
    """The processes in `group` now."""
    import psutil

    members = []
    for pid in psutil.pids():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(pid) == group:
                members.append(psutil.Process(pid))
    return members


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
