"""Benchmark: time to the dashboard's first frame with 10,000 runs in the database.

The question: does `adw` open as fast on a repository with a long history as on a new
one? For each size, a sample repository gets a real store holding that many runs
(created through `Store.create_run`, with a mix of workflows and final statuses), then
the `adw` command starts on it under a real pseudo-terminal (160x50) and the clock runs
from its start until the newest run's adw_id, the first row
of the runs table, has been written to the terminal: the first frame showing the table.
Then `q` quits it.

The app runs as `python -c CHILD REPO FILE`, which imports the `adw` command and the
dashboard, notes the time in FILE, and calls the command's `main` as `adw --repo REPO`
would: so each measurement also says how much of it was Python importing modules, which
no number of runs changes, and how much came after.

Bytecode: the child runs as an installed `adw` does from its second start on, reading
cached bytecode (PYTHONDONTWRITEBYTECODE dropped, PYTHONPYCACHEPREFIX in the temporary
directory, so the project tree is not touched). The very first start, which compiles
every module, is measured once before the others and reported without a target.

Sizes, in the same run, alternating, `--repeats` times each: the baseline (100 runs)
and the big one (10,000). Targets for the big one, medians: <= 0.5 s to the first
frame, and <= 0.5 s from the end of the imports to the first frame.

Creating 10,000 runs takes a while (a transaction each), so each database is made once
and kept in the temporary directory (`adw-bench-cache/`); every measurement starts from
a fresh copy of it in a new repository.

The table goes to stdout, followed by exactly one JSON line (the last line) with every
figure. Run: `uv run python -m bench.tui_startup [--quick]` (`--quick`: one repeat).
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from itertools import cycle
from pathlib import Path
from typing import Any

from rich.table import Table

from adw_tui.domain.models import RunStatus
from adw_tui.runtime.sample_repo import create_sample_repo
from adw_tui.store import Store
from bench.common import Target, machine_figures, print_report, targets_table
from bench.fixtures import cached_database, copy_database
from bench.pty_app import COLUMNS, ROWS, PtyChild

BASELINE_RUNS = 100
BIG_RUNS = 10_000
TARGET_S = 0.5
TIMEOUT_S = 60.0
GENERATION = 1
"""Bump when what `create_database` writes changes, so that old caches are not used."""
DB_FILE = Path("agents") / "adw_state.db"
CHILD = """
import sys, time
import adw_tui.cli
from adw_tui.cli.collector import paused_collector
with paused_collector():  # as `adw` and the dashboard's start make these imports
    import adw_tui.tui.app  # what `adw` imports once it opens the dashboard
with open(sys.argv[2], "w") as imported:
    imported.write(repr(time.perf_counter()))
