"""Writes run whole on the writer's thread and commit in groups: one transaction for the
saves that queued meanwhile, each undone alone when it fails."""

import asyncio
import threading
from pathlib import Path

import pytest

from adw_tui.domain.errors import StaleVersionError
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
