"""Writes run whole on the writer's thread and commit in groups: one transaction for the
saves that queued meanwhile, each undone alone when it fails."""

import asyncio
import threading
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from adw_tui.domain.errors import RunNotFoundError, StaleVersionError
from adw_tui.store import Store
from adw_tui.store.backend import IntegrityError
from adw_tui.store.group_commit import SyncWriter, Write


async def test_concurrent_saves_commit_together(db_path: Path, groups: list[int]) -> None:
    async with await Store.open(db_path) as store:
        ids = [f"{n:08x}" for n in range(50)]
        for adw_id in ids:
            await store.create_run({"adw_id": adw_id}, workflow="w", actor="t")
        groups.clear()

        versions = await asyncio.gather(
            *(store.save(adw_id, {"n": n}, 1, "save", "t") for n, adw_id in enumerate(ids))
        )

        assert versions == [2] * 50
        assert sum(groups) == 50
        assert len(groups) < 50 / 5, f"50 saves took {len(groups)} transactions"
        for n, adw_id in enumerate(ids):
            assert (await store.load(adw_id)).state.as_data()["n"] == n


async def test_a_failing_write_is_undone_alone(db_path: Path, groups: list[int]) -> None:
    async with await Store.open(db_path) as store:
        for adw_id in ("0000000a", "0000000b"):
            await store.create_run({"adw_id": adw_id}, workflow="w", actor="t")
        groups.clear()

        first, stale, other = await asyncio.gather(
            store.save("0000000a", {"by": "first"}, 1, "r", "t"),
            store.save("0000000a", {"by": "second"}, 1, "r", "t"),
            store.save("0000000b", {"by": "other"}, 1, "r", "t"),
            return_exceptions=True,
        )

        assert groups == [3]
        assert (first, other) == (2, 2)
        assert isinstance(stale, StaleVersionError)
        assert (await store.load("0000000a")).state.as_data()["by"] == "first"
        assert [v.version for v in await store.history("0000000a")] == [2, 1]
        assert (await store.load("0000000b")).state.as_data()["by"] == "other"


async def test_statements_sent_without_waiting_fail_only_their_own_write(
    store: Store, groups: list[int]
) -> None:
    """Writes about runs hold back the statements they `send` and send them together;
    one that the database refuses then (a version written twice) undoes its own write
    alone, as one that raises at once."""
    for adw_id in ("0000000a", "0000000b"):
        await store.create_run({"adw_id": adw_id}, workflow="w", actor="t")

    def step(adw_id: str, name: str) -> Write[None]:
        def write(connection: SyncWriter) -> None:
            connection.send("UPDATE runs SET current_step = ? WHERE adw_id = ?", (name, adw_id))

        return write

    def version_one_again(connection: SyncWriter) -> None:
        connection.send(
            "INSERT INTO state_versions (adw_id, version, data, control, reason, actor, "
            "created_at) VALUES ('0000000b', 1, '{}', '{}', 'again', 't', 'now')"
        )

    groups.clear()
    first, again, second = await asyncio.gather(
        store._db.write(step("0000000a", "first"), run="0000000a"),
        store._db.write(version_one_again, run="0000000b"),
        store._db.write(step("0000000b", "second"), run="0000000b"),
        return_exceptions=True,
    )

    assert groups == [3]
    assert (first, second) == (None, None)
    assert isinstance(again, IntegrityError)
    assert (await store.get_run("0000000a")).current_step == "first"
    assert (await store.get_run("0000000b")).current_step == "second"
    assert [v.reason for v in await store.history("0000000b")] == ["run created"]