sys.exit(adw_tui.cli.main(["--repo", sys.argv[1]]))
"""
"""The child: `adw --repo REPO` that writes when its imports are done to a file (made
with the garbage collector paused, as `adw` makes them)."""
ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ("sdlc", "plan_build", "patch", "plan", "ship")
STATUSES = (
    RunStatus.SUCCEEDED,
    RunStatus.SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.SUCCEEDED,
    RunStatus.DEAD_LETTERED,
    RunStatus.CANCELLED,
)


def adw_id(number: int) -> str:
    """The id of run `number`: ids sort like numbers, so the newest is the largest."""
    return f"{number:08x}"


async def create_database(path: Path, runs: int) -> None:
    """A store holding `runs` finished runs, created one after the other."""
    async with await Store.open(path, synchronous="NORMAL") as store:
        for number, workflow, status in zip(range(runs), cycle(WORKFLOWS), cycle(STATUSES)):
            state = {"adw_id": adw_id(number), "issue_number": str(number % 500 + 1)}
            await store.create_run(
                state, workflow=workflow, issue=state["issue_number"], actor="bench", status=status
            )


def cached_runs(runs: int) -> tuple[Path, bool]:
    """The database file with `runs` runs, and whether it was made just now."""
    return cached_database(
        f"runs-{runs}-gen{GENERATION}.db", lambda path: create_database(path, runs)
    )


def make_repo(parent: Path, database: Path) -> Path:
    repo = asyncio.run(create_sample_repo(parent / "repo"))
    copy_database(database, repo / DB_FILE)
    return repo


def first_frame(repo: Path, newest: str, folder: Path, pycache: Path) -> tuple[float, float]:
    """Seconds from starting `adw` on `repo` to `newest` being on its terminal, and how
    many of them went to importing."""
    imported = folder / "imported"
    child = PtyChild(
        [sys.executable, "-c", CHILD, str(repo), str(imported)],
        cwd=ROOT,
        env={"ADW_CONFIG_DIR": str(folder / "config"), "PYTHONPYCACHEPREFIX": str(pycache)},
        unset=("PYTHONDONTWRITEBYTECODE",),
    )
    marker, seen, shown = newest.encode(), b"", None
    try:
        for data in child.output(TIMEOUT_S):
            if shown is None:
                seen = seen[-len(marker) :] + data
                if marker in seen:
                    shown = time.perf_counter()
                    child.type(b"q")
    finally:
        child.close()
    if shown is None:
        raise RuntimeError(f"adw ended without showing run {newest}")
    # perf_counter is CLOCK_MONOTONIC, one clock for every process of the machine.
    return shown - child.started, float(imported.read_text()) - child.started


def figures(samples: list[float]) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(samples), 3),
        "max_s": round(max(samples), 3),
        "samples_s": [round(sample, 3) for sample in samples],
    }


def measure(sizes: tuple[int, ...], repeats: int) -> dict[str, Any]:
    databases = {runs: cached_runs(runs) for runs in sizes}
    times: dict[int, list[float]] = {runs: [] for runs in sizes}
    after: dict[int, list[float]] = {runs: [] for runs in sizes}
    imports: list[float] = []
    with tempfile.TemporaryDirectory(prefix="adw-bench-startup-") as tmp:
        pycache, first = Path(tmp) / "pycache", sizes[0]
        folder = Path(tmp) / "first-start"
        repo = make_repo(folder, databases[first][0])
        first_start = first_frame(repo, adw_id(first - 1), folder, pycache)
        for repeat in range(repeats):
            for runs in sizes:
                folder = Path(tmp) / f"{runs}-{repeat}"
                repo = make_repo(folder, databases[runs][0])
                total, importing = first_frame(repo, adw_id(runs - 1), folder, pycache)
                times[runs].append(total)
                after[runs].append(total - importing)
                imports.append(importing)
    return {
        "first_start": {
            "runs": first,
            "total_s": round(first_start[0], 3),
            "imports_s": round(first_start[1], 3),
        },
        "imports": figures(imports),
        **{
            str(runs): {
                "runs": runs,
                **figures(samples),
                "after_imports": figures(after[runs]),
                "database_new": databases[runs][1],
            }
            for runs, samples in times.items()
        },
    }


def results_table(results: dict[str, Any]) -> Table:
    table = Table(
        title=f"`adw` to its first frame showing the runs table, under a {COLUMNS}x{ROWS} pty"
    )
    for header in ("runs", "median s", "max s", "samples s", "after the imports: median s"):
        table.add_column(header, justify="right")
    for key, row in results.items():
        if key in ("imports", "first_start"):
            continue
        table.add_row(
            f"{row['runs']:,}",
            str(row["median_s"]),
            str(row["max_s"]),
            " ".join(str(sample) for sample in row["samples_s"]),
            str(row["after_imports"]["median_s"]),
        )
    imports = results["imports"]
    table.add_row("(imports alone)", str(imports["median_s"]), str(imports["max_s"]), "", "")
    first = results["first_start"]
    table.add_row(
        f"{first['runs']:,}, very first start (compiling bytecode)",
        "",
        "",
        str(first["total_s"]),
        str(round(first["total_s"] - first["imports_s"], 3)),
    )
    return table


def run(repeats: int) -> None:
    load = os.getloadavg()
    start = time.perf_counter()
    results = measure((BASELINE_RUNS, BIG_RUNS), repeats)
    big, baseline = results[str(BIG_RUNS)], results[str(BASELINE_RUNS)]
    after_imports = big["after_imports"]["median_s"]
    checks = [
        Target(
            f"first frame with {BIG_RUNS:,} runs (median)",
            f"<= {TARGET_S:g} s",
            f"{big['median_s']} s ({big['median_s'] - baseline['median_s']:+.3f} s on "
            f"{BASELINE_RUNS} runs)",
            big["median_s"] <= TARGET_S,
        ),
        Target(
            f"first frame with {BIG_RUNS:,} runs, after the imports (median)",
            f"<= {TARGET_S:g} s",
            f"{after_imports} s",
            after_imports <= TARGET_S,
        ),
    ]
    line = {
        "bench": "tui_startup",
        "sizes": results,
        "targets": {check.name: check.met for check in checks},
        "params": {
            "repeats": repeats,
            "terminal": f"{COLUMNS}x{ROWS}",
            **machine_figures(load, start),
        },
    }
    print_report((results_table(results), targets_table(checks)), line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=3, help="measurements per size")
    parser.add_argument("--quick", action="store_true", help="one measurement per size")
    args = parser.parse_args(argv)
    run(1 if args.quick else args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
