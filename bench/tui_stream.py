"""Benchmark: streaming agent transcripts into the TUI, batched against per-line writes.

The question: can the dashboard show 12 agents at once, each streaming 1,000 lines/s,
without freezing? A small Textual app (in this file) shows `--panes` AgentPanes in a grid
and, from an asyncio task, feeds each pane synthetic AgentEvents on a wall-clock
schedule of `--rate` events/s for `--seconds` (text lines, tool calls, folded tool
results, a retry now and then; built once, so pydantic is not what is measured). Two
figures per variant:

- stall: the largest lateness of a 10 ms heartbeat (an asyncio task sleeping 10 ms in a
  loop) while the feed runs: how long the event loop, which also handles keys and
  paints, was blocked. Full garbage collections in the same window are counted, with
  the longest one, since they used to be the largest stalls.
- lag: at the end of the feed, events scheduled minus events written to the pane's log,
  in seconds of input (worst pane). Counting against the schedule, not the pushes, keeps
  the per-line variant honest: its pushes block, so it pushes late instead of queueing.

Variants, in the same run, one after the other:

- batched: `AgentPane`: `push` appends to a deque, and one 25 Hz `PaneFlusher` tick
  writes every pane's pending events, a batch per pane (`TranscriptLog.append_markup`),
  within a 20 ms budget.
- per_line: `PerLineAgentPane`: one `TranscriptLog` write per event (the baseline).

Both apps freeze their start-up heap once they are up, as the dashboard does
(adw_tui/tui/heap.py), before the measurement starts.

Each variant runs in a child process (`python -m bench.tui_stream --child VARIANT`)
under a real pseudo-terminal (`pty.fork`, TERM=xterm-256color, 160x50), so Textual's
Linux driver, compositor and output thread do their real work; the parent drains the
terminal output (counting its bytes) and the child writes its figures to a JSON file,
since its stdout is the terminal. Targets for batched: stall <= 100 ms, lag <= 0.5 s.

The tables go to stdout, followed by exactly one JSON line (the last line) with every
figure. Run: `uv run python -m bench.tui_stream [--quick]` (`--quick`: 2 s per variant).
"""

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from rich.table import Table
from textual.app import App, ComposeResult

from adw_tui.agents.transcript import event_markup
from adw_tui.domain.agent import AgentEvent, AgentEventKind
from adw_tui.tui import heap
from adw_tui.tui.widgets import AgentPane
from bench.common import Target, print_report, targets_table
from bench.pty_app import COLUMNS, ROWS, PtyChild

Variant = Literal["batched", "per_line"]
VARIANTS: tuple[Variant, ...] = ("batched", "per_line")
HEARTBEAT_S = 0.010
FEED_TICK_S = 0.005
WARMUP_S = 1.5
TARGET_STALL_MS = 100.0
TARGET_LAG_S = 0.5
ROOT = Path(__file__).resolve().parent.parent


class PerLineAgentPane(AgentPane):
    """The naive pane, the baseline: one widget write per event, as it is pushed."""

    def push(self, event: AgentEvent) -> None:
        self.pushed += 1
        self.flushed += 1
        markup = event_markup(event)
        if markup is not None:
            self.log_widget.append_markup([markup])


@dataclass(frozen=True)
class Params:
    panes: int = 12
    rate: int = 1000
    seconds: float = 10.0
    max_lines: int = 2000
    flush_hz: float = 25.0


QUICK = Params(seconds=2.0)


@dataclass(frozen=True)
class Figures:
    """What one child measured."""

    variant: str
    terminal: str
    scheduled_per_pane: int
    pushed_min: int
    rendered_min: int
    dropped: int
    lag_s: float
    max_stall_ms: float
    p99_stall_ms: float
    heartbeats: int
    feed_s: float
    gc_full: int
    gc_max_ms: float


def synthetic_events(count: int = 1000) -> list[AgentEvent]:
    """A transcript-like mix: mostly text, a tool call and its result every 10 lines."""
    events: list[AgentEvent] = []
    for i in range(count):
        if i % 10 == 3:
            events.append(
                AgentEvent(kind=AgentEventKind.TOOL_USE, tool_name="Write", text=f"src/m{i}.py")
            )
        elif i % 10 == 4:
            events.append(AgentEvent(kind=AgentEventKind.TOOL_RESULT, text=f"wrote {i} lines"))
        elif i % 97 == 0:
            events.append(AgentEvent(kind=AgentEventKind.RETRY, text="attempt 2 in 1.0s"))
        else:
            events.append(
                AgentEvent(
                    kind=AgentEventKind.TEXT,
                    text=f"[{i}] Reading the module and planning the change to its tests, "
                    "step by step.",
                )
            )
    return events


