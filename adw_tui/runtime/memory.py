"""Memory, sampled with psutil: the system's, which gates new runs, and one agent's process
tree, which stops a run that outgrows its limit. psutil is imported at the first sample:
the commands and the dashboard import the runtime long before (if ever) taking one."""

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from adw_tui.domain.agent import AgentResult, ErrorClass

if TYPE_CHECKING:
    import psutil

ExceededHandler = Callable[[int], Awaitable[None] | None]


def system_memory_percent() -> float:
    """Percent of system memory in use (psutil's `virtual_memory().percent`)."""
    import psutil

    return psutil.virtual_memory().percent


class ProcessTreeMemory:
    """Resident memory of a process and all its descendants.

    The root's `psutil.Process` is kept from the start, so a pid the kernel hands to a new
    process after the agent exits is not mistaken for the agent (psutil compares creation
    times). Shared pages count once per process, as RSS does: an upper bound, which is the
    safe side for a limit, and far cheaper than USS (which reads every smaps file).
    """

    def __init__(self, pid: int) -> None:
        import psutil

        self.pid = pid
        self._root: psutil.Process | None
        try:
            self._root = psutil.Process(pid)
        except psutil.Error:
            self._root = None

    def sample(self) -> int | None:
        """RSS bytes of the tree, or None once the root has exited (or never existed).

        Descendants that exit while being measured are left out.
        """
        import psutil

        root = self._root
        if root is None or not _alive(root):
            return None
        try:
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return None
        return sum(_rss(process) for process in processes)

    def rss_bytes(self) -> int:
        """RSS bytes of the tree; 0 when the root is gone."""
        return self.sample() or 0


async def watch_memory(
    pid: int, limit_bytes: int, interval_s: float, on_exceeded: ExceededHandler
) -> None:
    """Sample the tree of `pid` every `interval_s`; the first time it holds more than
    `limit_bytes`, call `on_exceeded` with the observed bytes (awaiting it if it returns an
    awaitable) and return. Return quietly once the process is gone.

    Meant to run as a task beside an agent call; cancel it when the call ends. Sampling
    walks /proc, so it runs in a thread to keep the event loop free.
    """
    tree = await asyncio.to_thread(ProcessTreeMemory, pid)
    while (observed := await asyncio.to_thread(tree.sample)) is not None:
        if observed > limit_bytes:
            outcome = on_exceeded(observed)
            if outcome is not None:
                await outcome
            return
        await asyncio.sleep(interval_s)


def _alive(process: "psutil.Process") -> bool:
    import psutil

    # An exited child its parent has not reaped yet is a zombie: gone for our purposes.
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _rss(process: "psutil.Process") -> int:
    import psutil

    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0


class AgentMemoryGuard:
    """Stops an agent call whose process tree grows past its memory limit.

    Pass `watch` as the engine's `on_start` hook; after the call, `verdict` turns the
    engine's result into a `memory_limit` failure if the guard had to stop the agent.
    """

    def __init__(self, limit_bytes: int, interval_s: float) -> None:
        self._limit = limit_bytes
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None
        self.exceeded_bytes: int | None = None

    def watch(self, pid: int) -> None:
        def stop_tree(observed: int) -> None:
            self.exceeded_bytes = observed
            # The agent leads its own process group (it was started in a new session).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

        self._task = asyncio.ensure_future(
            watch_memory(pid, self._limit, self._interval, stop_tree)
        )

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def verdict(self, result: AgentResult) -> AgentResult:
        if self.exceeded_bytes is None:
            return result
        used, limit = self.exceeded_bytes // 2**20, self._limit // 2**20
        return result.model_copy(
            update={
                "success": False,
                "error_class": ErrorClass.MEMORY_LIMIT,
                "error_message": f"stopped: its processes used {used} MB, over the {limit} MB "
                "limit (ADW_AGENT_MEMORY_LIMIT_MB)",
            }
        )
