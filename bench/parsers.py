"""Benchmark: each engine's stream parser against a bare json.loads loop.

For every engine with a captured real transcript in `tests/fixtures/<engine>/` (a tool
call and its answer, as the CLI wrote it offline against a loopback model server), a
transcript of `--lines` lines (default 200,000) is built from it: its first line, its
middle lines over and over, its last line (the one that ends a call). Then, as in
bench/stream.py and measured in the same run, interleaved, best of N passes:
- json_loads: `for line in f: json.loads(line)` over the file in binary mode;
- reader_parser: what the runner does per chunk: read, write and flush the raw output
  file, split lines (`JsonlSplitter`), and give each to the engine's parser (the
  registry's `parser_for`), whose result must be a success.
Target: each parser reads at least 0.5 times the lines/s of json_loads.

Run: `uv run python -m bench.parsers [--quick]`. A table, then one JSON line.
"""

import argparse
import itertools
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from rich.table import Table

from adw_tui.agents.registry import ENGINE_NAMES, parser_for
from bench.common import Target, print_report, targets_table
from bench.stream import (
    CWD,
    PassFn,
    Rate,
    best_of_passes,
    json_loads_pass,
    reader_parser_pass,
    write_transcript,
)

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
SOURCES = {
    "claude": "claude-2.1.328-tool-call-success.jsonl",
    "codex": "codex-0.171.0-tool.jsonl",
    "gemini": "gemini-0.61.0-tool.jsonl",
    "opencode": "opencode-1.18.33-tool.jsonl",
}
"""The captured transcript each engine's figure is built from; the sim writes Claude
Code's stream, measured as Claude's."""
RATIO_BAR = 0.5


def repeated(source: Path, count: int) -> Iterator[bytes]:
    """`count` lines: the source's first, its middle ones cycled, its last."""
    lines = [line for line in source.read_bytes().splitlines() if line.strip()]
    if len(lines) < 3:
        raise SystemExit(f"{source}: a transcript of at least 3 lines is needed")
    first, *middle, last = lines
    yield first
    yield from itertools.islice(itertools.cycle(middle), count - 2)
    yield last


def measure(
    engine: str, source: Path, directory: Path, lines: int, repeats: int
) -> dict[str, Rate]:
    path = directory / f"{engine}.jsonl"
    facts = write_transcript(path, repeated(source, lines))

    def parse(transcript: Path, raw: Path) -> tuple[int, int]:
        return reader_parser_pass(transcript, raw, parser_for(engine, CWD))

    passes: dict[str, PassFn] = {"json_loads": json_loads_pass, "reader_parser": parse}
    try:
        return best_of_passes(passes, path, facts, repeats)
    finally:
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="20,000 lines, 2 passes")
    args = parser.parse_args()
    lines, repeats = (20_000, 2) if args.quick else (args.lines, args.repeats)
    started = time.perf_counter()
    engines = {
        name: FIXTURES / name / SOURCES[name]
        for name in ENGINE_NAMES
        if name in SOURCES and (FIXTURES / name / SOURCES[name]).is_file()
    }
    with tempfile.TemporaryDirectory(prefix="adw-bench-parsers-") as temp:
        rates = {
            engine: measure(engine, source, Path(temp), lines, repeats)
            for engine, source in engines.items()
        }
    ratios = {
        engine: rate["reader_parser"].lines_per_s / rate["json_loads"].lines_per_s
        for engine, rate in rates.items()
    }
    table = Table(title=f"Stream parsers, {lines:,} lines each, best of {repeats}")
    for column in ("engine", "json.loads lines/s", "parser lines/s", "MB/s", "ratio"):
        table.add_column(column)
    for engine, rate in rates.items():
        table.add_row(
            engine,
            f"{rate['json_loads'].lines_per_s:,.0f}",
            f"{rate['reader_parser'].lines_per_s:,.0f}",
            f"{rate['reader_parser'].mb_per_s:.1f}",
            f"{ratios[engine]:.2f}",
        )
    checks = [
        Target(
            f"{engine} parser / json.loads", f">= {RATIO_BAR}", f"{ratio:.2f}", ratio >= RATIO_BAR
        )
        for engine, ratio in ratios.items()
    ]
    print_report(
        [table, targets_table(checks)],
        {
            "bench": "parsers",
            "lines": lines,
            "ratios": {engine: round(ratio, 3) for engine, ratio in ratios.items()},
            "figures": {
                engine: {name: r.as_json() for name, r in rate.items()}
                for engine, rate in rates.items()
            },
            "targets_met": all(check.met for check in checks),
            "elapsed_s": round(time.perf_counter() - started, 1),
        },
    )


if __name__ == "__main__":
    main()
