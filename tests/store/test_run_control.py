"""The runtime's control of a run (next state, visits, last error, engine): typed,
versioned with the state but apart from the workflow's data, and read from databases
written before it had a column of its own."""

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from adw_tui.domain.control import LastError, RunControl
from adw_tui.domain.diff import ChangeKind, StateChange
from adw_tui.domain.models import RunStatus
from adw_tui.store import Store
from adw_tui.store.schema import LATEST_VERSION, MIGRATIONS, Migration
from tests.conftest import MakeRun

THEN = "2026-01-02T03:04:05.000000+00:00"
FAILED = RunControl(
    next_state="dead_letter",
    visits={"plan": 2, "build": 1},
    last_error=LastError(step="build", error_class="timeout", message="idle 300 s", attempts=3),
    engine="claude",
)


async def test_control_is_saved_with_its_version_and_kept_apart_from_the_data(
    store: Store, make_run: MakeRun
) -> None:
    run = await make_run(plan_file="specs/plan.md")

    await store.save(run.adw_id, {"plan_file": "specs/plan.md"}, 1, "build", "t", control=FAILED)

    loaded = await store.load(run.adw_id)
    assert loaded.control == FAILED
    assert (await store.get_version(run.adw_id, 2)).control == FAILED
    assert (await store.get_version(run.adw_id, 1)).control == RunControl()
    assert set(loaded.state.as_data()).isdisjoint({"next_state", "visits", "last_error"})


async def test_a_save_without_control_keeps_the_previous_versions(
    store: Store, make_run: MakeRun
) -> None:
    run = await make_run()
    await store.save(run.adw_id, {}, 1, "build", "t", control=FAILED)

    await store.save(run.adw_id, {"note": "edited"}, 2, "edit", "operator")
    await store.update(run.adw_id, lambda data: {**data, "more": 1}, reason="u", actor="t")

    assert (await store.load(run.adw_id)).control == FAILED


async def test_the_run_s_row_follows_the_pull_request_of_its_newest_version(
    store: Store, make_run: MakeRun
) -> None:
    run = await make_run()
    assert run.pr_number is None
    await store.save(run.adw_id, {"pr_number": 7, "pr_url": "https://x/pull/7"}, 1, "pr", "t")
    assert (await store.get_run(run.adw_id)).pr_number == 7
    await store.set_status(run.adw_id, RunStatus.FAILED, actor="t")
    await store.rollback(run.adw_id, 1, actor="t")
    assert (await store.get_run(run.adw_id)).pr_number is None


async def test_rollback_rewinds_the_control_too(store: Store, make_run: MakeRun) -> None:
    run = await make_run()
    planned = RunControl(next_state="build", visits={"plan": 1}, engine="sim")
    await store.save(run.adw_id, {}, 1, "plan: succeeded", "t", control=planned)
    await store.save(run.adw_id, {}, 2, "build: failed", "t", control=FAILED)
    await store.set_status(run.adw_id, RunStatus.DEAD_LETTERED, actor="t")

    await store.rollback(run.adw_id, 2, actor="operator")

    assert (await store.load(run.adw_id)).control == planned


async def test_a_diff_shows_control_changes_after_the_data(store: Store, make_run: MakeRun) -> None:
    run = await make_run()
    await store.save(run.adw_id, {}, 1, "plan", "t", control=RunControl(next_state="build"))
    await store.save(
        run.adw_id,
        {"plan_file": "p.md"},
        2,
        "build",
        "t",
        control=RunControl(next_state="test", visits={"build": 1}),
    )

    assert await store.diff(run.adw_id, 2, 3) == [
        StateChange(path="plan_file", kind=ChangeKind.CHANGED, old=None, new="p.md"),
        StateChange(path="control.next_state", kind=ChangeKind.CHANGED, old="build", new="test"),
        StateChange(path="control.visits.build", kind=ChangeKind.ADDED, new=1),
    ]


def _old_database(path: Path, versions: list[dict[str, object]]) -> None:
    """A database as adw wrote it before migration 10: the control inside the data."""
    old: tuple[Migration, ...] = tuple(m for m in MIGRATIONS if m.version < 10)
    connection = sqlite3.connect(path)
    with connection:
        for migration in old:
            connection.executescript(migration.sql)
            connection.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                (migration.version, migration.description, THEN),
            )
        connection.execute(f"PRAGMA user_version={old[-1].version}")
        connection.execute(
            "INSERT INTO runs (adw_id, workflow, status, version, created_at, updated_at) "
            "VALUES ('0a1b2c3d', 'sdlc', 'dead_lettered', 1, ?, ?)",
            (THEN, THEN),
        )
        for number, data in enumerate(versions, start=1):
            connection.execute(
                "INSERT INTO state_versions (adw_id, version, parent, data, reason, actor, "
                "created_at) VALUES ('0a1b2c3d', ?, ?, ?, 'r', 'runtime', ?)",
                (number, number - 1 or None, json.dumps(data), THEN),
            )
    connection.close()


def test_migration_moves_the_control_out_of_existing_versions(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    first: dict[str, object] = {"adw_id": "0a1b2c3d", "issue_number": "7", "engine": "claude"}
    failed: dict[str, object] = {
        **first,
        "plan_file": "specs/plan.md",
        "pr_number": 12,
        "next_state": "dead_letter",
        "visits": {"plan": 2, "build": 1},
        "last_error": {
            "step": "build",
            "error_class": "timeout",
            "message": "idle 300 s",
            "attempts": 3,
            "request": {},
        },
    }
    _old_database(path, [first, failed])

    async def read() -> tuple[RunControl, RunControl, dict[str, object], int, int | None]:
        async with await Store.open(path) as store:
            loaded = await store.load("0a1b2c3d")
            v1 = await store.get_version("0a1b2c3d", 1)
            pr_number = loaded.run.pr_number
            return (
                v1.control,
                loaded.control,
                loaded.state.as_data(),
                store.schema_version,
                pr_number,
            )

    v1_control, control, data, schema, pr_number = asyncio.run(read())

    assert schema == LATEST_VERSION
    assert pr_number == 12  # migration 11: the newest version's pull request on the row
    assert control == FAILED
    assert v1_control == RunControl(engine="claude")
    assert data["plan_file"] == "specs/plan.md"
    assert set(data).isdisjoint({"next_state", "visits", "last_error", "engine"})
    # The versions are append-only again once the migration is done.
    connection = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            connection.execute("UPDATE state_versions SET reason = 'x'")
    finally:
        connection.close()
