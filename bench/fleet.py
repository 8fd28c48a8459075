"""Benchmark: the fleet's shared database, SQLite against PostgreSQL, in one run.

Two figures, each with its baseline measured in the same round (these machines are
noisy):

- claims: 400 runs queued for the fleet, taken by 1 worker process, then by 8 at once;
  claims per second, and the ratio of 8 to 1 (bar on PostgreSQL: >= 4x: workers must not
  queue behind one another to take work). A take is the real one `adw worker` makes,
  `Fleet.take_next` (the reservation a worker makes before it starts a run) on a store
  opened as the worker opens it; the child does nothing else between takes. Both
  engines' fsync cost is in it: each take commits.
- saves: 50 writers across 4 processes, each saving its own run's state
  (`Store.update`: a read-modify-write with compare-and-set) for a fixed time; saves per
  second on each engine, and PostgreSQL's over SQLite's (bar: >= 0.5x on one host).

Every process opens the store, then waits for a start signal, so its start-up is not
timed; each reports its count, the time of its first and last operation and the CPU it
spent between them, and the rate is the total over the span from the first start to
the last end. The client CPU for each claim or save moves far less with the machine's
other work than the rates do. On the throwaway cluster the server's CPU is measured too
(its postmaster, its live backends and the ones it has reaped, from the go to a moment
after the last child ends), which gives the claims' ceiling on this machine: with every
core busy, how many claims a second fit, over what one worker makes. A ratio of 8 workers
to 1 cannot pass it, whatever the locking does.

Three rounds (one with --quick), each measuring every figure on every engine in turn; a
ratio is taken within its round, and the tables show medians (with each round's ratio),
so a burst of other work on the machine moves one round, not one side of a ratio. The
bars are judged on the medians.

PostgreSQL is a throwaway cluster made with the server's own tools (as the tests make
theirs), durable as a server's defaults are (fsync on), on a loopback port; or the
server `ADW_BENCH_POSTGRES_DSN` names (an administrator's DSN: the benchmark creates and
drops its databases there). Without either, the PostgreSQL columns say why they are
empty.

Run: `uv run python -m bench.fleet [--quick]`. Tables, then one JSON line.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psutil
from rich.table import Table

from adw_tui.domain.fleet import FleetWants, WorkerAbilities
from adw_tui.domain.models import RunState
from adw_tui.store import Store
from adw_tui.store.fleet import queued_for_fleet
from bench.common import Target, machine_figures, print_report, targets_table

DSN_VARIABLE = "ADW_BENCH_POSTGRES_DSN"
CLAIMS_BAR = 4.0
SAVES_BAR = 0.5
RUNS = 400
CLAIMERS = 8
WRITER_PROCESSES = 4
WRITERS = 50
SAVE_SECONDS = 3.0
ROUNDS = 3


@dataclass(frozen=True)
class Span:
    """What the child processes of one measurement did together."""

    count: int
    seconds: float
    cpu_seconds: float
    """The CPU the children spent in their work."""
    server_cpu_seconds: float | None
    """The database server's CPU over the same span (None: not measured)."""

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_each(self) -> float:
        return 1000 * self.cpu_seconds / self.count if self.count else 0.0

    @property
    def server_cpu_ms_each(self) -> float | None:
        if self.server_cpu_seconds is None or not self.count:
            return None
        return 1000 * self.server_cpu_seconds / self.count


class ServerCpu:
    """The CPU seconds a local PostgreSQL server's processes have used so far."""

    SETTLE_S = 0.3
    """How long the backends of clients that just ended get to exit and be reaped."""

    def __init__(self, postmaster_pid: int) -> None:
        self._postmaster = psutil.Process(postmaster_pid)

    def seconds(self) -> float:
        """The postmaster's own CPU and its reaped backends' (children_*), then the live
        ones'. A backend reaped between the two reads is missed: backends here live as
        long as a measurement, so that is rare and small."""
        own = self._postmaster.cpu_times()
        total = own.user + own.system + own.children_user + own.children_system
        for backend in self._postmaster.children():
            try:
                times = backend.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total


# The child processes: `python -m bench.fleet --child claims|saves TARGET ...`.


async def _child_claims(target: str, owner: str) -> dict[str, Any]:
    async with await Store.open(target, create=False) as store:
        _ready()
        abilities = WorkerAbilities()
        first, cpu = time.time(), time.process_time()
        count = 0
        while await store.fleet.take_next(owner, abilities) is not None:
            count += 1
        return _outcome(count, first, cpu)


