"""Benchmark: how soon a dashboard hears that a worker's step ended, on SQLite and on
PostgreSQL, against the dashboard's polling, in one run.

A worker process runs `RUNS` runs side by side; each step of a run starts an attempt,
"works" for about `STEP_S`, then ends: the clock is read, and the state version and the
attempt's end are saved in one transaction, as the executor saves them. Another process
(the dashboard's host) listens as the dashboard does (`Store.changes`) and notes when
each version's notice reaches it; the latency is from the step's end (before its commit)
to that moment, so it includes the commit. Bar: p99 <= 100 ms on each engine.

The baseline, measured in the same run on the same steps: the dashboard's polling
(`REFRESH_S`: the newest update time of any run, and when it moved the window of runs),
which sees a version at its first poll after the commit. Its ratio to the notices' is
how much sooner a dashboard now sees a step end.

PostgreSQL is a throwaway durable cluster (as bench/fleet.py makes it) or the server
`ADW_BENCH_POSTGRES_DSN` names; SQLite is a file, its two processes on one host (as
SQLite's processes always are). Both processes read one clock.

Run: `uv run python -m bench.fleet_events [--quick]`. Tables, then one JSON line.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from rich.table import Table

from adw_tui.domain.models import RunState
from adw_tui.domain.steps import StepStatus
from adw_tui.store import Store
from adw_tui.store.changes import ChangeKind
from adw_tui.store.steps import AttemptEnd
from adw_tui.tui.screens.dashboard import REFRESH_S
from bench.common import Target, machine_figures, print_report, targets_table
from bench.fleet import PostgresTargets, SqliteTargets, postgres_server

BAR_MS = 100.0
RUNS = 4
STEP_S = 0.1
SECONDS = 12.0

Key = tuple[str, int]
"""A run and one of its versions."""


# The worker: `python -m bench.fleet_events --child TARGET SECONDS`.


async def _child(target: str, seconds: float) -> list[tuple[str, int, float]]:
    """Run `RUNS` runs' steps for `seconds`; each step's (run, version, end time)."""
    async with await Store.open(target) as store:
        adw_ids = [uuid.uuid4().hex[:8] for _ in range(RUNS)]
        for adw_id in adw_ids:
            await store.create_run(RunState(adw_id=adw_id), workflow="plan", actor="bench")
        print("ready", flush=True)
        sys.stdin.readline()
        ended: list[tuple[str, int, float]] = []
        deadline = time.monotonic() + seconds

        async def steps(adw_id: str) -> None:
            version = 1
            while time.monotonic() < deadline:
                attempt = await store.steps.start(adw_id, "build", visit=version, attempt=1)
                await asyncio.sleep(random.uniform(0.5, 1.5) * STEP_S)
                end = time.time()
                version = await store.save(
                    adw_id,
                    {"step": version},
                    version,
                    "step ended",
                    "bench",
                    ends=[AttemptEnd(attempt, StepStatus.SUCCEEDED)],
                )
                ended.append((adw_id, version, end))

        await asyncio.gather(*(steps(adw_id) for adw_id in adw_ids))
        return ended


# The dashboard's host.


async def _notices(store: Store, heard: dict[Key, float], stop: asyncio.Event) -> None:
    """When each version's notice arrives (`Store.changes`, as the dashboard listens)."""
    async with store.changes() as changes:
        while not stop.is_set():
            try:
                async with asyncio.timeout(0.1):
                    batch = await changes.next()
            except TimeoutError:
                continue
            now = time.time()
            for change in batch:
                if change.kind is ChangeKind.RUN and change.adw_id is not None:
                    heard.setdefault((change.adw_id, change.seq), now)


async def _polls(store: Store, seen: dict[Key, float], stop: asyncio.Event) -> float:
    """When each version shows to the dashboard's polling (every `REFRESH_S`: the runs'
    marker, and the window when it moved); the time of the last poll."""
    marker: str | None = None
    versions: dict[str, int] = {}
    last = time.time()
    while not stop.is_set():
        await asyncio.sleep(REFRESH_S)
        last = time.time()
        if (moved := await store.runs_marker()) == marker:
            continue
        marker = moved
        for run in await store.runs_window(offset=0, limit=100):
            for version in range(versions.get(run.adw_id, 0) + 1, run.version + 1):
                seen.setdefault((run.adw_id, version), last)
            versions[run.adw_id] = run.version
    return last


