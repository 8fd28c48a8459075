"""Benchmark: the versioned SQLite store against the designs it replaces, in one run.

Four ways of persisting run state are measured one after the other, in one process, in
one fresh temporary directory:

- store: `adw_tui.store.Store`, one aiosqlite writer connection behind an asyncio.Lock,
  BEGIN IMMEDIATE, WAL, synchronous=FULL; a save (and a read-modify-write,
  `Store.update`) runs whole on the writer's thread in one call, and saves that queue
  meanwhile commit together in one transaction (group commit).
- json_files: the original ADW layout, `<dir>/<adw_id>/adw_state.json`, loaded with
  json.load and rewritten whole with json.dump on every save.
- sqlite_conn_per_call: the "improvement plan": every load and every save opens its own
  sqlite3 connection (WAL), does its work, commits and closes. A save appends the next
  version after whatever is current, with no compare-and-set: last writer wins.
- raw_sqlite: plain sqlite3 on one connection, doing the store's transaction (BEGIN
  IMMEDIATE; INSERT state_versions, whose triggers compare-and-set the run; COMMIT) with the
  same schema, triggers and PRAGMAs, sequentially in one thread: the practical limit.

For each it measures:

1. save and load latency (p50, p99) with a single writer;
2. saves per second with N concurrent writers (asyncio tasks; file and per-call SQLite
   I/O goes through asyncio.to_thread, one thread per writer, so it really interleaves),
   each incrementing its own counter in the state of runs shared round-robin. raw_sqlite
   has one connection and no concurrency: its writers run the same transactions in turn;
3. lost updates: increments made minus increments present in the final states. A load
   and a save that are separate calls let another writer save in between, and one of the
   two increments vanishes; the store and raw_sqlite read and write in one transaction.
   json_files can do worse: a load may meet a half-written file (a failed update), and two
   saves racing on one file can leave it unparseable for good (a corrupt run, all of
   whose increments count as lost). The store's version history is also checked to be
   contiguous (1..n, each version the parent of the next).

Why the baselines run in the same process: absolute figures on a shared or virtual
machine swing from run to run (fsync cost, noisy neighbours, CPU frequency), so the
targets are stated as ratios to raw SQLite measured on the same disk in the same minute.

The table goes to stdout, followed by exactly one JSON line (the last line) with every
figure. Run: `uv run python bench/store.py [--quick]`.
"""

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Self

from rich.table import Table

from adw_tui.domain.errors import StaleVersionError
from adw_tui.store import Store
from adw_tui.store.backend import now_iso
from bench.common import Target, filesystem_of, print_report, targets_table

State = dict[str, Any]
Change = Callable[[State], State]
Loaded = tuple[int, State]

ACTOR = "bench"
WORKFLOW = "bench"
REASON = "bench save"
BUSY_TIMEOUT_S = 60.0
TARGET_WRITERS_RATIO = 0.25
TARGET_SAVE_P99_MS = 1.0


@dataclass(frozen=True)
class Params:
    writers: int = 50
    saves_per_writer: int = 40
    single_saves: int = 1000
    warmup: int = 50
    runs: int = 10
    quick: bool = False


QUICK = Params(writers=5, saves_per_writer=5, single_saves=20, warmup=5, runs=2, quick=True)


class UnreadableStateError(Exception):
    """A stored state could not be parsed: a reader met a torn or interleaved write."""


# The approaches: one small class each, all with the same async interface.


class Approach(ABC):
    name: str

    @classmethod
    @abstractmethod
    async def open(cls, directory: Path) -> Self: ...

    @abstractmethod
    async def create_run(self, adw_id: str, state: State) -> None: ...

    @abstractmethod
    async def load(self, adw_id: str) -> Loaded:
        """The run's current version and state."""

    @abstractmethod
    async def save(self, adw_id: str, state: State, expected_version: int) -> int:
        """Save `state` on top of `expected_version`; return the new version."""

    async def read_modify_write(self, adw_id: str, change: Change) -> None:
        """A load and a save as separate calls: another writer may save in between."""
        version, state = await self.load(adw_id)
        await self.save(adw_id, change(state), version)

    async def history_contiguous(self, adw_ids: list[str]) -> bool | None:
        """Whether every run's versions are 1..n, each the parent of the next (None: n/a)."""
        return None

    async def close(self) -> None:
        return None


