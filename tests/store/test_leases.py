"""Leases in a real database: limits count every holder of a host (each host has its
own), dead and stale holders are reclaimed, a holder releases only its own, and calls are
admitted per sliding window."""

import os
import subprocess
import sys

import psutil

from adw_tui.store import Store
from adw_tui.store.leases import Holder, LeaseKind
from tests.conftest import raw_execute

SLOT = LeaseKind.SLOT
HERE = Holder.this_process()
ELSEWHERE = Holder("another-host", 4242, 1.0)  # alive while its heartbeat is fresh
# Another live process of this host: the one that started this test's process.
NEIGHBOUR = Holder(HERE.host, os.getppid(), psutil.Process(os.getppid()).create_time())


def exited_process() -> Holder:
    """A holder for a real process of this host that has since exited."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    holder = Holder(HERE.host, child.pid, psutil.Process(child.pid).create_time())
    child.communicate(b"")
    return holder


async def age_heartbeats(store: Store) -> None:
    await raw_execute(store, "UPDATE leases SET heartbeat_at = 0")


async def test_the_limit_counts_every_holder_of_the_host(store: Store) -> None:
    leases = store.leases
    assert await leases.take(SLOT, "r1", HERE, limit=2) == 0
    assert await leases.take(SLOT, "r2", NEIGHBOUR, limit=2) == 1
    assert await leases.take(SLOT, "r3", HERE, limit=2) is None
    assert await leases.take(SLOT, "r1", HERE, limit=2) == 0  # already held: the same
    assert await leases.take(LeaseKind.PORTS, "r3", HERE, limit=2) == 0  # kinds apart
    assert await leases.take(SLOT, "r4", ELSEWHERE, limit=2) == 0  # its host's own
    assert [(lease.adw_id, lease.holder) for lease in await leases.list(SLOT)] == [
        ("r1", HERE),
        ("r4", ELSEWHERE),
        ("r2", NEIGHBOUR),
    ]


async def test_a_runs_lease_moves_with_it_to_another_host(store: Store) -> None:
    """A run taken over on another host (its worker there died) takes its lease along."""
    assert await store.leases.take(SLOT, "moved", ELSEWHERE, limit=1) == 0
    assert await store.leases.take(SLOT, "moved", HERE, limit=1) == 0
    assert [(lease.adw_id, lease.holder) for lease in await store.leases.list(SLOT)] == [
        ("moved", HERE)
    ]


async def test_a_lease_of_a_process_that_died_is_reclaimed(store: Store) -> None:
    dead = exited_process()
    assert await store.leases.take(SLOT, "orphan", dead, limit=1) == 0
    assert await store.leases.take(SLOT, "next", HERE, limit=1) == 0
    assert [lease.adw_id for lease in await store.leases.list(SLOT)] == ["next"]
    [entry] = [e for e in await store.audit.entries() if e.action == "slot.reclaim"]
    assert (entry.adw_id, entry.detail["pid"]) == ("orphan", dead.pid)


async def test_a_reused_pid_is_not_taken_for_the_holder(store: Store) -> None:
    impostor = Holder(HERE.host, HERE.pid, HERE.started - 100)  # same pid, other start
    assert await store.leases.take(SLOT, "old", impostor, limit=1) == 0
    assert await store.leases.take(SLOT, "new", HERE, limit=1) == 0


async def test_another_hosts_holder_is_stale_without_heartbeats(store: Store) -> None:
    assert await store.leases.take(SLOT, "far", ELSEWHERE, limit=1) == 0
    await age_heartbeats(store)
    await store.leases.heartbeat(ELSEWHERE)
    assert await store.leases.take(SLOT, "near", HERE, limit=1) == 0
    assert {lease.adw_id for lease in await store.leases.list(SLOT)} == {"far", "near"}
    await age_heartbeats(store)
    await store.leases.heartbeat(HERE)
    assert await store.leases.take(SLOT, "near", HERE, limit=1) == 0  # reclaims the stale
    assert [lease.adw_id for lease in await store.leases.list(SLOT)] == ["near"]


async def test_a_holder_releases_only_its_own_lease(store: Store) -> None:
    await store.leases.take(SLOT, "r1", ELSEWHERE, limit=3)
    await store.leases.release(SLOT, "r1", HERE)
    assert [lease.adw_id for lease in await store.leases.list(SLOT)] == ["r1"]
    await store.leases.release(SLOT, "r1", ELSEWHERE)
    assert await store.leases.list(SLOT) == []


async def test_calls_are_admitted_per_sliding_window(store: Store) -> None:
    waits = [await store.leases.admit_call("claude", 3, 10.0) for _ in range(3)]
    assert waits == [0.0, 0.0, 0.0]
    wait_s = await store.leases.admit_call("claude", 3, 10.0)
    assert 9.0 < wait_s <= 10.0  # until the first of the three leaves the window
    assert await store.leases.admit_call("github", 3, 10.0) == 0.0
    assert await store.leases.admit_call("claude", 3, 0.001) == 0.0  # old calls expire
