"""Benchmark: a scout step's scouts run in parallel, so the step lasts as long as its
slowest scout ("T_total = max(T_agent)").

Four scouts of the simulated agent (real subprocesses, paced by `ADW_SIM_DELAY` to about
five seconds each: a real scout takes from half a minute to its three, so this is the
harder case, where a fixed cost of parallelism weighs most) search one worktree. Each is
timed alone, as a step of one scout; then the four together, as one step. Times are the
step's own, from its first scout's start to the step's end (the worktree checks, the
answers' checks and the merge included), the median of a few rounds. The target: the
four-scout step takes at most 1.1 times the slowest scout alone.

Run: `uv run python -m bench.scouts [--quick]`. Tables, then one JSON line.
"""

import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from rich.table import Table

from adw_tui.config import load_settings
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.events import RuntimeEvent, ScoutChanged, StepFinished
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.sample_repo import create_sample_repo
from adw_tui.store import Store
from bench.common import Target, machine_figures, print_report, quick_requested, targets_table

SCOUTS = [
    {"engine": "sim", "model": "sonnet"},
    {"engine": "sim", "model": "haiku"},
    {"engine": "sim", "model": "opus"},
    {"engine": "sim", "model": "claude-sonnet-4-5"},
]
DELAY_S = "1.0"
RATIO = 1.1
WORKFLOW = """\
name: scouting
states:
  worktree:
    action: setup_worktree
    on_success: scout
    on_failure: dead_letter
  scout:
    scouts: {scouts}
    args: ["${{issue_json}}"]
    on_success: complete
    on_failure: dead_letter
  complete:
    terminal: true
  dead_letter:
    terminal: true
    action: record_failure
"""


async def step_seconds(directory: Path, name: str, scouts: list[dict[str, str]]) -> float:
    """The scout step's wall time in a run of its own."""
    repo = await create_sample_repo(directory / name)
    folder = repo / ".adw" / "workflows"
    folder.mkdir(parents=True)
    (folder / "scouting.yaml").write_text(WORKFLOW.format(scouts=json.dumps(scouts)))
    settings = load_settings(repo).model_copy(update={"engine": "sim"})
    marks: dict[str, float] = {}

    def listen(event: RuntimeEvent) -> None:
        if isinstance(event, ScoutChanged):
            marks.setdefault("start", time.perf_counter())
        elif isinstance(event, StepFinished) and event.step == "scout":
            marks["end"] = time.perf_counter()

    async with await Store.open(repo / "agents" / "adw_state.db") as store:
        issue = await store.issues.create("Count the words in the words helper", "x")
        orchestrator = Orchestrator(store, repo, settings)
        orchestrator.bus.listeners.append(listen)
        try:
            adw_id = await orchestrator.launch(
                issue.number, workflow="scouting", engine_env={"ADW_SIM_DELAY": DELAY_S}
            )
            run = await orchestrator.wait(adw_id)
        finally:
            await orchestrator.aclose()
    if run.status is not RunStatus.SUCCEEDED:
        raise RuntimeError(f"the scouting run {adw_id} ended {run.status}")
    return marks["end"] - marks["start"]


async def measure(directory: Path, rounds: int) -> tuple[list[float], float]:
    """Each scout alone (median seconds), and the four together (median seconds)."""
    alone = [
        statistics.median(
            [await step_seconds(directory, f"alone{i}-{r}", [scout]) for r in range(rounds)]
        )
        for i, scout in enumerate(SCOUTS)
    ]
    together = statistics.median(
        [await step_seconds(directory, f"all-{r}", SCOUTS) for r in range(rounds)]
    )
    return alone, together


def main() -> None:
    rounds = 1 if quick_requested(__doc__, "one round instead of three") else 3
    load_before, started = os.getloadavg(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="adw-bench-") as name:
        alone, together = asyncio.run(measure(Path(name), rounds))
    slowest = max(alone)
    ratio = together / slowest
    table = Table(title=f"A scout step's wall time (median of {rounds})")
    for column in ("scouts", "engine/model", "step s"):
        table.add_column(column)
    for scout, seconds in zip(SCOUTS, alone, strict=True):
        table.add_row("1 alone", f"{scout['engine']}/{scout['model']}", f"{seconds:.2f}")
    table.add_row(f"{len(SCOUTS)} in parallel", "all of the above", f"{together:.2f}")
    checks = [
        Target(
            f"{len(SCOUTS)} scouts / the slowest alone",
            f"<= {RATIO:g}",
            f"{ratio:.2f}",
            ratio <= RATIO,
        )
    ]
    print_report(
        [table, targets_table(checks)],
        {
            "bench": "scouts",
            "scouts": len(SCOUTS),
            "rounds": rounds,
            "sim_delay_s": float(DELAY_S),
            "alone_s": [round(seconds, 3) for seconds in alone],
            "parallel_s": round(together, 3),
            "ratio": round(ratio, 3),
            "targets_met": all(check.met for check in checks),
            **machine_figures(load_before, started),
        },
    )


if __name__ == "__main__":
    main()
