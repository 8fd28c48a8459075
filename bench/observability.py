"""Benchmark: what the observability layer costs a batch of runs.

A batch is 20 simulated `plan` runs of 20 issues on the demo's sample repository, 15 at
a time, in one process, timed from the first launch to the last run's end. The same
batch runs twice per round, each in a fresh process (logging is process-wide):
- off: no logging configured (the runtime's log listener finds nothing enabled);
- on: what `adw webhook` has: structured logs to `agents/adw.log` and JSON lines on
  stderr (to /dev/null here), traces to `agents/traces.jsonl` (a span per run, step,
  agent call, git, worktree and tracker call), and the status API's `/metrics` scraped
  every second during the batch, as Prometheus would.
Rounds alternate (off, on, off, on, ...); the figure is the median of the rounds'
ratios. Target: on / off <= 1.05.

Run: `uv run python -m bench.observability [--quick]`. A table, then one JSON line.
"""

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from rich.table import Table

from adw_tui.config import load_settings
from adw_tui.observability.logs import configure_logging
from adw_tui.observability.server import listen, status_app
from adw_tui.observability.status import store_status
from adw_tui.observability.traces import configure_tracing
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.sample_repo import create_sample_repo
from adw_tui.store import Store
from bench.common import Target, print_report, targets_table

RUNS = 20
RATIO_BAR = 1.05
SCRAPE_EVERY_S = 1.0


async def batch(directory: Path, observed: bool) -> float:
    """Seconds for the batch; with `observed`, logs on and `/metrics` scraped."""
    repo = await create_sample_repo(directory / "repo")
    settings = load_settings(repo).model_copy(update={"engine": "sim", "max_concurrent": 15})
    provider = None
    if observed:
        configure_logging(repo / "agents", "daemon")
        provider = configure_tracing(repo / "agents", {})
    async with (
        await Store.open(repo / "agents" / "adw_state.db") as store,
        Orchestrator(store, repo, settings) as orchestrator,
    ):
        issues = [await store.issues.create(f"Issue {n}", "Add a helper.") for n in range(RUNS)]
        scraper = None
        if observed:
            runner, address = await listen(
                status_app(store, lambda: store_status(store)), "127.0.0.1", 0
            )
            scraper = asyncio.create_task(_scrape(f"http://{address}/metrics"))
        started = time.perf_counter()
        launched = [await orchestrator.launch(issue.number, workflow="plan") for issue in issues]
        for adw_id in launched:
            await orchestrator.wait(adw_id)
        if provider is not None:
            provider.shutdown()  # the last spans written: inside the figure
        elapsed = time.perf_counter() - started
        if scraper is not None:
            scraper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scraper
            await runner.cleanup()
        return elapsed


async def _scrape(url: str) -> None:
    async with httpx.AsyncClient() as client:
        while True:
            (await client.get(url)).raise_for_status()
            await asyncio.sleep(SCRAPE_EVERY_S)


def _child(mode: str, directory: str) -> None:
    seconds = asyncio.run(batch(Path(directory), observed=mode == "on"))
    print(json.dumps({"seconds": seconds}))


def _round(mode: str, root: Path, number: int) -> float:
    directory = root / f"{mode}-{number}"
    directory.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "bench.observability", "--child", mode, str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {mode} batch failed: {done.stderr[-2000:]}")
    seconds: float = json.loads(done.stdout.splitlines()[-1])["seconds"]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one round, for a smoke test")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    rounds = 1 if args.quick else args.rounds
    started = time.perf_counter()
    times: dict[str, list[float]] = {"off": [], "on": []}
    with tempfile.TemporaryDirectory(prefix="adw-bench-observability-") as temp:
        for number in range(rounds):
            for mode in times:
                times[mode].append(_round(mode, Path(temp), number))
    ratios = [on / off for off, on in zip(times["off"], times["on"], strict=True)]
    ratio = statistics.median(ratios)
    table = Table(title=f"{RUNS} simulated plan runs, median of {rounds} rounds")
    for column in ("observability", "median s", "rounds s"):
        table.add_column(column)
    for mode, samples in times.items():
        table.add_row(
            mode, f"{statistics.median(samples):.2f}", ", ".join(f"{s:.2f}" for s in samples)
        )
    check = Target(
        "batch with logs and metrics / without",
        f"<= {RATIO_BAR}",
        f"{ratio:.3f} ({min(ratios):.3f}-{max(ratios):.3f})",
        ratio <= RATIO_BAR,
    )
    print_report(
        [table, targets_table([check])],
        {
            "bench": "observability",
            "runs": RUNS,
            "seconds": times,
            "ratio": round(ratio, 4),
            "ratios": [round(r, 4) for r in ratios],
            "targets_met": check.met,
            "elapsed_s": round(time.perf_counter() - started, 1),
        },
    )


if __name__ == "__main__":
    main()