class StreamApp(App[None]):
    """`panes` agent panes in a grid, fed on a schedule, timed by a heartbeat."""

    CSS = """
    Screen { layout: grid; grid-size: 4; }
    """

    def __init__(self, variant: Variant, params: Params, out: Path) -> None:
        super().__init__()
        self.variant = variant
        self.params = params
        self.out = out
        pane_class = AgentPane if variant == "batched" else PerLineAgentPane
        self.panes = [
            pane_class(
                f"run{i:02d}", max_lines=params.max_lines, flush_hz=params.flush_hz, id=f"p{i}"
            )
            for i in range(params.panes)
        ]
        self.events = synthetic_events()
        self.stalls: list[float] = []
        self.collections: list[tuple[int, float]] = []
        """(generation, seconds) of each garbage collection while the heartbeat runs."""
        self._collection_start = 0.0
        self._running = True
        self._tasks: list[asyncio.Task[None]] = []

    def compose(self) -> ComposeResult:
        for i, pane in enumerate(self.panes):
            pane.set_title(f"run{i:02d}", "build", "sdlc_implementor")
            yield pane

    def on_mount(self) -> None:
        self.set_timer(heap.FREEZE_AFTER_S, heap.freeze)
        self._tasks.append(asyncio.create_task(self._measure()))

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._collection_start = time.perf_counter()
        else:
            elapsed = time.perf_counter() - self._collection_start
            self.collections.append((info["generation"], elapsed))

    async def _heartbeat(self) -> None:
        gc.callbacks.append(self._on_collection)
        try:
            while self._running:
                start = time.perf_counter()
                await asyncio.sleep(HEARTBEAT_S)
                self.stalls.append(max(0.0, time.perf_counter() - start - HEARTBEAT_S))
        finally:
            gc.callbacks.remove(self._on_collection)

    async def _feed(self) -> float:
        """Push events on a wall-clock schedule until `seconds`; return the feed time."""
        events, rate, seconds = self.events, self.params.rate, self.params.seconds
        pushed = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            due = int(rate * elapsed) - pushed
            for n in range(pushed, pushed + due):
                event = events[n % len(events)]
                for pane in self.panes:
                    pane.push(event)
            pushed += due
            await asyncio.sleep(FEED_TICK_S)
        return time.perf_counter() - start

    async def _measure(self) -> None:
        try:
            await asyncio.sleep(WARMUP_S)
            heartbeat = asyncio.create_task(self._heartbeat())
            feed_s = await self._feed()
            # The end: what is on screen now, before any further flush.
            scheduled = int(self.params.rate * self.params.seconds)
            rendered = min(pane.flushed for pane in self.panes)
            pushed = min(pane.pushed for pane in self.panes)
            self._running = False
            await heartbeat
            stalls_ms = sorted(s * 1000 for s in self.stalls)
            figures = Figures(
                variant=self.variant,
                terminal=f"{self.size.width}x{self.size.height}",
                scheduled_per_pane=scheduled,
                pushed_min=pushed,
                rendered_min=rendered,
                dropped=sum(pane.dropped for pane in self.panes),
                lag_s=round(max(0, scheduled - rendered) / self.params.rate, 3),
                max_stall_ms=round(stalls_ms[-1], 1),
                p99_stall_ms=round(
                    stalls_ms[min(len(stalls_ms) - 1, len(stalls_ms) * 99 // 100)], 1
                ),
                heartbeats=len(stalls_ms),
                feed_s=round(feed_s, 3),
                gc_full=sum(1 for generation, _ in self.collections if generation == 2),
                gc_max_ms=round(max((s for _, s in self.collections), default=0) * 1000, 1),
            )
            self.out.write_text(json.dumps(asdict(figures)))
        except Exception:
            self.out.with_suffix(".err").write_text(traceback.format_exc())
        self.exit()


def run_child(variant: Variant, params: Params, out: Path) -> None:
    StreamApp(variant, params, out).run()


def spawn(variant: Variant, params: Params, out: Path, timeout_s: float) -> int:
    """Run one variant's child under a new pty; return the bytes it wrote to the terminal."""
    argv = [
        sys.executable,
        "-m",
        "bench.tui_stream",
        "--child",
        variant,
        "--out",
        str(out),
        *("--panes", str(params.panes), "--rate", str(params.rate)),
        *("--seconds", str(params.seconds), "--max-lines", str(params.max_lines)),
        *("--flush-hz", str(params.flush_hz)),
    ]
    child = PtyChild(argv, cwd=ROOT)
    try:
        return sum(len(data) for data in child.output(timeout_s))
    finally:
        child.close()


def measure(variant: Variant, params: Params, tmp: Path) -> dict[str, Any]:
    out = tmp / f"{variant}.json"
    terminal_bytes = spawn(variant, params, out, timeout_s=params.seconds + 120)
    if not out.exists():
        err = out.with_suffix(".err")
        why = err.read_text() if err.exists() else "no result (see the child's terminal)"
        raise RuntimeError(f"{variant} child failed:\n{why}")
    figures: dict[str, Any] = json.loads(out.read_text())
    figures["terminal_mb_per_s"] = round(terminal_bytes / 1e6 / params.seconds, 2)
    return figures


def results_table(results: dict[str, dict[str, Any]], params: Params) -> Table:
    table = Table(
        title=f"{params.panes} panes x {params.rate} events/s for {params.seconds:g}s, "
        f"under a {COLUMNS}x{ROWS} pty"
    )
    columns = (
        ("variant", "variant"),
        ("max stall ms", "max_stall_ms"),
        ("p99 stall ms", "p99_stall_ms"),
        ("lag s", "lag_s"),
        ("rendered/pane", "rendered_min"),
        ("scheduled/pane", "scheduled_per_pane"),
        ("dropped", "dropped"),
        ("full GCs", "gc_full"),
        ("longest GC ms", "gc_max_ms"),
        ("terminal MB/s", "terminal_mb_per_s"),
        ("app size", "terminal"),
    )
    for header, _ in columns:
        table.add_column(header, justify="left" if header == "variant" else "right")
    for figures in results.values():
        table.add_row(*(str(figures[key]) for _, key in columns))
    return table


def targets(results: dict[str, dict[str, Any]]) -> list[Target]:
    batched = results["batched"]
    return [
        Target(
            "batched: largest event-loop stall",
            f"<= {TARGET_STALL_MS:g} ms",
            f"{batched['max_stall_ms']} ms",
            batched["max_stall_ms"] <= TARGET_STALL_MS,
        ),
        Target(
            "batched: lag at the end",
            f"<= {TARGET_LAG_S:g} s",
            f"{batched['lag_s']} s",
            batched["lag_s"] <= TARGET_LAG_S,
        ),
    ]


def run(params: Params) -> None:
    load = os.getloadavg()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="adw-bench-tui-") as tmp:
        results: dict[str, dict[str, Any]] = {
            variant: measure(variant, params, Path(tmp)) for variant in VARIANTS
        }
    checks = targets(results)
    line = {
        "bench": "tui_stream",
        "variants": results,
        "targets": {check.name: check.met for check in checks},
        "params": {
            **asdict(params),
            "terminal": f"{COLUMNS}x{ROWS}",
            "heartbeat_ms": HEARTBEAT_S * 1000,
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "elapsed_s": round(time.perf_counter() - start, 1),
        },
    }
    print_report((results_table(results, params), targets_table(checks)), line)


def parse_args(argv: list[str] | None) -> tuple[Params, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--panes", type=int, help="agent panes (default 12)")
    parser.add_argument("--rate", type=int, help="events/s per pane (default 1000)")
    parser.add_argument("--seconds", type=float, help="feed time per variant (default 10)")
    parser.add_argument("--max-lines", type=int, help="lines kept per pane (default 2000)")
    parser.add_argument("--flush-hz", type=float, help="batched flush rate (default 25)")
    parser.add_argument("--quick", action="store_true", help="2 s per variant")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Params()
    names = ("panes", "rate", "seconds", "max_lines", "flush_hz")
    given = {name: value for name in names if (value := getattr(args, name)) is not None}
    return replace(base, **given), args


def main(argv: list[str] | None = None) -> int:
    params, args = parse_args(argv)
    if args.child:
        run_child(args.child, params, args.out)
        return 0
    run(params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
