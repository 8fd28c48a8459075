"""Benchmark: launching runs one by one stays O(1) as the history grows.

A launch looks its workflow up (the files are parsed once and again only when their text
changes), asks the store whether the issue already has an active run of that workflow
(one indexed lookup), reads the issue and writes the run's first version. Measured: 100
launches, one after the other, on a database that already holds 100 runs and on one
that holds 10,000 (both built through the store's own API in this run), so the growth
shows as a ratio measured in the same minute.

The launched runs never execute: every slot is held by another (simulated) process, so
they wait in the queue, as they would behind a busy fleet, and the figure is the launch
alone.

Run: `uv run python -m bench.launch [--quick]`. Tables, then one JSON line.
"""

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from rich.table import Table

from adw_tui.config import load_settings
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.sample_repo import create_sample_repo
from adw_tui.store import Store
from adw_tui.store.leases import Holder, LeaseKind
from bench.common import Target, filesystem_of, print_report, quick_requested, targets_table

LAUNCHES = 100
SLOTS = 3
ELSEWHERE = Holder("another-host", 4242, 1.0)
TOTAL_S = 2.0
GROWTH = 1.5


async def history(store: Store, runs: int) -> None:
    """`runs` finished runs of one issue, as a year of work leaves them."""
    issue = await store.issues.create("An old issue", "done long ago")
    for number in range(runs):
        await store.create_run(
            {"adw_id": f"old{number:05d}", "issue_number": str(issue.number)},
            workflow="sdlc",
            issue=str(issue.number),
            actor="bench",
            status=RunStatus.SUCCEEDED,
        )


async def launches(directory: Path, existing: int) -> list[float]:
    """Seconds of each of LAUNCHES launches on a repository with `existing` runs."""
    repo = await create_sample_repo(directory / f"repo-{existing}")
    settings = load_settings(repo).model_copy(update={"engine": "sim", "max_concurrent": SLOTS})
    async with await Store.open(repo / "agents" / "adw_state.db", synchronous="NORMAL") as store:
        await history(store, existing)
        for number in range(SLOTS):
            await store.leases.take(LeaseKind.SLOT, f"far{number}", ELSEWHERE, limit=SLOTS)
        issues = [await store.issues.create(f"Feature {n}", "x") for n in range(LAUNCHES)]
        orchestrator = Orchestrator(store, repo, settings)
        times = []
        try:
            for issue in issues:
                started = time.perf_counter()
                await orchestrator.launch(issue.number, workflow="plan")
                times.append(time.perf_counter() - started)
        finally:
            await orchestrator.aclose()
    return times


async def measure(directory: Path, large: int) -> dict[str, dict[str, float]]:
    figures = {}
    for existing in (100, large):
        times = await launches(directory, existing)
        figures[str(existing)] = {
            "total_s": sum(times),
            "p50_ms": statistics.median(times) * 1000,
            "first_10_ms": sum(times[:10]) / 10 * 1000,
            "last_10_ms": sum(times[-10:]) / 10 * 1000,
        }
    return figures


def main() -> None:
    large = 2000 if quick_requested(__doc__, "2,000 runs instead of 10,000") else 10_000
    with tempfile.TemporaryDirectory(prefix="adw-bench-") as name:
        figures = asyncio.run(measure(Path(name), large))
        filesystem = filesystem_of(Path(name))
    table = Table(title=f"{LAUNCHES} launches one by one ({filesystem})")
    for column in ("runs in the database", "total s", "p50 ms", "first 10 ms", "last 10 ms"):
        table.add_column(column)
    for existing, figure in figures.items():
        table.add_row(
            f"{int(existing):,}",
            f"{figure['total_s']:.2f}",
            f"{figure['p50_ms']:.1f}",
            f"{figure['first_10_ms']:.1f}",
            f"{figure['last_10_ms']:.1f}",
        )
    big, small = figures[str(large)], figures["100"]
    growth = big["total_s"] / small["total_s"]
    checks = [
        Target(
            f"{LAUNCHES} launches at {large:,} runs",
            f"<= {TOTAL_S:g} s",
            f"{big['total_s']:.2f} s",
            big["total_s"] <= TOTAL_S,
        ),
        Target(
            f"{large:,} runs / 100 runs",
            f"<= {GROWTH:g}",
            f"{growth:.2f}",
            growth <= GROWTH,
        ),
    ]
    print_report(
        [table, targets_table(checks)],
        {
            "bench": "launch",
            "launches": LAUNCHES,
            "filesystem": filesystem,
            "runs": figures,
            "growth_ratio": growth,
            "targets_met": all(check.met for check in checks),
        },
    )


if __name__ == "__main__":
    main()
