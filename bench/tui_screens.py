"""Benchmark: the dashboard's screens on a year's worth of rows: open time and stalls at rest.

The question: do the screens that list rows (the dead letters, a dead-lettered run's
detail, a run's state history, the dashboard's runs table) open as fast, and stay as
quiet, on 10,000 runs and 10,000 dead letters (half of them resolved) and a run of 5,000
versions as on 100 of each? Each screen is opened in `adw`'s app, in a child process
under a real pseudo-terminal (160x50), on a fresh copy of a cached database: the clock
runs from asking for the screen to its table holding its first rows; then, once the
app's start-up work is done, for `REST_S` with nothing happening (its refresh timers
still ticking), a 10 ms heartbeat on the event loop records how late it ever was (the
largest stall).

Sizes, in the same run, alternating: the baseline (100 runs and letters, a run of 100
versions) and the big one (10,000 runs and letters, a run of 5,000 versions). Targets
for the big one: the dead letters open in <= 0.3 s, and no stall at rest > 50 ms on any
screen.

The databases are made once through the store's API and kept in the temporary directory
(`adw-bench-cache/`, shared with bench/cli.py). The table goes to stdout, followed by
exactly one JSON line (the last line). Run: `uv run python -m bench.tui_screens [--quick]`
(`--quick`: one repeat instead of three).
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.cli import cached_history
from bench.common import Target, machine_figures, print_report, targets_table
from bench.fixtures import cached_database, copy_database
from bench.pty_app import COLUMNS, ROWS, PtyChild

BASELINE = (100, 100)
BIG = (10_000, 5_000)
"""(runs and letters, versions of the history's run)."""
SCREENS = ("dead letters", "run detail", "history", "dashboard")
REST_S = 5.0
TARGET_OPEN_S = 0.3
TARGET_STALL_S = 0.05
TIMEOUT_S = 120.0
GENERATION = 1
"""Bump when what `create_versions` writes changes, so that old caches are not used."""
DB_FILE = Path("agents") / "adw_state.db"
HISTORY_RUN = "0f0f0f0f"
ROOT = Path(__file__).resolve().parent.parent


async def create_versions(path: Path, versions: int) -> None:
    """One run whose state was saved `versions` times."""
    from adw_tui.store import Store

    async with await Store.open(path, synchronous="NORMAL") as store:
        await store.create_run({"adw_id": HISTORY_RUN}, workflow="sdlc", actor="bench")
        for version in range(1, versions):
            data = {"adw_id": HISTORY_RUN, "plan_file": f"specs/plan-{version}.md"}
            await store.save(HISTORY_RUN, data, version, reason=f"step {version}", actor="bench")


def cached_versions(versions: int) -> Path:
    path, _ = cached_database(
        f"versions-{versions}-gen{GENERATION}.db", lambda path: create_versions(path, versions)
    )
    return path


# The child: the app on a repository, one screen opened, measured from inside.


async def child(screen: str, repo: Path, adw_id: str, out: Path) -> None:
    """Open `screen` in `adw`'s app on `repo`, then measure; write the figures to `out`."""
    from textual.screen import Screen
    from textual.widgets import DataTable, Static

    from adw_tui.config import Settings
    from adw_tui.store import Store
    from adw_tui.tui import heap
    from adw_tui.tui.app import create_app
    from adw_tui.tui.screens.history import HistoryScreen
    from adw_tui.tui.screens.run_detail import RunDetailScreen

    begun = time.perf_counter()
    async with await Store.open(repo / DB_FILE) as store:
        settings = Settings()
        figures: dict[str, float] = {}

        def shown(opened: Screen[Any]) -> bool:
            """The screen shows what it was opened for: rows, or the run's letter."""
            if screen == "run detail":
                summary = opened.query("#run-summary").results(Static)
                return any("dead letter" in str(static.render()) for static in summary)
            tables = opened.query(DataTable)
            return bool(tables) and tables.first().row_count > 0

        async def measure(_orchestrator: object) -> None:
            try:
                await measured()
            finally:
                app.exit()

        async def measured() -> None:
            started = time.perf_counter()
            if screen == "dead letters":
                await app.action_dead_letters()
            elif screen == "run detail":
                app.push_screen(RunDetailScreen(store, app.orchestrator, adw_id, clock=app.clock))
            elif screen == "history":
                app.push_screen(HistoryScreen(store, app.orchestrator, adw_id, app.clock))
            while not shown(app.screen):  # noqa: ASYNC110 - no event says so
                await asyncio.sleep(0.002)
            figures["open_s"] = time.perf_counter() - started
            # At rest: past the start-up's last work (the heap is frozen after a full
            # collection once the dashboard is up, tui/heap.py).
            await asyncio.sleep(max(heap.FREEZE_AFTER_S - (time.perf_counter() - begun), 0) + 1)
            late = 0.0
            rest_end = time.perf_counter() + REST_S
            while time.perf_counter() < rest_end:
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                late = max(late, time.perf_counter() - before - 0.01)
            figures["max_stall_s"] = late
            out.write_text(json.dumps(figures))

        app = create_app(store, repo, settings, startup=measure, config=repo / "config")
        try:
            await app.run_async()
        finally:
            await app.close_runtime()


# The parent: a database per size, a child per screen.


def open_screen(screen: str, database: Path, adw_id: str, folder: Path) -> dict[str, float]:
    repo = folder / "repo"
    copy_database(database, repo / DB_FILE)
    out = folder / "figures.json"
    argv = [
        sys.executable,
        "-m",
        "bench.tui_screens",
        "--child",
        screen,
        str(repo),
        adw_id,
        str(out),
    ]
    process = PtyChild(argv, cwd=ROOT, env={"ADW_CONFIG_DIR": str(folder / "config")})
    try:
        for _ in process.output(TIMEOUT_S):
            pass
    finally:
        process.close()
    if not out.exists():
        raise RuntimeError(f"the {screen} screen was not measured")
    figures: dict[str, float] = json.loads(out.read_text())
    return figures


def measure(repeats: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    databases = {}
    for rows, versions in (BASELINE, BIG):
        history, _ = cached_history(rows)
        databases[rows] = (history, cached_versions(versions), f"{rows - 2:08x}", versions)
    with tempfile.TemporaryDirectory(prefix="adw-bench-screens-") as tmp:
        for repeat in range(repeats):
            for screen in SCREENS:
                for rows, (history, versions_db, dead_run, versions) in databases.items():
                    database, adw_id = history, dead_run
                    if screen == "history":
                        database, adw_id = versions_db, HISTORY_RUN
                    folder = Path(tmp) / f"{screen}-{rows}-{repeat}".replace(" ", "_")
                    figures = open_screen(screen, database, adw_id, folder)
                    entry = results.setdefault(
                        f"{screen}:{rows}",
                        {"screen": screen, "rows": versions if screen == "history" else rows},
                    )
                    entry.setdefault("open_s", []).append(round(figures["open_s"], 4))
                    entry.setdefault("max_stall_s", []).append(round(figures["max_stall_s"], 4))
    for entry in results.values():
        entry["open_median_s"] = round(statistics.median(entry["open_s"]), 4)
        entry["max_stall_worst_s"] = max(entry["max_stall_s"])
    return results


def results_table(results: dict[str, dict[str, Any]]) -> Table:
    table = Table(title=f"Screens opened in `adw`'s app under a {COLUMNS}x{ROWS} pty")
    for header in ("screen", "rows", "open: median s", "open ratio", "worst stall at rest s"):
        table.add_column(header, justify="right")
    for screen in SCREENS:
        small, big = results[f"{screen}:{BASELINE[0]}"], results[f"{screen}:{BIG[0]}"]
        for entry in (small, big):
            ratio = entry["open_median_s"] / small["open_median_s"]
            table.add_row(
                screen,
                f"{entry['rows']:,}",
                str(entry["open_median_s"]),
                f"{ratio:.2f}",
                str(entry["max_stall_worst_s"]),
            )
    return table


def run(repeats: int) -> None:
    load = os.getloadavg()
    start = time.perf_counter()
    results = measure(repeats)
    dlq = results[f"dead letters:{BIG[0]}"]
    checks = [
        Target(
            f"dead letters open with {BIG[0]:,} letters (median)",
            f"<= {TARGET_OPEN_S:g} s",
            f"{dlq['open_median_s']} s",
            dlq["open_median_s"] <= TARGET_OPEN_S,
        ),
        *(
            Target(
                f"{screen}: worst stall at rest, big",
                f"<= {TARGET_STALL_S * 1000:.0f} ms",
                f"{results[f'{screen}:{BIG[0]}']['max_stall_worst_s'] * 1000:.0f} ms",
                results[f"{screen}:{BIG[0]}"]["max_stall_worst_s"] <= TARGET_STALL_S,
            )
            for screen in SCREENS
        ),
    ]
    line = {
        "bench": "tui_screens",
        "screens": results,
        "ratios": {
            screen: round(
                results[f"{screen}:{BIG[0]}"]["open_median_s"]
                / results[f"{screen}:{BASELINE[0]}"]["open_median_s"],
                2,
            )
            for screen in SCREENS
        },
        "targets": {check.name: check.met for check in checks},
        "params": {
            "repeats": repeats,
            "rest_s": REST_S,
            "terminal": f"{COLUMNS}x{ROWS}",
            **machine_figures(load, start),
        },
    }
    print_report((results_table(results), targets_table(checks)), line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=3, help="measurements per screen")
    parser.add_argument("--quick", action="store_true", help="one measurement per screen")
    parser.add_argument("--child", nargs=4, metavar=("SCREEN", "REPO", "ADW_ID", "OUT"))
    args = parser.parse_args(argv)
    if args.child:
        screen, repo, adw_id, out = args.child
        asyncio.run(child(screen, Path(repo), adw_id, Path(out)))
        return 0
    run(1 if args.quick else args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
