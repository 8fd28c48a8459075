"""Many writers at once: asyncio tasks on one Store, OS processes on one database (a
SQLite file, a PostgreSQL database), a crash."""

import asyncio
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

from adw_tui.domain.errors import DatabaseLockedError, StaleVersionError
from adw_tui.store import Store
from adw_tui.store.location import DatabaseLocation, PostgresDsn
from tests.conftest import MakeRun

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_RETRIES = 1_000  # per save: far above what a working store needs, so a broken one fails


def bump(data: dict[str, Any], name: str) -> dict[str, Any]:
    counters = dict(data.get("counters") or {})
    counters[name] = counters.get(name, 0) + 1
    return {**data, "counters": counters}


async def assert_contiguous(store: Store, adw_id: str) -> int:
    """Check versions 1..N are all there, each the child of the one before; return N."""
    history = await store.history(adw_id, limit=1_000_000)
    latest = (await store.get_run(adw_id)).version
    assert [info.version for info in history] == list(range(latest, 0, -1))
    assert [info.parent for info in history] == [*range(latest - 1, 0, -1), None]
    return latest


# In one process: asyncio tasks sharing one Store


async def test_many_writers_with_update_lose_nothing(store: Store, make_run: MakeRun) -> None:
    writers, saves_each = 50, 200
    runs = [(await make_run()).adw_id for _ in range(5)]
    returned: dict[str, list[int]] = defaultdict(list)
    saves: Counter[tuple[str, str]] = Counter()
    locked: list[DatabaseLockedError] = []

    async def writer(index: int) -> None:
        name = f"w{index}"
        for step in range(saves_each):
            adw_id = runs[(index + step) % len(runs)]
            try:
                version = await store.update(
                    adw_id, lambda data: bump(data, name), reason=f"{name} {step}", actor=name
                )
            except DatabaseLockedError as error:
                locked.append(error)
                continue
            returned[adw_id].append(version)
            saves[adw_id, name] += 1

    await asyncio.gather(*(writer(index) for index in range(writers)))

    assert locked == []
    assert sum(saves.values()) == writers * saves_each
    for adw_id in runs:
        latest = await assert_contiguous(store, adw_id)
        # Every successful update got its own version, and there is no other version.
        assert sorted(returned[adw_id]) == list(range(2, latest + 1))
        counters = (await store.load(adw_id)).state.as_data()["counters"]
        assert counters == {name: n for (run, name), n in saves.items() if run == adw_id}
        assert sum(counters.values()) == latest - 1


async def test_compare_and_set_writers_retry_and_lose_nothing(
    store: Store, make_run: MakeRun
) -> None:
    writers, saves_each = 20, 20
    runs = [(await make_run()).adw_id for _ in range(5)]
    returned: dict[str, list[int]] = defaultdict(list)
    saves: Counter[tuple[str, str]] = Counter()
    stale: list[tuple[int, int, int]] = []  # (version loaded, error.expected, error.actual)

    async def writer(index: int) -> None:
        name = f"w{index}"
        for step in range(saves_each):
            adw_id = runs[(index + step) % len(runs)]
            for _ in range(MAX_RETRIES):
                current = await store.load(adw_id)
                data = bump(current.state.as_data(), name)
                expected = current.run.version
                try:
                    version = await store.save(adw_id, data, expected, f"{name} {step}", name)
                except StaleVersionError as error:
                    stale.append((expected, error.expected, error.actual))
                    continue
                assert version == expected + 1
                break
            else:
                pytest.fail(f"{name} lost the race {MAX_RETRIES} times in a row on {adw_id}")
            returned[adw_id].append(version)
            saves[adw_id, name] += 1

    await asyncio.gather(*(writer(index) for index in range(writers)))

    assert stale, "the writers never raced: the test did not exercise compare-and-set"
    assert all(expected == said and actual > said for expected, said, actual in stale)
    for adw_id in runs:
        latest = await assert_contiguous(store, adw_id)
        assert sorted(returned[adw_id]) == list(range(2, latest + 1))
        counters = (await store.load(adw_id)).state.as_data()["counters"]
        assert counters == {name: n for (run, name), n in saves.items() if run == adw_id}
        assert sum(counters.values()) == latest - 1
    assert sum(saves.values()) == writers * saves_each


# Across OS processes: tests/store/writer_process.py