async def _child_saves(target: str, adw_ids: list[str], seconds: float) -> dict[str, Any]:
    async with await Store.open(target, create=False) as store:
        _ready()
        first, cpu = time.time(), time.process_time()
        deadline = time.monotonic() + seconds
        counts = [0]

        async def writer(adw_id: str) -> None:
            while time.monotonic() < deadline:
                await store.update(
                    adw_id,
                    lambda data: {**data, "n": int(data.get("n", 0)) + 1},
                    reason="bench",
                    actor="bench",
                )
                counts[0] += 1

        await asyncio.gather(*(writer(adw_id) for adw_id in adw_ids))
        return _outcome(counts[0], first, cpu)


def _outcome(count: int, first: float, cpu: float) -> dict[str, Any]:
    return {"count": count, "first": first, "last": time.time(), "cpu": time.process_time() - cpu}


def _ready() -> None:
    """Tell the parent the store is open, then wait for its go (a line on stdin)."""
    print("ready", flush=True)
    sys.stdin.readline()


def _child(argv: list[str]) -> None:
    kind, target, *rest = argv
    if kind == "claims":
        outcome = asyncio.run(_child_claims(target, rest[0]))
    else:
        outcome = asyncio.run(_child_saves(target, rest[1:], float(rest[0])))
    print(json.dumps(outcome), flush=True)


async def _children(argvs: list[list[str]], server: ServerCpu | None) -> Span:
    """Start one child per argv, wait until each is ready, start them all at once; the
    span of their work (with the server's CPU over it, where `server` measures it)."""
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.fleet",
            "--child",
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for argv in argvs
    ]
    for child in children:
        assert child.stdout is not None
        assert (await child.stdout.readline()).strip() == b"ready"
    server_before = server.seconds() if server is not None else 0.0
    for child in children:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        await child.stdin.drain()
    outcomes = []
    for child in children:
        out, _ = await child.communicate()
        assert child.returncode == 0, f"a child failed ({child.returncode})"
        outcomes.append(json.loads(out.decode().strip().splitlines()[-1]))
    server_cpu = None
    if server is not None:
        await asyncio.sleep(ServerCpu.SETTLE_S)
        server_cpu = server.seconds() - server_before
    start = min(outcome["first"] for outcome in outcomes)
    end = max(outcome["last"] for outcome in outcomes)
    return Span(
        sum(outcome["count"] for outcome in outcomes),
        end - start,
        sum(outcome["cpu"] for outcome in outcomes),
        server_cpu,
    )


# The measurements, on one database each.


class TargetMaker(Protocol):
    """A new, empty database of one engine for each measurement: its path or DSN."""

    server: ServerCpu | None
    """What measures the engine's server, if it is a local one."""

    async def __call__(self) -> str: ...


async def _seed_queue(target: str, runs: int) -> None:
    async with await Store.open(target) as store:
        for _ in range(runs):
            adw_id = uuid.uuid4().hex[:8]
            await store.create_run(
                RunState(adw_id=adw_id),
                workflow="plan",
                actor="bench",
                with_run=queued_for_fleet(adw_id, FleetWants(engine="sim")),
            )


async def _seed_runs(target: str, runs: int) -> list[str]:
    async with await Store.open(target) as store:
        adw_ids = [uuid.uuid4().hex[:8] for _ in range(runs)]
        for adw_id in adw_ids:
            await store.create_run(RunState(adw_id=adw_id), workflow="plan", actor="bench")
        return adw_ids


async def claims(make_target: TargetMaker, runs: int, claimers: int) -> Span:
    target = await make_target()
    await _seed_queue(target, runs)
    argvs = [["claims", target, f"claimer-{i}:{i}"] for i in range(claimers)]
    return await _children(argvs, make_target.server)


async def saves(make_target: TargetMaker, seconds: float) -> Span:
    target = await make_target()
    adw_ids = await _seed_runs(target, WRITERS)
    shares = [adw_ids[i::WRITER_PROCESSES] for i in range(WRITER_PROCESSES)]
    argvs = [["saves", target, str(seconds), *share] for share in shares]
    return await _children(argvs, make_target.server)


class SqliteTargets:
    server: ServerCpu | None = None

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._made = 0

    async def __call__(self) -> str:
        self._made += 1
        return str(self._directory / f"fleet-{self._made}.db")