async def measure_engine(target: str, seconds: float) -> dict[str, Any]:
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.fleet_events",
        "--child",
        target,
        str(seconds),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert worker.stdin is not None
    assert worker.stdout is not None
    assert (await worker.stdout.readline()).strip() == b"ready"
    heard: dict[Key, float] = {}
    polled: dict[Key, float] = {}
    stop = asyncio.Event()
    async with await Store.open(target, create=False) as store:
        listening = asyncio.create_task(_notices(store, heard, stop))
        await asyncio.sleep(0.5)  # subscribed before the first step ends
        polling = asyncio.create_task(_polls(store, polled, stop))
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
        out, _ = await worker.communicate()
        assert worker.returncode == 0, f"the worker failed ({worker.returncode})"
        await asyncio.sleep(REFRESH_S + 0.5)  # the last notices, and a last poll
        stop.set()
        await listening
        last_poll = await polling
    ended = [tuple(item) for item in json.loads(out.decode().strip().splitlines()[-1])]
    notices = [heard[(a, v)] - end for a, v, end in ended if (a, v) in heard]
    polls = [polled[(a, v)] - end for a, v, end in ended if end < last_poll and (a, v) in polled]
    return {
        "steps": len(ended),
        "missed": len(ended) - len(notices),
        "notice_ms": _percentiles(notices),
        "poll_ms": _percentiles(polls),
    }


def _percentiles(latencies_s: list[float]) -> dict[str, float]:
    if len(latencies_s) < 2:
        return {"p50": float("nan"), "p99": float("nan")}
    cuts = statistics.quantiles(latencies_s, n=100, method="inclusive")
    return {"p50": round(cuts[49] * 1000, 2), "p99": round(cuts[98] * 1000, 2)}


async def measure(quick: bool) -> dict[str, Any]:
    seconds = SECONDS / 3 if quick else SECONDS
    figures: dict[str, Any] = {"seconds": seconds}
    with tempfile.TemporaryDirectory(prefix="adw-bench-events-") as directory:
        figures["sqlite"] = await measure_engine(await SqliteTargets(Path(directory))(), seconds)
        with postgres_server() as server:
            figures["postgres_source"] = server.source
            if server.admin_dsn is not None:
                postgres = PostgresTargets(server.admin_dsn, None)
                try:
                    figures["postgres"] = await measure_engine(await postgres(), seconds)
                finally:
                    await postgres.drop_all()
    return figures


def report(figures: dict[str, Any], started: float, load: tuple[float, float, float]) -> None:
    table = Table(
        title=f"A step's end to another process's dashboard ({figures['postgres_source']})"
    )
    columns = ("engine", "steps", "notice p50 ms", "notice p99 ms", "poll p50 ms", "poll p99 ms")
    for column in (*columns, "poll/notice p99"):
        table.add_column(column, justify="right")
    line: dict[str, Any] = {"bench": "fleet_events", "refresh_s": REFRESH_S, "runs": RUNS}
    checks: list[Target] = []
    for engine in ("sqlite", "postgres"):
        measured = figures.get(engine)
        if measured is None:
            table.add_row(engine, *("-" for _ in range(len(columns))))
            continue
        notice, poll = measured["notice_ms"], measured["poll_ms"]
        ratio = poll["p99"] / max(notice["p99"], 1e-9)
        table.add_row(
            engine,
            str(measured["steps"]),
            f"{notice['p50']:.1f}",
            f"{notice['p99']:.1f}",
            f"{poll['p50']:.0f}",
            f"{poll['p99']:.0f}",
            f"{ratio:.0f}x",
        )
        line[engine] = {**measured, "poll_to_notice_p99": round(ratio, 1)}
        checks.append(
            Target(
                f"notice p99, step end to dashboard ({engine})",
                f"<= {BAR_MS:g} ms, none missed",
                f"{notice['p99']:.1f} ms, {measured['missed']} missed",
                notice["p99"] <= BAR_MS and measured["missed"] == 0,
            )
        )
    line["targets_met"] = all(check.met for check in checks)
    line["postgres_source"] = figures["postgres_source"]
    line.update(machine_figures(load, started))
    print_report([table, targets_table(checks)], line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{SECONDS / 3:g} s per engine")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        target, seconds = args.child
        print(json.dumps(asyncio.run(_child(target, float(seconds)))), flush=True)
        return
    load, started = os.getloadavg(), time.perf_counter()
    report(asyncio.run(measure(args.quick)), started, load)


if __name__ == "__main__":
    main()
