"""What the benchmarks share: pass/fail targets, the filesystem a figure was measured on,
and the report (tables, then exactly one JSON line as the last line of stdout)."""

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Target:
    name: str
    wanted: str
    actual: str
    met: bool


def targets_table(checks: list[Target]) -> Table:
    table = Table(title="Targets")
    for column in ("target", "wanted", "actual", "result"):
        table.add_column(column)
    for check in checks:
        result = "[green]met[/green]" if check.met else "[red]not met[/red]"
        table.add_row(check.name, check.wanted, check.actual, result)
    return table


def filesystem_of(path: Path) -> str:
    """The type of the filesystem holding `path` (Linux), which sets what an fsync costs."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown"
    resolved = str(path.resolve())
    best, kind = "", "unknown"
    for line in mounts:
        _, point, fs_type, *_ = line.split()
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, fs_type
    return kind


def print_report(tables: Iterable[Table], line: dict[str, Any]) -> None:
    """The tables, then `line` as the last line of stdout."""
    console = Console(width=None if sys.stdout.isatty() else 150)
    for table in tables:
        console.print(table)
    sys.stdout.flush()
    print(json.dumps(line))


def quick_requested(doc: str, quick_help: str) -> bool:
    """Parse a benchmark's command line (its `--quick` option only); `doc` is its module
    docstring, whose first line describes it."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    return bool(parser.parse_args().quick)


def machine_figures(load_before: tuple[float, float, float], started: float) -> dict[str, Any]:
    """What the JSON line says of the machine a run measured on: its cores, its load
    before and after (these machines are shared), and the run's duration since
    `started` (a `time.perf_counter()`)."""
    return {
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
