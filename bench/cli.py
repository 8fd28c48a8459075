"""Benchmark: the `adw` command at a year's worth of runs, and how fast it starts.

Three questions, each against a baseline measured in the same run:

1. Does a listing cost the same at 10,000 rows as at 100? Two databases, built once
   through the store's own API and cached (`bench/fixtures.py`): 100 and 10,000 runs,
   each run with a dead letter, every other letter resolved (a quarter replayed, a
   quarter dropped), so `adw dlq ls` (pending letters) has 50 and 5,000 to choose from.
   Measured: `adw --db DB runs`, `adw --db DB dlq ls` and `adw --db DB dlq ls --json`,
   stdout to /dev/null, each the median of `--repeats` starts, sizes alternating. Targets:
   at most 0.5 s each at 10,000, and the ratio to 100 rows is reported (1 is flat).
   `dlq ls --all --jsonl` (every letter, streamed) is reported without a target.
2. How fast does `adw runs` start on a small repository (a new git repository whose
   database holds three runs, found from the working directory as a person would)?
   Target: at most 0.25 s. Reported beside it: `adw --version`, the floor of any
   command that reads the store, `python -c "import asyncio, aiosqlite, pydantic"`, and
   the interpreter's own start, `python -c pass`.
3. Does `adw prompt --engine sim` take longer than the simulated CLI alone? Measured by
   bench/stream.py's part 2 (`measure_sim`: the paced `/implement` workload, the target,
   <= 1.05; the two-line call, `--version` and the unpaced workload without one).

Subprocesses run with PYTHONPYCACHEPREFIX in the temporary directory
(PYTHONDONTWRITEBYTECODE dropped) after an untimed warm-up, so that they read cached
bytecode as an installed adw does; no `ADW_*` variable of the caller reaches them.

The tables go to stdout, then exactly one JSON line (the last line) with every figure.
Run: `uv run python -m bench.cli [--quick] [--repeats N]` (`--quick`: 1,000 rows instead
of 10,000, one repeat, a small prompt workload; for a smoke test).
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import cycle
from pathlib import Path
from typing import Any

from rich.table import Table

from adw_tui.domain.models import NewDeadLetter, RunStatus
from adw_tui.store import Store
from bench.common import Target, machine_figures, print_report, targets_table
from bench.fixtures import cached_database, copy_database
from bench.stream import TARGET_WALL_RATIO, SimFigures, measure_sim, sim_table
from bench.stream import Params as StreamParams

BASELINE_ROWS = 100
BIG_ROWS = 10_000
TARGET_LISTING_S = 0.5
TARGET_START_S = 0.25
GENERATION = 2
"""Bump when what `create_history` writes changes, so that old caches are not used."""
ADW = Path(sys.executable).parent / "adw"
LISTINGS = {
    "runs": ("runs",),
    "dlq ls": ("dlq", "ls"),
    "dlq ls --json": ("dlq", "ls", "--json"),
    "dlq ls --all --jsonl": ("dlq", "ls", "--all", "--jsonl"),
}
TARGETED = ("runs", "dlq ls", "dlq ls --json")
WORKFLOWS = ("sdlc", "plan_build", "patch", "plan", "ship")
STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SUCCEEDED, RunStatus.CANCELLED)
ERROR_CLASSES = ("rate_limit", "overloaded", "auth", "timeout", "crashed")
FLOOR = "import asyncio, aiosqlite, pydantic"


async def create_history(path: Path, runs: int) -> None:
    """`runs` finished runs, one after the other, each with a dead letter; every other
    letter resolved, replayed and dropped in turn."""
    async with await Store.open(path, synchronous="NORMAL") as store:
        for number, workflow, status, error_class in zip(
            range(runs), cycle(WORKFLOWS), cycle(STATUSES), cycle(ERROR_CLASSES)
        ):
            adw_id = f"{number:08x}"
            issue = str(number % 500 + 1)
            await store.create_run(
                {"adw_id": adw_id, "issue_number": issue},
                workflow=workflow,
                issue=issue,
                actor="bench",
                status=status,
            )
            letter = await store.dead_letters.add(
                NewDeadLetter(
                    adw_id=adw_id,
                    workflow=workflow,
                    step="build",
                    state_version=1,
                    error_class=error_class,
                    error_message=f"{error_class}: the agent failed on try 3 of run {adw_id}",
                    attempts=3,
                    request={"prompt": "/implement specs/plan.md", "model": "sonnet"},
                ),
                actor="bench",
            )
            if number % 4 == 1:
                await store.dead_letters.mark_replayed(
                    letter.id, from_step="build", state_version=1, actor="bench"
                )
            elif number % 4 == 3:
                await store.dead_letters.drop(letter.id, actor="bench")


def cached_history(rows: int) -> tuple[Path, bool]:
    return cached_database(
        f"history-{rows}-gen{GENERATION}.db", lambda path: create_history(path, rows)
    )


class Commands:
    """Starts `adw` (or Python) in subprocesses with cached bytecode and times them."""

    def __init__(self, root: Path) -> None:
        base = {
            key: value
            for key, value in os.environ.items()
            if key != "PYTHONDONTWRITEBYTECODE" and not key.startswith("ADW_")
        }
        self._env = base | {"PYTHONPYCACHEPREFIX": str(root / "pycache")}

    def run(self, argv: Sequence[str], cwd: Path) -> tuple[float, str]:
        """Wall seconds of `argv`, and what it printed on stdout, in short: its last line
        (for a listing, "N of M"), or the number of lines of JSON."""
        start = time.perf_counter()
        done = subprocess.run(
            argv, cwd=cwd, env=self._env, capture_output=True, text=True, check=False
        )
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr[-2000:]}")
        lines = done.stdout.splitlines()
        if "--json" in argv or "--jsonl" in argv:
            return elapsed, f"({len(lines):,} lines of JSON)"
        return elapsed, lines[-1] if lines else ""


@dataclass(frozen=True)
class Timing:
    samples: list[float]
    printed: str
    """What the command printed, in short (`Commands.run`)."""

    @property
    def median_s(self) -> float:
        return statistics.median(self.samples)

    def as_json(self) -> dict[str, Any]:
        return {
            "median_s": round(self.median_s, 4),
            "samples_s": [round(sample, 4) for sample in self.samples],
        }


def time_alternating(
    commands: Commands, argvs: dict[str, tuple[Sequence[str], Path]], repeats: int
) -> dict[str, Timing]:
    """Each of `argvs` `repeats` times, in turn, after one untimed warm-up of each."""
    samples: dict[str, list[float]] = {name: [] for name in argvs}
    last: dict[str, str] = {}
    for argv, cwd in argvs.values():
        commands.run(argv, cwd)
    for _ in range(repeats):
        for name, (argv, cwd) in argvs.items():
            elapsed, last[name] = commands.run(argv, cwd)
            samples[name].append(elapsed)
    return {name: Timing(samples[name], last[name]) for name in argvs}


def measure_listings(
    commands: Commands, root: Path, sizes: tuple[int, int], repeats: int
) -> tuple[dict[str, dict[int, Timing]], dict[int, bool]]:
    made: dict[int, bool] = {}
    argvs: dict[str, tuple[Sequence[str], Path]] = {}
    for rows in sizes:
        cached, made[rows] = cached_history(rows)
        database = copy_database(cached, root / f"db-{rows}" / "adw_state.db")
        for name, listing in LISTINGS.items():
            argvs[f"{name}@{rows}"] = ((str(ADW), "--db", str(database), *listing), root)
    timings = time_alternating(commands, argvs, repeats)
    return {name: {rows: timings[f"{name}@{rows}"] for rows in sizes} for name in LISTINGS}, made


async def create_small(path: Path) -> None:
    async with await Store.open(path) as store:
        for number in range(3):
            await store.create_run({"adw_id": f"5a11{number:04x}"}, workflow="sdlc", actor="b")


def measure_start(commands: Commands, root: Path, repeats: int) -> dict[str, Timing]:
    repo = root / "small-repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    asyncio.run(create_small(repo / "agents" / "adw_state.db"))
    argvs: dict[str, tuple[Sequence[str], Path]] = {
        "adw runs": ((str(ADW), "runs"), repo),
        "adw --version": ((str(ADW), "--version"), repo),
        "python -c 'import asyncio, aiosqlite, pydantic'": ((sys.executable, "-c", FLOOR), repo),
        "python -c pass": ((sys.executable, "-c", "pass"), repo),
    }
    return time_alternating(commands, argvs, max(5, 2 * repeats))


def listings_table(listings: dict[str, dict[int, Timing]], sizes: tuple[int, int]) -> Table:
    small, big = sizes
    table = Table(title=f"Listings: `adw --db DB ...` with {small:,} and {big:,} runs and letters")
    table.add_column("command", no_wrap=True)
    for header in (f"{small:,}: median s", f"{big:,}: median s", "ratio"):
        table.add_column(header, justify="right")
    table.add_column(f"{big:,}: printed")
    for name, by_size in listings.items():
        table.add_row(
            name,
            f"{by_size[small].median_s:.3f}",
            f"{by_size[big].median_s:.3f}",
            f"{by_size[big].median_s / by_size[small].median_s:.2f}",
            by_size[big].printed,
        )
    return table


def start_table(start: dict[str, Timing]) -> Table:
    table = Table(title="Start on a small repository (3 runs), median wall s")
    table.add_column("command", no_wrap=True)
    table.add_column("median s", justify="right")
    table.add_column("samples s")
    for name, timing in start.items():
        samples = " ".join(f"{sample:.3f}" for sample in timing.samples)
        table.add_row(name, f"{timing.median_s:.3f}", samples)
    return table


def targets(
    listings: dict[str, dict[int, Timing]],
    big: int,
    start: dict[str, Timing],
    prompt: SimFigures,
) -> list[Target]:
    checks = [
        Target(
            f"adw {name} at {big:,} (median)",
            f"<= {TARGET_LISTING_S:g} s",
            f"{listings[name][big].median_s:.3f} s",
            listings[name][big].median_s <= TARGET_LISTING_S,
        )
        for name in TARGETED
    ]
    runs_start = start["adw runs"].median_s
    checks.append(
        Target(
            "adw runs on a small repository (median)",
            f"<= {TARGET_START_S:g} s",
            f"{runs_start:.3f} s",
            runs_start <= TARGET_START_S,
        )
    )
    checks.append(
        Target(
            "adw prompt --engine sim / the sim alone (paced, median)",
            f"<= {TARGET_WALL_RATIO:g}",
            f"{prompt.paced.ratio:.3f}",
            prompt.paced.ratio <= TARGET_WALL_RATIO,
        )
    )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5, help="starts of each command (median)")
    parser.add_argument("--quick", action="store_true", help="1,000 rows, one repeat")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    sizes = (BASELINE_ROWS, 1_000 if args.quick else BIG_ROWS)
    params = StreamParams(sim_files=10 if args.quick else 100, sim_repeats=repeats)
    load = os.getloadavg()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="adw-bench-cli-") as tmp:
        root = Path(tmp)
        commands = Commands(root)
        listings, made = measure_listings(commands, root, sizes, repeats)
        start = measure_start(commands, root, repeats)
        prompt = measure_sim(root / "sim", params)
    checks = targets(listings, sizes[1], start, prompt)
    line = {
        "bench": "cli",
        "listings": {
            name: {
                str(rows): timing.as_json() | {"printed": timing.printed}
                for rows, timing in by_size.items()
            }
            | {"ratio": round(by_size[sizes[1]].median_s / by_size[sizes[0]].median_s, 3)}
            for name, by_size in listings.items()
        },
        "start": {name: timing.as_json() for name, timing in start.items()},
        "prompt": {
            **{name: pair.as_json() for name, pair in prompt.pairs().items()},
            "workload_lines": prompt.workload_lines,
        },
        "targets": {check.name: check.met for check in checks},
        "params": {
            "sizes": sizes,
            "repeats": repeats,
            "databases_new": {str(rows): new for rows, new in made.items()},
            "sim_files": params.sim_files,
            "sim_delay": params.sim_delay,
            **machine_figures(load, began),
        },
    }
    print_report(
        (
            listings_table(listings, sizes),
            start_table(start),
            sim_table(prompt, params),
            targets_table(checks),
        ),
        line,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
