"""The resource manager's queue, memory gate and rate limits, and process-tree memory
measured on real subprocesses."""

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable

import psutil
import pytest

from adw_tui.agents.process import kill_process_tree
from adw_tui.runtime.memory import ProcessTreeMemory, watch_memory
from adw_tui.runtime.resources import ResourceManager, ResourceSnapshot
from adw_tui.store import Store
from tests.store.test_leases import NEIGHBOUR

POLL_S = 0.01
MB = 1024 * 1024
# The child is orphaned when its parent dies; here PID 1 reaps orphans late, and
# kill_process_tree waits up to the grace for them.
KILL_GRACE_S = 0.2
# A parent and its child each touch 40 MB (b"x" * n writes every page, unlike bytes(n))
# and say "ready" on the shared stdout, then sleep until killed.
# Each says "ready\n" in one write of the pipe they share (atomic, under PIPE_BUF bytes):
# print() writes the text and its newline apart, and two processes' lines interleave.
TREE_SCRIPT = """
import os, subprocess, sys, time
child = "import os, time; data = b'c' * (40 << 20); os.write(1, b'ready\\\\n'); time.sleep(60)"
subprocess.Popen([sys.executable, "-c", child])
data = b"p" * (40 << 20)
os.write(1, b"ready\\n")
time.sleep(60)
"""


class Memory:
    """A memory probe reporting whatever percentage the test sets."""

    def __init__(self, percent: float = 0.0) -> None:
        self.percent = percent
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.percent


def make_manager(
    store: Store,
    max_concurrent: int = 5,
    *,
    memory: Memory | None = None,
    rate_limits: dict[str, tuple[float, float]] | None = None,
) -> ResourceManager:
    """A manager with a 90% memory limit and a probe reporting 0% unless a test says otherwise."""
    return ResourceManager(
        store.leases,
        max_concurrent=max_concurrent,
        memory_limit_percent=90.0,
        memory_poll_s=POLL_S,
        rate_limits=rate_limits,
        memory_probe=memory or Memory(),
    )