class PostgresTargets:
    def __init__(self, admin_dsn: str, server: ServerCpu | None) -> None:
        self._admin_dsn = admin_dsn
        self.server = server
        self.made: list[str] = []

    async def __call__(self) -> str:
        import asyncpg  # only where PostgreSQL is measured

        name = f"adw_bench_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(self._admin_dsn)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        self.made.append(name)
        return self._admin_dsn.rsplit("/", 1)[0] + f"/{name}"

    async def drop_all(self) -> None:
        import asyncpg

        admin = await asyncpg.connect(self._admin_dsn)
        try:
            for name in self.made:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@dataclass(frozen=True)
class Server:
    """The PostgreSQL server measured: an administrator's DSN (None: there is none), where
    it comes from (or why there is none), and what measures its CPU (a local cluster)."""

    admin_dsn: str | None
    source: str
    cpu: ServerCpu | None = None


@contextmanager
def postgres_server() -> Iterator[Server]:
    named = os.environ.get(DSN_VARIABLE)
    if named:
        yield Server(named, DSN_VARIABLE)
        return
    try:
        from tests.postgres import Cluster, server_binaries
    except ImportError as error:
        yield Server(None, f"the PostgreSQL test helpers are missing ({error})")
        return
    binaries = server_binaries()
    if binaries is None:
        yield Server(None, f"initdb is missing (apt-get install postgresql), {DSN_VARIABLE} unset")
        return
    cluster = Cluster(binaries, durable=True)
    try:
        cluster.start()
        postmaster_pid = int((cluster.root / "data" / "postmaster.pid").read_text().split()[0])
        source = "a throwaway PostgreSQL cluster, fsync on"
        yield Server(cluster.admin_dsn, source, ServerCpu(postmaster_pid))
    finally:
        cluster.stop()


Round = dict[str, dict[str, Span]]
"""One round's spans: engine -> figure (claims_1, claims_8, saves) -> span."""


