"""Benchmark: what a slot, a port pair and a rate-limited call cost now that they are
leases in the database, against the in-process primitives they replace, in one run.

- slot: `ResourceManager.slot()` (a read, then one BEGIN IMMEDIATE transaction to take
  the lease; another to give it back) against `asyncio.Semaphore`, the per-process limit
  it replaces. Measured as the time to enter and leave an uncontended slot.
- ports: `PortAllocator.allocate` + `release` (the same two transactions, plus the bind
  check of two ports) against the bind check alone.
- rate: `rate_limit()` of a configured service under its limit (one transaction) against
  a service with no limit.
- poll: the read a process makes while every slot is held elsewhere (no write lock).

A run's admission costs this once per run and once per agent call, against runs that take
minutes. The disk sets what a write transaction costs (fsync), so the target is a ratio
to one write transaction of the same store in the same run (an audit entry): a slot is two
write transactions, the first reading every lease (to clear dead holders) before its
insert, and a task hop to the dispatcher, so at most 4 of them.

Run: `uv run python -m bench.admission [--quick]`. Tables, then one JSON line.
"""

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.table import Table

from adw_tui.runtime.ports import PortAllocator, port_is_free
from adw_tui.runtime.resources import ResourceManager
from adw_tui.store import Store
from adw_tui.store.leases import Holder, LeaseKind
from bench.common import Target, filesystem_of, print_report, quick_requested, targets_table

ELSEWHERE = Holder("another-host", 4242, 1.0)
SLOT_RATIO = 4.0


async def timed(operation: Callable[[int], Awaitable[object]], count: int) -> list[float]:
    """Milliseconds of each of `count` calls of `operation(index)`, in turn."""
    times = []
    for index in range(count):
        started = time.perf_counter()
        await operation(index)
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(directory: Path, count: int) -> dict[str, dict[str, float]]:
    async with await Store.open(directory / "adw_state.db") as store:
        manager = ResourceManager(
            store.leases, max_concurrent=3, rate_limits={"claude": (count * 10, 60.0)}
        )
        semaphore = asyncio.Semaphore(3)
        ports = PortAllocator(store.leases, 41100, 41200, 15)

        async def slot(index: int) -> None:
            async with manager.slot(f"run{index}"):
                pass

        async def semaphore_slot(_: int) -> None:
            async with semaphore:
                pass

        async def pair(index: int) -> None:
            await ports.allocate(f"run{index}")
            await ports.release(f"run{index}")

        async def bind_check(index: int) -> None:
            port_is_free(41100 + index % 15)
            port_is_free(41200 + index % 15)

        async def one_write(index: int) -> None:
            await store.audit.record(actor="bench", action="bench.write", adw_id=f"run{index}")

        async def limited(_: int) -> None:
            async with manager.rate_limit("claude"):
                pass

        async def unlimited(_: int) -> None:
            async with manager.rate_limit("github"):
                pass

        for number in range(3):
            await store.leases.take(LeaseKind.SLOT, f"far{number}", ELSEWHERE, limit=3)

        async def poll(index: int) -> None:
            await store.leases.may_take(LeaseKind.SLOT, f"near{index}", limit=3)

        await store.leases.release(LeaseKind.SLOT, "none", ELSEWHERE)  # warm the writer
        pairs = {
            "slot": (await timed(slot, count), await timed(semaphore_slot, count)),
            "ports": (await timed(pair, count), await timed(bind_check, count)),
            "rate": (await timed(limited, count), await timed(unlimited, count)),
        }
        polls = await timed(poll, count)
        writes = await timed(one_write, count)
    figures = {
        name: {
            "p50_ms": statistics.median(times),
            "p99_ms": percentile(times, 0.99),
            "baseline_p50_ms": statistics.median(baseline),
            "extra_p50_ms": statistics.median(times) - statistics.median(baseline),
        }
        for name, (times, baseline) in pairs.items()
    }
    for name, times in (("poll", polls), ("write", writes)):
        figures[name] = {"p50_ms": statistics.median(times), "p99_ms": percentile(times, 0.99)}
    return figures


def main() -> None:
    count = 200 if quick_requested(__doc__, "200 calls each instead of 1,000") else 1000
    with tempfile.TemporaryDirectory(prefix="adw-bench-") as name:
        directory = Path(name)
        figures = asyncio.run(measure(directory, count))
        filesystem = filesystem_of(directory)
    table = Table(title=f"Admission through the database ({count} calls each, {filesystem})")
    for column in ("what", "p50 ms", "p99 ms", "baseline p50 ms", "baseline"):
        table.add_column(column)
    baselines = {
        "slot": "asyncio.Semaphore",
        "ports": "bind check only",
        "rate": "unlimited service",
        "poll": "",
        "write": "one write transaction",
    }
    for name, figure in figures.items():
        table.add_row(
            name,
            f"{figure['p50_ms']:.3f}",
            f"{figure['p99_ms']:.3f}",
            f"{figure['baseline_p50_ms']:.3f}" if "baseline_p50_ms" in figure else "",
            baselines[name],
        )
    slot_ratio = figures["slot"]["p50_ms"] / figures["write"]["p50_ms"]
    checks = [
        Target(
            "slot enter+leave p50 / one write transaction p50",
            f"<= {SLOT_RATIO:g}",
            f"{slot_ratio:.2f}",
            slot_ratio <= SLOT_RATIO,
        ),
        Target(
            "poll while held elsewhere",
            "< a slot's p50 (no write)",
            f"{figures['poll']['p50_ms']:.3f} ms",
            figures["poll"]["p50_ms"] < figures["slot"]["p50_ms"],
        ),
    ]
    print_report(
        [table, targets_table(checks)],
        {
            "bench": "admission",
            "calls": count,
            "filesystem": filesystem,
            **figures,
            "slot_to_write_ratio": slot_ratio,
            "targets_met": all(check.met for check in checks),
        },
    )


if __name__ == "__main__":
    main()