async def until(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - polls state owned by other tasks
            await asyncio.sleep(0.002)


class Runs:
    """Runs that each hold their slot until released, recording the order they entered."""

    def __init__(self, manager: ResourceManager) -> None:
        self.manager = manager
        self.entered: list[str] = []
        self.inside: set[str] = set()
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._release: dict[str, asyncio.Event] = {}

    def start(self, *adw_ids: str) -> None:
        for adw_id in adw_ids:
            self._release[adw_id] = asyncio.Event()
            self.tasks[adw_id] = asyncio.create_task(self._run(adw_id))

    async def release(self, *adw_ids: str) -> None:
        for adw_id in adw_ids:
            self._release[adw_id].set()
        await asyncio.gather(*(self.tasks[adw_id] for adw_id in adw_ids))

    async def _run(self, adw_id: str) -> None:
        async with self.manager.slot(adw_id):
            self.entered.append(adw_id)
            self.inside.add(adw_id)
            try:
                await self._release[adw_id].wait()
            finally:
                self.inside.discard(adw_id)

    def cancel_all(self) -> None:
        for task in self.tasks.values():
            task.cancel()


@pytest.fixture
async def runs(store: Store) -> AsyncIterator[Runs]:
    held = Runs(make_manager(store))
    yield held
    held.cancel_all()
    await asyncio.gather(*held.tasks.values(), return_exceptions=True)


def ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{index}" for index in range(count)]


async def test_twenty_runs_share_five_slots_in_fifo_order(store: Store) -> None:
    manager = make_manager(store, 5)
    entered: list[str] = []
    inside = 0
    most_inside = 0

    async def run(adw_id: str) -> None:
        nonlocal inside, most_inside
        async with manager.slot(adw_id):
            entered.append(adw_id)
            inside += 1
            most_inside = max(most_inside, inside)
            # Long enough for five grants, each a write transaction on the database.
            await asyncio.sleep(0.1)
            inside -= 1

    names = ids("run", 20)
    await asyncio.gather(*(run(name) for name in names))

    assert most_inside == 5
    assert entered == names
    assert manager.snapshot() == ResourceSnapshot(
        slots_total=5,
        slots_used=0,
        running=[],
        queued=[],
        waiting_for_memory=[],
        memory_percent=0.0,
    )


async def test_queue_positions_follow_the_queue(runs: Runs) -> None:
    manager = runs.manager
    runs.start(*ids("r", 5))
    await until(lambda: len(runs.inside) == 5)
    runs.start("q0", "q1", "q2")
    await until(lambda: len(manager.snapshot().queued) == 3)

    assert [manager.queue_position(name) for name in ("q0", "q1", "q2")] == [1, 2, 3]
    assert manager.queue_position("r0") is None
    assert manager.queue_position("unknown") is None
    snapshot = manager.snapshot()
    assert snapshot.running == ids("r", 5)
    assert snapshot.queued == ["q0", "q1", "q2"]
    assert snapshot.slots_used == 5

    await runs.release("r0")
    await until(lambda: "q0" in runs.inside)
    assert manager.queue_position("q0") is None
    assert [manager.queue_position(name) for name in ("q1", "q2")] == [1, 2]


async def test_a_cancelled_waiter_leaves_the_queue_and_leaks_no_slot(runs: Runs) -> None:
    manager = runs.manager
    holders = ids("r", 5)
    runs.start(*holders)
    await until(lambda: len(runs.inside) == 5)
    runs.start("w0", "w1", "w2")
    await until(lambda: len(manager.snapshot().queued) == 3)

    runs.tasks["w1"].cancel()
    with pytest.raises(asyncio.CancelledError):
        await runs.tasks["w1"]
    assert manager.snapshot().queued == ["w0", "w2"]
    assert manager.queue_position("w2") == 2

    await runs.release(*holders)
    await until(lambda: runs.inside == {"w0", "w2"})
    await runs.release("w0", "w2")
    assert manager.snapshot().slots_used == 0

    runs.start(*ids("after", 5))
    await until(lambda: len(runs.inside) == 5)
    assert manager.snapshot().slots_used == 5


async def test_a_waiter_cancelled_just_after_its_grant_gives_the_slot_back(store: Store) -> None:
    manager = make_manager(store, 1)
    holder = manager.slot("holder")
    await holder.__aenter__()
    waiter = asyncio.create_task(manager.slot("waiter").__aenter__())
    await until(lambda: manager.queue_position("waiter") == 1)

    # The cancel lands the moment the slot is granted, before the waiter resumes.
    def cancel_on_grant(snapshot: ResourceSnapshot) -> None:
        if snapshot.running == ["waiter"]:
            waiter.cancel()

    manager.on_change.append(cancel_on_grant)
    await holder.__aexit__(None, None, None)
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert waiter.cancelled()

    assert manager.snapshot().slots_used == 0
    async with asyncio.timeout(1), manager.slot("next"):
        assert manager.snapshot().running == ["next"]


async def test_growing_the_slot_count_starts_waiting_runs(runs: Runs) -> None:
    manager = runs.manager
    manager.set_max_concurrent(2)
    runs.start(*ids("r", 5))
    await until(lambda: len(runs.inside) == 2)

    manager.set_max_concurrent(4)

    await until(lambda: len(runs.inside) == 4)
    assert runs.entered == ids("r", 4)
    assert manager.snapshot().slots_total == 4
    assert manager.snapshot().queued == ["r4"]


async def test_shrinking_the_slot_count_waits_for_running_runs(runs: Runs) -> None:
    manager = runs.manager
    manager.set_max_concurrent(4)
    runs.start(*ids("r", 4), "q")
    await until(lambda: len(runs.inside) == 4)

    manager.set_max_concurrent(2)
    snapshot = manager.snapshot()
    assert (snapshot.slots_total, snapshot.slots_used, snapshot.queued) == (2, 4, ["q"])

    await runs.release("r0", "r1")
    assert manager.snapshot().queued == ["q"]
    await runs.release("r2")
    await until(lambda: "q" in runs.inside)
    assert manager.snapshot().running == ["r3", "q"]

    with pytest.raises(ValueError, match="at least 1"):
        manager.set_max_concurrent(0)


async def test_slots_held_by_another_process_count_against_the_limit(store: Store) -> None:
    """Another process of this host: the limit is the host's."""
    here = make_manager(store, 2)
    elsewhere = Runs(ResourceManager(store.leases, max_concurrent=2, holder=NEIGHBOUR))
    elsewhere.start("far0", "far1")
    await until(lambda: len(elsewhere.inside) == 2)
    mine = Runs(here)
    mine.start("near")
    await until(lambda: here.snapshot().waiting_for_other_processes == ["near"])
    assert here.snapshot().running == []

    await elsewhere.release("far0")
    await until(lambda: mine.inside == {"near"})
    assert here.snapshot().waiting_for_other_processes == []
    await mine.release("near")
    await elsewhere.release("far1")


async def test_high_memory_holds_runs_back_without_taking_a_slot(store: Store) -> None:
    memory = Memory(95.0)
    manager = make_manager(store, 5, memory=memory)
    changes: list[ResourceSnapshot] = []
    manager.on_change.append(changes.append)
    entered: list[str] = []

    async def run(adw_id: str) -> None:
        async with manager.slot(adw_id):
            entered.append(adw_id)

    first = asyncio.create_task(run("a"))
    await until(lambda: manager.snapshot().waiting_for_memory == ["a"])
    second = asyncio.create_task(run("b"))
    await until(lambda: manager.snapshot().queued == ["a", "b"])

    snapshot = manager.snapshot()
    assert snapshot.waiting_for_memory == ["a", "b"]
    assert (snapshot.slots_used, snapshot.running) == (0, [])
    assert snapshot.memory_percent == 95.0
    assert manager.queue_position("a") == 1
    calls = memory.calls
    await until(lambda: memory.calls >= calls + 2)  # the head keeps polling
    assert entered == []

    memory.percent = 50.0
    async with asyncio.timeout(1):
        await asyncio.gather(first, second)
    assert entered == ["a", "b"]
    assert any(change.waiting_for_memory == ["a"] for change in changes)
    assert changes[-1].waiting_for_memory == []
    assert changes[-1].memory_percent == 50.0


async def test_a_failing_listener_does_not_keep_a_slot(store: Store) -> None:
    manager = make_manager(store, 1)

    def broken(_: ResourceSnapshot) -> None:
        raise RuntimeError("listener bug")

    manager.on_change.append(broken)
    for _ in range(2):
        async with manager.slot("run"):
            pass
    assert manager.snapshot().slots_used == 0


async def test_rate_limits_apply_per_service(store: Store) -> None:
    manager = make_manager(store, rate_limits={"claude": (5, 0.5)})

    waits: list[float] = []

    async def acquire(service: str) -> None:
        async with manager.rate_limit(service, on_wait=waits.append):
            pass

    started = time.monotonic()
    await asyncio.gather(*(acquire("claude") for _ in range(10)))
    limited_s = time.monotonic() - started
    assert waits  # the calls past the fifth were told how long they wait
    assert all(0 < wait <= 0.5 for wait in waits)
    waits.clear()

    started = time.monotonic()
    await asyncio.gather(*(acquire("github") for _ in range(100)))
    unlimited_s = time.monotonic() - started

    assert limited_s >= 0.45
    assert unlimited_s < 0.1
    assert waits == []


@pytest.fixture
async def process_tree() -> AsyncIterator[asyncio.subprocess.Process]:
    """A parent and a child process holding 40 MB each, both ready when yielded."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        TREE_SCRIPT,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(5):
            for _ in range(2):
                assert await process.stdout.readline() == b"ready\n"
        yield process
    finally:
        await kill_process_tree(process, grace_s=KILL_GRACE_S)


async def test_process_tree_memory_counts_descendants(
    process_tree: asyncio.subprocess.Process,
) -> None:
    total = ProcessTreeMemory(process_tree.pid).rss_bytes()
    parent_only = psutil.Process(process_tree.pid).memory_info().rss

    assert total >= 80 * MB
    assert total - parent_only >= 40 * MB


async def test_watch_memory_reports_a_tree_over_its_limit(
    process_tree: asyncio.subprocess.Process,
) -> None:
    observed: list[int] = []

    async def stop(rss_bytes: int) -> None:
        observed.append(rss_bytes)
        await kill_process_tree(process_tree, grace_s=KILL_GRACE_S)

    async with asyncio.timeout(3):
        await watch_memory(process_tree.pid, 10 * MB, POLL_S, stop)

    assert len(observed) == 1
    assert observed[0] > 10 * MB
    assert process_tree.returncode is not None


async def test_watch_memory_returns_when_the_process_exits() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(0.2)"
    )
    observed: list[int] = []

    async with asyncio.timeout(5):
        await watch_memory(process.pid, 1 << 40, POLL_S, observed.append)
        await process.wait()

    assert observed == []
    assert ProcessTreeMemory(process.pid).rss_bytes() == 0