class StoreApproach(Approach):
    name = "store"

    def __init__(self, store: Store) -> None:
        self._store = store

    @classmethod
    async def open(cls, directory: Path) -> Self:
        return cls(await Store.open(directory / "adw_state.db"))

    async def create_run(self, adw_id: str, state: State) -> None:
        await self._store.create_run(state, workflow=WORKFLOW, actor=ACTOR)

    async def load(self, adw_id: str) -> Loaded:
        loaded = await self._store.load(adw_id)
        return loaded.run.version, loaded.state.as_data()

    async def save(self, adw_id: str, state: State, expected_version: int) -> int:
        return await self._store.save(adw_id, state, expected_version, REASON, ACTOR)

    async def read_modify_write(self, adw_id: str, change: Change) -> None:
        await self._store.update(adw_id, change, reason=REASON, actor=ACTOR)

    async def history_contiguous(self, adw_ids: list[str]) -> bool | None:
        for adw_id in adw_ids:
            run = await self._store.get_run(adw_id)
            history = await self._store.history(adw_id, limit=run.version + 1)
            chain = [(info.version, info.parent) for info in reversed(history)]
            if chain != [(v, v - 1 if v > 1 else None) for v in range(1, run.version + 1)]:
                return False
        return True

    async def close(self) -> None:
        await self._store.close()


class JsonFiles(Approach):
    name = "json_files"

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    @classmethod
    async def open(cls, directory: Path) -> Self:
        return cls(directory)

    def _path(self, adw_id: str) -> Path:
        return self._directory / adw_id / "adw_state.json"

    async def create_run(self, adw_id: str, state: State) -> None:
        await asyncio.to_thread(self._path(adw_id).parent.mkdir, parents=True)
        await self.save(adw_id, state, 0)

    async def load(self, adw_id: str) -> Loaded:
        return 0, await asyncio.to_thread(_read_json, self._path(adw_id))

    async def save(self, adw_id: str, state: State, expected_version: int) -> int:
        await asyncio.to_thread(_write_json, self._path(adw_id), state)
        return expected_version + 1


class SqliteConnPerCall(Approach):
    name = "sqlite_conn_per_call"

    def __init__(self, path: Path) -> None:
        self._path = path

    @classmethod
    async def open(cls, directory: Path) -> Self:
        return cls(await create_schema(directory / "adw_state.db"))

    async def create_run(self, adw_id: str, state: State) -> None:
        await asyncio.to_thread(self._create_run, adw_id, state)

    async def load(self, adw_id: str) -> Loaded:
        return await asyncio.to_thread(self._load, adw_id)

    async def save(self, adw_id: str, state: State, expected_version: int) -> int:
        return await asyncio.to_thread(self._save, adw_id, state)

    def _create_run(self, adw_id: str, state: State) -> None:
        with closing_connection(self._path) as connection, write(connection):
            sql_create_run(connection, adw_id, state)

    def _load(self, adw_id: str) -> Loaded:
        with closing_connection(self._path) as connection:
            return sql_current(connection, adw_id)

    def _save(self, adw_id: str, state: State) -> int:
        with closing_connection(self._path) as connection, write(connection):
            current, _ = sql_current(connection, adw_id)
            return sql_append(connection, adw_id, state, current)


class RawSqlite(Approach):
    name = "raw_sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    @classmethod
    async def open(cls, directory: Path) -> Self:
        return cls(connect(await create_schema(directory / "adw_state.db")))

    async def create_run(self, adw_id: str, state: State) -> None:
        with write(self._connection):
            sql_create_run(self._connection, adw_id, state)

    async def load(self, adw_id: str) -> Loaded:
        return sql_current(self._connection, adw_id)

    async def save(self, adw_id: str, state: State, expected_version: int) -> int:
        with write(self._connection):
            return sql_append(self._connection, adw_id, state, expected_version)

    async def read_modify_write(self, adw_id: str, change: Change) -> None:
        with write(self._connection):
            version, state = sql_current(self._connection, adw_id)
            sql_append(self._connection, adw_id, change(state), version)

    async def close(self) -> None:
        self._connection.close()