async def test_a_write_that_began_commits_with_its_group_though_its_caller_stopped(
    store: Store, groups: list[int]
) -> None:
    """A caller cancelled once its write has begun: the write commits with its group, even
    when another write of the group fails and the group runs again in savepoints."""
    await store.create_run({"adw_id": "0000000a"}, workflow="w", actor="t")
    loop = asyncio.get_running_loop()
    stopped = threading.Event()
    callers: list[asyncio.Future[None]] = []

    def first(connection: SyncWriter) -> None:
        connection.execute("UPDATE runs SET current_step = 'first' WHERE adw_id = ?", ("0000000a",))
        loop.call_soon_threadsafe(callers[0].cancel)
        assert stopped.wait(5)

    def refused(_connection: SyncWriter) -> None:
        raise ValueError("refused")

    groups.clear()
    callers.append(asyncio.ensure_future(store._db.write(first)))
    callers[0].add_done_callback(lambda _caller: stopped.set())
    failing = asyncio.ensure_future(store._db.write(refused))
    with pytest.raises(asyncio.CancelledError):
        await callers[0]
    with pytest.raises(ValueError, match="refused"):
        await failing
    assert groups == [2]
    assert (await store.get_run("0000000a")).current_step == "first"


async def test_updates_of_a_group_each_read_their_own_run(store: Store, groups: list[int]) -> None:
    """A group reads its runs' current states at once (`reads`): each update gets its
    own run's, a second update of a run in the group the first one's version, and an
    update of a run that does not exist its own error."""
    ids = [f"{n:08x}" for n in range(12)]
    for n, adw_id in enumerate(ids):
        await store.create_run({"adw_id": adw_id, "n": 10 * n}, workflow="w", actor="t")

    def plus_one(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "n": int(data["n"]) + 1}

    groups.clear()
    versions = await asyncio.gather(
        *(store.update(adw_id, plus_one, reason="r", actor="t") for adw_id in ids),
        store.update(ids[0], plus_one, reason="r", actor="t"),
    )
    missing, other = await asyncio.gather(
        store.update("0000ffff", plus_one, reason="r", actor="t"),
        store.update(ids[1], plus_one, reason="r", actor="t"),
        return_exceptions=True,
    )

    assert groups == [13, 2]
    assert versions == [2] * 12 + [3]
    assert isinstance(missing, RunNotFoundError)
    assert other == 3
    assert [(await store.load(adw_id)).state.as_data()["n"] for adw_id in ids] == [
        0 + 2,
        10 + 2,
        *(10 * n + 1 for n in range(2, 12)),
    ]
    assert [v.version for v in await store.history(ids[0])] == [3, 2, 1]


STEP = "SELECT current_step FROM runs WHERE adw_id = ?"


def set_step(adw_id: str, step: str, connection: SyncWriter) -> None:
    connection.execute("UPDATE runs SET current_step = ? WHERE adw_id = ?", (step, adw_id))


def read_step(adw_id: str, connection: SyncWriter) -> str:
    return str(connection.execute(STEP, (adw_id,)).fetchone()[0])


async def test_a_query_read_ahead_is_not_answered_once_its_run_wrote(
    store: Store, groups: list[int]
) -> None:
    """A write whose declared first query comes after a statement about its run reads
    what that statement did, not what the group read before it."""
    for adw_id in ("0000000a", "0000000b"):
        await store.create_run({"adw_id": adw_id}, workflow="w", actor="t")

    def step_after_sending(connection: SyncWriter) -> str:
        connection.send("UPDATE runs SET current_step = 'sent' WHERE adw_id = ?", ("0000000a",))
        return str(connection.execute(STEP, ("0000000a",)).fetchone()[0])

    groups.clear()
    after_sending, of_b = await asyncio.gather(
        store._db.write(step_after_sending, run="0000000a", reads=STEP),
        store._db.write(partial(read_step, "0000000b"), run="0000000b", reads=STEP),
    )

    assert groups == [2]
    assert (after_sending, of_b) == ("sent", "None")


async def test_each_write_of_a_group_is_answered_its_own_runs_rows(
    store: Store, groups: list[int]
) -> None:
    """The first queries a group reads ahead are answered to their own runs, even where a
    wrong answer would raise nothing."""
    ids = [f"{n:08x}" for n in range(12)]
    for adw_id in ids:
        await store.create_run({"adw_id": adw_id}, workflow="w", actor="t")
        await store._db.write(partial(set_step, adw_id, f"step of {adw_id}"))
    groups.clear()

    steps = await asyncio.gather(
        *(store._db.write(partial(read_step, adw_id), run=adw_id, reads=STEP) for adw_id in ids)
    )

    assert groups == [len(ids)]
    assert steps == [f"step of {adw_id}" for adw_id in ids]
