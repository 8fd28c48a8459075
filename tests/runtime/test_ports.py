"""PortAllocator: deterministic first choice, unique pairs across processes (leases in a
real database), real bind checks, exhaustion."""

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from adw_tui.runtime.ports import (
    PortAllocator,
    PortPair,
    PortsExhaustedError,
    port_is_free,
    write_ports_env,
)
from adw_tui.store import Store
from adw_tui.store.leases import Holder
from tests.store.test_leases import NEIGHBOUR

COUNT = 15


@pytest.fixture(scope="module")
def base_port() -> int:
    """The start of 2 * COUNT consecutive ports free on this machine (backend then
    frontend), so the tests never depend on what else listens on 9100-9214."""
    for start in range(21000, 60000, 2 * COUNT):
        if all(port_is_free(port) for port in range(start, start + 2 * COUNT)):
            return start
    pytest.fail("no block of free ports found")


# Another live process, on another host (alive while its heartbeat is fresh).
OTHER = Holder("another-host", 4242, 1.0)


@pytest.fixture
def allocator(store: Store, base_port: int) -> PortAllocator:
    return PortAllocator(store.leases, base_port, base_port + COUNT, COUNT)


@pytest.fixture
def listen() -> Iterator[list[socket.socket]]:
    """Bind listening sockets (`listen.append(bound(port))`), closed after the test."""
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()


def bound(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def run_id(index: int) -> str:
    """A hex run id whose first choice is pair `index`."""
    return f"{index:08x}"


def test_defaults_are_the_original_adw_ranges(store: Store) -> None:
    ports = PortAllocator(store.leases)
    assert (ports.pair(0), ports.pair(14)) == (PortPair(9100, 9200), PortPair(9114, 9214))
    assert ports.count == 15


async def test_first_choice_is_the_hex_id_modulo_count(
    allocator: PortAllocator, base_port: int
) -> None:
    assert allocator.first_choice("0000000a") == 10
    assert allocator.first_choice("ffffffff") == 0xFFFFFFFF % COUNT
    assert allocator.first_choice("not-hex") == allocator.first_choice("not-hex")
    assert await allocator.allocate("0000000a") == PortPair(base_port + 10, base_port + COUNT + 10)


async def test_allocation_is_deterministic_and_idempotent(store: Store, base_port: int) -> None:
    first = await PortAllocator(store.leases, base_port, base_port + COUNT, COUNT).allocate(
        "5e1f00d7"
    )
    second = PortAllocator(store.leases, base_port, base_port + COUNT, COUNT)
    assert await second.allocate("5e1f00d7") == first
    assert await second.allocate("5e1f00d7") == first
    assert await second.held() == {"5e1f00d7": first}


async def test_a_held_pair_is_skipped(allocator: PortAllocator) -> None:
    same_choice = [run_id(3), run_id(3 + COUNT)]
    pairs = [await allocator.allocate(adw_id) for adw_id in same_choice]
    assert pairs == [allocator.pair(3), allocator.pair(4)]


async def test_a_pair_another_process_holds_is_skipped(
    store: Store, allocator: PortAllocator, base_port: int
) -> None:
    neighbour = PortAllocator(store.leases, base_port, base_port + COUNT, COUNT, holder=NEIGHBOUR)
    elsewhere = PortAllocator(store.leases, base_port, base_port + COUNT, COUNT, holder=OTHER)
    assert await neighbour.allocate(run_id(3)) == allocator.pair(3)
    assert await allocator.allocate(run_id(3 + COUNT)) == allocator.pair(4)
    # Another host's ports are its own: the same pair there is no conflict here.
    assert await elsewhere.allocate(run_id(3 + 2 * COUNT)) == allocator.pair(3)
    await allocator.release(run_id(3))  # not this process's lease: nothing happens
    assert await allocator.held() == {
        run_id(3): allocator.pair(3),
        run_id(3 + COUNT): allocator.pair(4),
        run_id(3 + 2 * COUNT): allocator.pair(3),
    }


@pytest.mark.parametrize("side", ["backend", "frontend"])
async def test_a_port_bound_by_someone_else_is_skipped(
    allocator: PortAllocator, listen: list[socket.socket], side: str
) -> None:
    listen.append(bound(getattr(allocator.pair(5), side)))
    assert await allocator.allocate(run_id(5)) == allocator.pair(6)


async def test_probing_wraps_around(allocator: PortAllocator, listen: list[socket.socket]) -> None:
    listen.append(bound(allocator.pair(COUNT - 1).backend))
    assert await allocator.allocate(run_id(COUNT - 1)) == allocator.pair(0)


async def test_fifteen_concurrent_runs_get_distinct_pairs(allocator: PortAllocator) -> None:
    ids = [run_id(7 + n * COUNT) for n in range(COUNT)]  # all want pair 7 first
    pairs = await asyncio.gather(*(allocator.allocate(i) for i in ids))
    assert sorted(pairs, key=lambda p: p.backend) == [allocator.pair(i) for i in range(COUNT)]


async def test_exhaustion_is_a_clear_error(
    store: Store, base_port: int, listen: list[socket.socket]
) -> None:
    allocator = PortAllocator(store.leases, base_port, base_port + COUNT, 3)
    await allocator.allocate(run_id(0))
    await allocator.allocate(run_id(1))
    listen.append(bound(allocator.pair(2).frontend))
    with pytest.raises(PortsExhaustedError) as caught:
        await allocator.allocate("0000abcd")
    fe = base_port + COUNT
    assert str(caught.value) == (
        f"no free port pair for run 0000abcd: all 3 are taken ("
        f"{base_port + 1}/{fe + 1} held by run 00000001, {base_port + 2}/{fe + 2} in use, "
        f"{base_port}/{fe} held by run 00000000); wait for a run to finish, stop what "
        "holds the ports, or configure more pairs"
    )


async def test_release_then_reuse(allocator: PortAllocator) -> None:
    first = await allocator.allocate(run_id(2))
    assert await allocator.allocate(run_id(2 + COUNT)) != first
    await allocator.release(run_id(2))
    await allocator.release("never-allocated")
    assert await allocator.allocate(run_id(2 + 2 * COUNT)) == first


def test_overlapping_ranges_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="overlap"):
        PortAllocator(store.leases, 9100, 9110, 15)
    with pytest.raises(ValueError, match="at least 1"):
        PortAllocator(store.leases, count=0)


def test_write_ports_env(tmp_path: Path) -> None:
    path = write_ports_env(tmp_path, PortPair(9103, 9203))
    assert path == tmp_path / ".ports.env"
    assert path.read_text() == (
        "BACKEND_PORT=9103\nFRONTEND_PORT=9203\nVITE_BACKEND_URL=http://localhost:9103\n"
    )