APPROACHES: tuple[type[Approach], ...] = (StoreApproach, JsonFiles, SqliteConnPerCall, RawSqlite)


# File and SQL helpers shared by the approaches.


def _read_json(path: Path) -> State:
    try:
        with path.open(encoding="utf-8") as file:
            state: State = json.load(file)
    except json.JSONDecodeError as error:
        raise UnreadableStateError(str(path)) from error
    return state


def _write_json(path: Path, state: State) -> None:
    with path.open("w", encoding="utf-8") as file:
        json.dump(state, file, indent=2)


async def create_schema(path: Path) -> Path:
    """Create the store's schema (its own migrations) in a new database file."""
    store = await Store.open(path)
    await store.close()
    return path


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the store's settings: autocommit, WAL, synchronous=FULL."""
    connection = sqlite3.connect(
        path, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False
    )
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


@contextmanager
def closing_connection(path: Path) -> Iterator[sqlite3.Connection]:
    connection = connect(path)
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def write(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taken up front as the store does."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def sql_create_run(connection: sqlite3.Connection, adw_id: str, state: State) -> None:
    now = now_iso()
    connection.execute(
        "INSERT INTO runs (adw_id, workflow, status, version, created_at, updated_at) "
        "VALUES (?, ?, 'queued', 1, ?, ?)",
        (adw_id, WORKFLOW, now, now),
    )
    _insert_version(connection, adw_id, state, 1, None)


def sql_current(connection: sqlite3.Connection, adw_id: str) -> Loaded:
    row = connection.execute(
        "SELECT runs.version, state_versions.data FROM runs "
        "JOIN state_versions USING (adw_id) "
        "WHERE runs.adw_id = ? AND state_versions.version = runs.version",
        (adw_id,),
    ).fetchone()
    return int(row[0]), json.loads(row[1])


def sql_append(connection: sqlite3.Connection, adw_id: str, state: State, version: int) -> int:
    """Insert the version after `version`; the schema's triggers compare-and-set the run."""
    try:
        _insert_version(connection, adw_id, state, version + 1, version)
    except sqlite3.IntegrityError as error:
        raise StaleVersionError(adw_id, version, -1) from error
    return version + 1


def _insert_version(
    connection: sqlite3.Connection, adw_id: str, state: State, version: int, parent: int | None
) -> None:
    connection.execute(
        "INSERT INTO state_versions (adw_id, version, parent, data, reason, actor, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (adw_id, version, parent, json.dumps(state), REASON, ACTOR, now_iso()),
    )


# The workload driver, the same for every approach.


@dataclass(frozen=True)
class Latencies:
    """Single-writer latencies, milliseconds."""

    save_p50_ms: float
    save_p99_ms: float
    load_p50_ms: float
    load_p99_ms: float

    @classmethod
    def of(cls, saves: list[float], loads: list[float]) -> Self:
        return cls(*percentiles_ms(saves), *percentiles_ms(loads))


@dataclass(frozen=True)
class Writers:
    """The concurrent read-modify-write workload. `lost_updates` counts every increment
    missing from the final states: those lost to an interleaved save, and the
    `failed_updates` that could not read the state at all. `corrupt_runs` are runs whose
    final state cannot be parsed."""

    writers50_saves_per_s: float
    lost_updates: int
    failed_updates: int
    corrupt_runs: int
    history_contiguous: bool | None


@dataclass(frozen=True)
class Figures:
    latency: Latencies
    writers: Writers

    def as_json(self) -> dict[str, Any]:
        fields = {**asdict(self.latency), **asdict(self.writers)}
        return {
            key: round(value, 4) if isinstance(value, float) else value
            for key, value in fields.items()
        }


def run_id(index: int) -> str:
    return f"{index:08x}"


def initial_state(adw_id: str) -> State:
    """A state shaped like a real ADW run's, plus the counters the writers increment."""
    return {
        "adw_id": adw_id,
        "issue_number": "123",
        "branch_name": f"feat-issue-123-adw-{adw_id}-add-dark-mode",
        "plan_file": f"specs/issue-123-adw-{adw_id}-sdlc_planner-add-dark-mode.md",
        "issue_class": "/feature",
        "worktree_path": f"/home/dev/project/trees/{adw_id}",
        "backend_port": 9100,
        "frontend_port": 9200,
        "model_set": "base",
        "all_adws": ["adw_plan_iso", "adw_build_iso"],
        "counters": {},
    }


def increment(key: str, state: State) -> State:
    counters: dict[str, int] = state.setdefault("counters", {})
    counters[key] = counters.get(key, 0) + 1
    return state


def percentiles_ms(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of `samples` (milliseconds)."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


async def time_calls(
    call: Callable[[int], Awaitable[object]], warmup: int, count: int
) -> list[float]:
    """Milliseconds each of `count` calls took, after `warmup` untimed calls."""
    for index in range(warmup):
        await call(index)
    samples: list[float] = []
    for index in range(warmup, warmup + count):
        start = time.perf_counter()
        await call(index)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def single_writer(approach: Approach, params: Params) -> tuple[list[float], list[float]]:
    """Save and load latencies of one writer on one run."""
    adw_id = run_id(0)
    state = initial_state(adw_id)
    await approach.create_run(adw_id, state)
    version = 1

    async def save(index: int) -> None:
        nonlocal version
        state["counters"]["single"] = index
        version = await approach.save(adw_id, state, version)

    saves = await time_calls(save, params.warmup, params.single_saves)
    loads = await time_calls(lambda _: approach.load(adw_id), params.warmup, params.single_saves)
    return saves, loads


async def writer(approach: Approach, index: int, adw_ids: list[str], count: int) -> int:
    """Increment counter `w<index>` `count` times on runs taken round-robin; return failures."""
    change = partial(increment, f"w{index}")
    failed = 0
    for step in range(count):
        try:
            await approach.read_modify_write(adw_ids[(index + step) % len(adw_ids)], change)
        except UnreadableStateError:
            failed += 1
    return failed


async def increments_present(approach: Approach, adw_id: str) -> int | None:
    """The increments in the run's final state; None if that state cannot be parsed."""
    try:
        _, state = await approach.load(adw_id)
    except UnreadableStateError:
        return None
    counters: dict[str, int] = state.get("counters", {})
    return sum(counters.values())


async def concurrent_writers(approach: Approach, params: Params) -> Writers:
    adw_ids = [run_id(1 + index) for index in range(params.runs)]
    for adw_id in adw_ids:
        await approach.create_run(adw_id, initial_state(adw_id))
    start = time.perf_counter()
    failures = await asyncio.gather(
        *(
            writer(approach, index, adw_ids, params.saves_per_writer)
            for index in range(params.writers)
        )
    )
    elapsed = time.perf_counter() - start
    attempted = params.writers * params.saves_per_writer
    present = [await increments_present(approach, adw_id) for adw_id in adw_ids]
    return Writers(
        writers50_saves_per_s=(attempted - sum(failures)) / elapsed,
        lost_updates=attempted - sum(count or 0 for count in present),
        failed_updates=sum(failures),
        corrupt_runs=present.count(None),
        history_contiguous=await approach.history_contiguous(adw_ids),
    )


async def measure(kind: type[Approach], directory: Path, params: Params) -> Figures:
    directory.mkdir()
    approach = await kind.open(directory)
    try:
        saves, loads = await single_writer(approach, params)
        writers = await concurrent_writers(approach, params)
    finally:
        await approach.close()
    return Figures(Latencies.of(saves, loads), writers)


async def measure_all(params: Params) -> dict[str, Figures]:
    # One thread per writer, so the to_thread approaches interleave as separate processes would.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=params.writers))
    with tempfile.TemporaryDirectory(prefix="adw-bench-store-") as tmp:
        return {
            kind.name: await measure(kind, Path(tmp) / kind.name, params) for kind in APPROACHES
        }


# Ratios, targets, report.

RATIO_BASELINES = {
    "raw": "raw_sqlite",
    "json_files": "json_files",
    "conn_per_call": "sqlite_conn_per_call",
}


def ratios(figures: dict[str, Figures]) -> dict[str, float]:
    store, raw = figures["store"].latency, figures["raw_sqlite"].latency
    result = {
        f"store_vs_{label}_writers50": figures["store"].writers.writers50_saves_per_s
        / figures[name].writers.writers50_saves_per_s
        for label, name in RATIO_BASELINES.items()
    }
    result["store_vs_raw_save_p50"] = store.save_p50_ms / raw.save_p50_ms
    result["store_vs_raw_save_p99"] = store.save_p99_ms / raw.save_p99_ms
    return result


def targets(figures: dict[str, Figures], ratio: dict[str, float]) -> list[Target]:
    writers, latency = figures["store"].writers, figures["store"].latency
    writers_ratio = ratio["store_vs_raw_writers50"]
    return [
        Target(
            "store_vs_raw_writers50",
            f">= {TARGET_WRITERS_RATIO}",
            f"{writers_ratio:.3f}",
            writers_ratio >= TARGET_WRITERS_RATIO,
        ),
        Target(
            "store_save_p99_ms",
            f"<= {TARGET_SAVE_P99_MS}",
            f"{latency.save_p99_ms:.3f}",
            latency.save_p99_ms <= TARGET_SAVE_P99_MS,
        ),
        Target("store_lost_updates", "0", str(writers.lost_updates), writers.lost_updates == 0),
        Target(
            "store_history_contiguous",
            "true",
            str(writers.history_contiguous).lower(),
            writers.history_contiguous is True,
        ),
    ]


def figures_table(figures: dict[str, Figures], params: Params) -> Table:
    table = Table(
        title=f"State persistence: {params.writers} writers x {params.saves_per_writer} "
        f"read-modify-writes on {params.runs} runs; {params.single_saves} single saves"
    )
    table.add_column("approach", no_wrap=True)
    columns = [
        *("save p50 ms", "save p99 ms", "load p50 ms", "load p99 ms"),
        *(f"{params.writers}-writer saves/s", "lost updates", "failed updates", "corrupt runs"),
    ]
    for column in columns:
        table.add_column(column, justify="right")
    for name, row in figures.items():
        latency, writers = asdict(row.latency).values(), row.writers
        table.add_row(
            name,
            *(f"{value:.3f}" for value in latency),
            f"{writers.writers50_saves_per_s:,.0f}",
            str(writers.lost_updates),
            str(writers.failed_updates),
            str(writers.corrupt_runs),
        )
    return table


def ratios_table(ratio: dict[str, float]) -> Table:
    table = Table(
        title="Store / baseline (saves/s: higher is better, latency: lower)", min_width=60
    )
    table.add_column("ratio")
    table.add_column("value", justify="right")
    for name, value in ratio.items():
        table.add_row(name, f"{value:.3f}")
    return table


def environment(elapsed_s: float) -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "tmp_fs": filesystem_of(Path(tempfile.gettempdir())),
        "elapsed_s": round(elapsed_s, 2),
    }


def report(figures: dict[str, Figures], params: Params, elapsed_s: float) -> None:
    ratio = ratios(figures)
    checks = targets(figures, ratio)
    line = {
        "bench": "store",
        "approaches": {name: row.as_json() for name, row in figures.items()},
        "ratios": {name: round(value, 4) for name, value in ratio.items()},
        "targets": {check.name: check.met for check in checks},
        "params": {**asdict(params), **environment(elapsed_s)},
    }
    print_report((figures_table(figures, params), ratios_table(ratio), targets_table(checks)), line)


def parse_params(argv: list[str] | None) -> Params:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--writers", type=int, help="concurrent writers (default 50)")
    parser.add_argument("--saves-per-writer", type=int, help="read-modify-writes each (default 40)")
    parser.add_argument("--single-saves", type=int, help="timed single-writer saves (default 1000)")
    parser.add_argument("--runs", type=int, help="runs the writers share (default 10)")
    parser.add_argument("--quick", action="store_true", help="tiny numbers, for a smoke test")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Params()
    given = {
        name: value
        for name in ("writers", "saves_per_writer", "single_saves", "runs")
        if (value := getattr(args, name)) is not None
    }
    return replace(base, **given)


def main(argv: list[str] | None = None) -> int:
    params = parse_params(argv)
    start = time.perf_counter()
    figures = asyncio.run(measure_all(params))
    report(figures, params, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
