"""Benchmark: `adw kpis` over 100,000 recorded agent calls, and how it grows with the data.

Two databases, built once and cached (`bench/fixtures.py`): 1,000 and 10,000 finished
runs made through the store's own API (workflows, model sets, issue classes and
statuses in turn), each with ten agent calls recorded as the store records them (one
in seven failed, with an error class), written in one transaction per thousand after
the runs: 10,000 and 100,000 calls. Measured: `adw --db DB kpis` and `adw --db DB kpis
--json`, stdout to /dev/null, the median of `--repeats` starts, sizes alternating.
Target: at most 1 s each at 100,000 calls; the ratio to 10,000 (the growth with ten
times the data) is reported beside it.

Run: `uv run python -m bench.kpis [--quick]`. Tables, then one JSON line.
"""

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import cycle
from pathlib import Path

from rich.table import Table

from adw_tui.domain.models import RunStatus
from adw_tui.store import Store
from bench.cli import ADW, Commands, time_alternating
from bench.common import Target, print_report, targets_table
from bench.fixtures import cached_database, copy_database

GENERATION = 1
CALLS_PER_RUN = 10
WORKFLOWS = ("sdlc", "plan_build", "patch", "plan")
STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SUCCEEDED, RunStatus.DEAD_LETTERED)
CLASSES = ("/feature", "/bug", "/chore")
STEPS = ("classify", "plan", "implement", "test", "review")
ENGINES = ("claude", "codex", "gemini")
BAR_S = 1.0


async def create_history(path: Path, runs: int) -> None:
    async with await Store.open(path, synchronous="NORMAL") as store:
        for number, workflow, status, issue_class in zip(
            range(runs), cycle(WORKFLOWS), cycle(STATUSES), cycle(CLASSES)
        ):
            model_set = "heavy" if number % 5 == 0 else "base"
            await store.create_run(
                {"adw_id": f"{number:08x}", "issue_class": issue_class, "model_set": model_set},
                workflow=workflow,
                actor="bench",
                status=status,
            )
    _record_calls(path, runs)


def _record_calls(path: Path, runs: int) -> None:
    """Ten finished agent calls per run, as `StepAttempts` writes them."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    connection = sqlite3.connect(path)
    try:
        for first in range(0, runs, 1000):
            rows = []
            for number in range(first, min(first + 1000, runs)):
                for call in range(CALLS_PER_RUN):
                    began = start + timedelta(minutes=number, seconds=call * 5)
                    failed = (number + call) % 7 == 0
                    rows.append(
                        (
                            f"{number:08x}",
                            STEPS[call % len(STEPS)],
                            call // len(STEPS) + 1,
                            1,
                            "agent",
                            ENGINES[number % len(ENGINES)],
                            "sonnet",
                            "failed" if failed else "succeeded",
                            began.isoformat(timespec="microseconds"),
                            (began + timedelta(seconds=4)).isoformat(timespec="microseconds"),
                            0.01,
                            1200,
                            300,
                            4000,
                            "rate_limit" if failed else None,
                        )
                    )
            with connection:
                connection.executemany(
                    "INSERT INTO step_attempts (adw_id, step, visit, attempt, agent, engine, "
                    "model, status, started_at, finished_at, cost_usd, input_tokens, "
                    "output_tokens, duration_ms, error_class) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one start of each, for a smoke test")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    started = time.perf_counter()
    sizes = {"10k": 1_000, "100k": 10_000}
    with tempfile.TemporaryDirectory(prefix="adw-bench-kpis-") as temp:
        root = Path(temp)
        argvs: dict[str, tuple[Sequence[str], Path]] = {}
        for label, runs in sizes.items():
            cached, _ = cached_database(
                f"kpis-{runs}-gen{GENERATION}.db", partial(create_history, runs=runs)
            )
            db = copy_database(cached, root / label / "adw_state.db")
            argvs[f"kpis {label}"] = ([str(ADW), "--db", str(db), "kpis"], root)
            argvs[f"kpis --json {label}"] = ([str(ADW), "--db", str(db), "kpis", "--json"], root)
        timings = time_alternating(Commands(root), argvs, repeats)
    table = Table(title=f"adw kpis, median of {repeats} starts")
    for column in ("command", "agent calls", "median s", "vs 10k"):
        table.add_column(column)
    checks = []
    growth: dict[str, float] = {}
    for command in ("kpis", "kpis --json"):
        small, large = timings[f"{command} 10k"], timings[f"{command} 100k"]
        growth[command] = large.median_s / small.median_s
        table.add_row(command, "10,000", f"{small.median_s:.3f}", "1.00")
        table.add_row(command, "100,000", f"{large.median_s:.3f}", f"{growth[command]:.2f}")
        checks.append(
            Target(
                f"adw {command}, 100,000 calls",
                f"<= {BAR_S:g} s",
                f"{large.median_s:.3f} s",
                large.median_s <= BAR_S,
            )
        )
    print_report(
        [table, targets_table(checks)],
        {
            "bench": "kpis",
            "timings": {name: timing.as_json() for name, timing in timings.items()},
            "growth_10x": {command: round(ratio, 3) for command, ratio in growth.items()},
            "targets_met": all(check.met for check in checks),
            "elapsed_s": round(time.perf_counter() - started, 1),
        },
    )


if __name__ == "__main__":
    main()