def start_writer(
    location: DatabaseLocation, name: str, runs: list[str], count: int, mode: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.store.writer_process",
            location.url if isinstance(location, PostgresDsn) else str(location),
            name,
            ",".join(runs),
            str(count),
            "--mode",
            mode,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def reaped(processes: list[subprocess.Popen[str]]) -> Iterator[None]:
    """Kill whatever is still running when the block ends, so no test leaves writers behind."""
    try:
        yield
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


def make_runs(location: DatabaseLocation, count: int) -> list[str]:
    async def create() -> list[str]:
        async with await Store.open(location) as store:
            ids = [f"{index:08x}" for index in range(1, count + 1)]
            for adw_id in ids:
                await store.create_run({"adw_id": adw_id}, workflow="bench", actor="test")
            return ids

    return asyncio.run(create())


def parse_commits(output: str) -> list[tuple[str, int, int]]:
    """The `committed <adw_id> <version> <counter>` lines, complete lines only."""
    commits = []
    for line in output.splitlines(keepends=True):
        parts = line.split()
        if line.endswith("\n") and len(parts) == 4 and parts[0] == "committed":
            commits.append((parts[1], int(parts[2]), int(parts[3])))
    return commits


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["update", "cas"])
def test_processes_share_one_database(db_location: DatabaseLocation, mode: str) -> None:
    """Every save of every process commits exactly one version: on PostgreSQL, the
    write lock and the run row's lock under READ COMMITTED (see `store.postgres`)."""
    processes_n, saves_each = 8, 200
    runs = make_runs(db_location, 3)
    processes = [
        start_writer(db_location, f"p{index}", runs, saves_each, mode)
        for index in range(processes_n)
    ]
    outputs: dict[str, tuple[int | None, str, str]] = {}
    deadline = time.monotonic() + 120
    with reaped(processes):
        for index, process in enumerate(processes):
            stdout, stderr = process.communicate(timeout=max(1, deadline - time.monotonic()))
            outputs[f"p{index}"] = (process.returncode, stdout, stderr)

    for name, (returncode, stdout, stderr) in outputs.items():
        assert returncode == 0, f"{name} exited {returncode}: {stderr}"
        assert "locked" not in stderr.lower()
        assert stdout.splitlines()[-1].startswith(f"done {saves_each} ")

    claimed: dict[str, list[int]] = defaultdict(list)
    saved_by: Counter[tuple[str, str]] = Counter()
    for name, (_, stdout, _) in outputs.items():
        commits = parse_commits(stdout)
        assert len(commits) == saves_each
        for adw_id, version, counter in commits:
            claimed[adw_id].append(version)
            saved_by[adw_id, name] += 1
            # A process's counter on a run goes up by one with each of its saves there.
            assert counter == saved_by[adw_id, name]

    async def verify() -> None:
        async with await Store.open(db_location, create=False) as store:
            for adw_id in runs:
                latest = await assert_contiguous(store, adw_id)
                # No version claimed twice, none missing: total versions = 1 + saves.
                assert sorted(claimed[adw_id]) == list(range(2, latest + 1))
                counters = (await store.load(adw_id)).state.as_data()["counters"]
                assert counters == {n: c for (run, n), c in saved_by.items() if run == adw_id}
            assert sum(len(versions) for versions in claimed.values()) == processes_n * saves_each

    asyncio.run(verify())


def read_lines(stream: IO[str], into: "queue.Queue[str | None]") -> None:
    for line in stream:
        into.put(line)
    into.put(None)


@pytest.mark.slow
def test_sigkill_mid_save_loses_no_committed_version(db_location: DatabaseLocation) -> None:
    [adw_id] = make_runs(db_location, 1)
    writer = start_writer(db_location, "crash", [adw_id], 0, "update")
    lines: queue.Queue[str | None] = queue.Queue()
    assert writer.stdout is not None
    reader = threading.Thread(target=read_lines, args=(writer.stdout, lines), daemon=True)
    reader.start()
    reported: list[str] = []
    with reaped([writer]):
        deadline = time.monotonic() + 60
        while len(parse_commits("".join(reported))) < 100:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, (
                f"writer ended early: {writer.stderr.read() if writer.stderr else ''}"
            )
            reported.append(line)
        assert writer.poll() is None, "the writer stopped before it was killed"
        os.kill(writer.pid, signal.SIGKILL)
        assert writer.wait(timeout=10) == -signal.SIGKILL
        reader.join(timeout=10)
    while not lines.empty():  # what the writer printed between our last read and the kill
        if (line := lines.get_nowait()) is not None:
            reported.append(line)

    commits = parse_commits("".join(reported))
    assert len(commits) >= 100
    assert [version for _, version, _ in commits] == list(range(2, len(commits) + 2))

    if isinstance(db_location, Path):
        raw = sqlite3.connect(db_location)
        try:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            raw.close()

    async def verify() -> None:
        async with await Store.open(db_location, create=False) as store:
            latest = await assert_contiguous(store, adw_id)
            # Every reported version is there; at most the one in flight came after.
            assert commits[-1][1] <= latest <= commits[-1][1] + 1
            for run, version, counter in commits:
                state = (await store.get_version(run, version)).state.as_data()
                assert state["counters"] == {"crash": counter}
                assert counter == version - 1
                assert state["payload"].startswith(f"crash:{counter}:")

    asyncio.run(verify())