async def measure(quick: bool) -> dict[str, Any]:
    """`ROUNDS` rounds, each measuring every figure on every engine in turn, so a burst
    of other work on the machine falls on one round's figures, not on one side of a
    ratio; each ratio is taken within its round."""
    runs, seconds, rounds = (RUNS // 4, 1.0, 1) if quick else (RUNS, SAVE_SECONDS, ROUNDS)
    figures: dict[str, Any] = {"runs": runs, "save_seconds": seconds, "rounds": []}
    with (
        tempfile.TemporaryDirectory(prefix="adw-bench-fleet-") as directory,
        postgres_server() as server,
    ):
        figures["postgres_source"] = server.source
        makers: dict[str, TargetMaker] = {"sqlite": SqliteTargets(Path(directory))}
        postgres = None
        if server.admin_dsn is not None:
            postgres = PostgresTargets(server.admin_dsn, server.cpu)
        if postgres is not None:
            makers["postgres"] = postgres
        try:
            for _ in range(rounds):
                measured: Round = {engine: {} for engine in makers}
                for engine, make_target in makers.items():
                    measured[engine]["claims_1"] = await claims(make_target, runs, 1)
                    measured[engine]["claims_8"] = await claims(make_target, runs, CLAIMERS)
                for engine, make_target in makers.items():
                    measured[engine]["saves"] = await saves(make_target, seconds)
                figures["rounds"].append(measured)
        finally:
            if postgres is not None:
                await postgres.drop_all()
    return figures


def _claims_ratio(measured: dict[str, Span]) -> float:
    return measured["claims_8"].per_second / max(measured["claims_1"].per_second, 1e-9)


def _saves_ratio(measured: Round) -> float:
    return measured["postgres"]["saves"].per_second / max(
        measured["sqlite"]["saves"].per_second, 1e-9
    )


def _claims_ceiling(one_worker: Span) -> float | None:
    """The most `CLAIMERS` workers can make of one worker's claims/s on this machine:
    every core busy at one worker's CPU (client and server) per claim. None where the
    server's CPU is not measured."""
    server_ms = one_worker.server_cpu_ms_each
    if server_ms is None or one_worker.per_second <= 0:
        return None
    cores = min(os.cpu_count() or 1, CLAIMERS)
    return cores * 1000 / (one_worker.cpu_ms_each + server_ms) / one_worker.per_second


def _median(values: list[float]) -> tuple[float, list[float]]:
    return statistics.median(values), values


def _median_or_none(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _listed(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def report(figures: dict[str, Any], started: float, load: tuple[float, float, float]) -> None:
    rounds: list[Round] = figures["rounds"]
    source = figures["postgres_source"]
    table = Table(title=f"The fleet's database, medians of {len(rounds)} rounds ({source})")
    columns = (
        "engine",
        "claims/s, 1 worker",
        f"claims/s, {CLAIMERS}",
        "ratio",
        "client CPU ms a claim, 1 / 8",
        "server CPU ms a claim, 1 / 8",
        "ratio's ceiling here",
        "saves/s",
        "client / server CPU ms a save",
    )
    for column in columns:
        table.add_column(column, justify="right")
    line: dict[str, Any] = {"bench": "fleet", "runs": figures["runs"], "rounds": len(rounds)}
    ratios: dict[str, tuple[float, list[float]]] = {}
    ceilings: dict[str, float | None] = {}
    for engine in ("sqlite", "postgres"):
        if engine not in rounds[0]:
            table.add_row(engine, *["-"] * (len(columns) - 1))
            continue
        spans = [measured[engine] for measured in rounds]
        medians = {
            name: _median([span[name].per_second for span in spans])
            for name in ("claims_1", "claims_8", "saves")
        }
        cpu = {
            name: statistics.median(span[name].cpu_ms_each for span in spans)
            for name in ("claims_1", "claims_8", "saves")
        }
        server = {
            name: _median_or_none([span[name].server_cpu_ms_each for span in spans])
            for name in ("claims_1", "claims_8", "saves")
        }
        ratios[engine] = _median([_claims_ratio(span) for span in spans])
        ceiling = _median_or_none([_claims_ceiling(span["claims_1"]) for span in spans])
        ceilings[engine] = ceiling
        table.add_row(
            engine,
            f"{medians['claims_1'][0]:,.0f}",
            f"{medians['claims_8'][0]:,.0f}",
            f"{ratios[engine][0]:.2f} ({_listed(ratios[engine][1])})",
            f"{cpu['claims_1']:.3f} / {cpu['claims_8']:.3f}",
            f"{_ms(server['claims_1'])} / {_ms(server['claims_8'])}",
            "-" if ceilings[engine] is None else f"{ceilings[engine]:.2f}",
            f"{medians['saves'][0]:,.0f}",
            f"{cpu['saves']:.3f} / {_ms(server['saves'])}",
        )
        line[engine] = {
            **{f"{name}_per_s": round(median, 1) for name, (median, _) in medians.items()},
            **{f"{name}_client_cpu_ms": round(each, 4) for name, each in cpu.items()},
            **{
                f"{name}_server_cpu_ms": None if each is None else round(each, 4)
                for name, each in server.items()
            },
            "claims_ratio": round(ratios[engine][0], 3),
            "claims_ratios": [round(ratio, 3) for ratio in ratios[engine][1]],
            "claims_ratio_ceiling": None if ceiling is None else round(ceiling, 3),
        }
    checks = []
    if "postgres" in rounds[0]:
        saves_ratio, each = _median([_saves_ratio(measured) for measured in rounds])
        line["saves_ratio_postgres_to_sqlite"] = round(saves_ratio, 3)
        line["saves_ratios"] = [round(ratio, 3) for ratio in each]
        checks = [
            Target(
                f"claims/s, {CLAIMERS} workers vs 1 (PostgreSQL, median)",
                f">= {CLAIMS_BAR:g}",
                f"{ratios['postgres'][0]:.2f}"
                + (
                    ""
                    if ceilings["postgres"] is None
                    else f" (this machine's ceiling: {ceilings['postgres']:.2f})"
                ),
                ratios["postgres"][0] >= CLAIMS_BAR,
            ),
            Target(
                "saves/s, PostgreSQL vs SQLite (50 writers, 4 processes, median)",
                f">= {SAVES_BAR:g}",
                f"{saves_ratio:.2f} ({_listed(each)})",
                saves_ratio >= SAVES_BAR,
            ),
        ]
    line["targets_met"] = all(check.met for check in checks) if checks else None
    line["postgres_source"] = figures["postgres_source"]
    line.update(machine_figures(load, started))
    print_report([table, targets_table(checks)], line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 runs, 1 s of saves, one round")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    load, started = os.getloadavg(), time.perf_counter()
    report(asyncio.run(measure(args.quick)), started, load)


if __name__ == "__main__":
    main()
