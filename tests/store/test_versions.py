"""Versioned run state: compare-and-set saves, history, diff, rollback, append-only rows."""

from typing import Any

import pytest

from adw_tui.domain.diff import ChangeKind, StateChange
from adw_tui.domain.errors import (
    AdwError,
    RunActiveError,
    RunExistsError,
    RunNotFoundError,
    StaleVersionError,
    VersionNotFoundError,
)
from adw_tui.domain.models import RunState, RunStatus, StateVersion
from adw_tui.store import Store
from adw_tui.store.backend import IntegrityError
from tests.conftest import MakeRun, raw_execute

UNKNOWN_RUN = "deadbeef"


async def all_versions(store: Store, adw_id: str) -> list[StateVersion]:
    """Every stored version of a run, oldest first, data included."""
    infos = await store.history(adw_id, limit=10_000)
    return [await store.get_version(adw_id, info.version) for info in reversed(infos)]


async def snapshot(store: Store, adw_id: str) -> tuple[Any, ...]:
    """Everything a write could change about a run: the run row, every version, its audit."""
    return (
        await store.get_run(adw_id),
        await all_versions(store, adw_id),
        await store.audit.entries(adw_id=adw_id, limit=10_000),
    )


async def test_create_run_writes_version_1(store: Store) -> None:
    run = await store.create_run(
        {"adw_id": "0a1b2c3d", "issue_number": "42", "plan_file": "specs/plan.md"},
        workflow="adw_plan_build",
        actor="cli",
        issue="42",
        git_head="c0ffee",
    )

    assert (run.adw_id, run.version, run.status, run.issue) == ("0a1b2c3d", 1, "queued", "42")
    [info] = await store.history("0a1b2c3d")
    assert (info.version, info.parent, info.reason, info.actor, info.git_head) == (
        1,
        None,
        "run created",
        "cli",
        "c0ffee",
    )
    first = await store.get_version("0a1b2c3d", 1)
    assert first.state.issue_number == "42"
    assert first.state.plan_file == "specs/plan.md"
    loaded = await store.load("0a1b2c3d")
    assert loaded.run == run
    assert loaded.state == first.state
    [entry] = await store.audit.entries(adw_id="0a1b2c3d")
    assert (entry.action, entry.actor) == ("run.create", "cli")


async def test_create_run_twice_is_refused_and_writes_nothing(
    store: Store, make_run: MakeRun
) -> None:
    run = await make_run(issue_number="1")
    before = await snapshot(store, run.adw_id)

    with pytest.raises(RunExistsError, match=run.adw_id):
        await store.create_run(
            {"adw_id": run.adw_id, "issue_number": "2"}, workflow="other", actor="test"
        )

    assert await snapshot(store, run.adw_id) == before


async def test_save_writes_the_next_version(store: Store, make_run: MakeRun) -> None:
    run = await make_run(issue_number="7")

    version = await store.save(
        run.adw_id,
        {"issue_number": "7", "branch_name": "feat-7"},
        1,
        "plan written",
        "planner",
        git_head="abc123",
    )

    assert version == 2
    saved = await store.get_version(run.adw_id, 2)
    assert (saved.version, saved.parent, saved.reason, saved.actor, saved.git_head) == (
        2,
        1,
        "plan written",
        "planner",
        "abc123",
    )
    assert saved.state.branch_name == "feat-7"
    assert saved.state.adw_id == run.adw_id
    loaded = await store.load(run.adw_id)
    assert loaded.run.version == 2
    assert loaded.state == saved.state
    # Version 1 is untouched.
    assert (await store.get_version(run.adw_id, 1)).state.branch_name is None

    assert await store.save(run.adw_id, {"branch_name": "feat-7b"}, 2, "again", "builder") == 3
    third = await store.get_version(run.adw_id, 3)
    assert (third.parent, third.git_head, third.state.branch_name) == (2, None, "feat-7b")


@pytest.mark.parametrize("expected", [-1, 0, 1, 3, 9])
async def test_stale_expected_version_is_refused_and_writes_nothing(
    store: Store, make_run: MakeRun, expected: int
) -> None:
    run = await make_run()
    await store.save(run.adw_id, {"branch_name": "a"}, 1, "first", "test")
    before = await snapshot(store, run.adw_id)

    with pytest.raises(StaleVersionError) as caught:
        await store.save(run.adw_id, {"branch_name": "b"}, expected, "stale", "test")

    assert (caught.value.expected, caught.value.actual) == (expected, 2)
    assert f"at version 2, not {expected}" in str(caught.value)
    assert await snapshot(store, run.adw_id) == before
    assert (await store.load(run.adw_id)).state.branch_name == "a"


async def test_save_to_an_unknown_run_raises(store: Store, make_run: MakeRun) -> None:
    other = await make_run()

    with pytest.raises(RunNotFoundError, match=UNKNOWN_RUN):
        await store.save(UNKNOWN_RUN, {"branch_name": "x"}, 1, "nowhere", "test")

    for read in (store.get_run, store.load, store.history):
        with pytest.raises(RunNotFoundError):
            await read(UNKNOWN_RUN)
    assert [run.adw_id for run in await store.list_runs()] == [other.adw_id]


async def test_free_form_state_keys_round_trip(store: Store, make_run: MakeRun) -> None:
    extra: dict[str, Any] = {
        "review": {"passes": 2, "notes": ["tighten tests", "rename flag"], "ok": False},
        "cost_estimate": 1.25,
        "labels": ["bug", {"nested": [1, 2, None]}],
        "empty": {},
    }
    run = await make_run(issue_number="9", **extra)

    first = (await store.get_version(run.adw_id, 1)).state.as_data()
    assert {key: first[key] for key in extra} == extra
    assert first["issue_number"] == "9"

    changed = {**first, "review": {**extra["review"], "passes": 3}, "added_later": "yes"}
    await store.save(run.adw_id, changed, 1, "review", "reviewer")

    loaded = (await store.load(run.adw_id)).state.as_data()
    assert loaded == changed
    assert (await store.get_version(run.adw_id, 2)).state.as_data() == changed


async def test_state_of_another_run_is_refused(store: Store, make_run: MakeRun) -> None:
    run = await make_run()
    other = await make_run()
    before = (await snapshot(store, run.adw_id), await snapshot(store, other.adw_id))

    with pytest.raises(AdwError, match="cannot be saved"):
        await store.save(run.adw_id, {"adw_id": other.adw_id}, 1, "mixup", "test")
    with pytest.raises(AdwError, match="cannot be saved"):
        await store.save(run.adw_id, RunState(adw_id=other.adw_id), 1, "mixup", "test")
    with pytest.raises(AdwError, match="cannot be saved"):
        await store.update(
            run.adw_id, lambda data: {**data, "adw_id": other.adw_id}, reason="x", actor="t"
        )

    assert (await snapshot(store, run.adw_id), await snapshot(store, other.adw_id)) == before
    # The failed update left no transaction open behind it.
    assert await store.save(run.adw_id, {"branch_name": "ok"}, 1, "fine", "test") == 2


async def test_history_is_newest_first_and_pages(store: Store, make_run: MakeRun) -> None:
    run = await make_run()
    for version in range(1, 120):
        await store.save(run.adw_id, {"step": version}, version, f"save {version}", "test")

    pages = []
    before = None
    for _ in range(10):  # bounded: a store that pages wrongly must fail, not loop forever
        page = await store.history(run.adw_id, limit=50, before=before)
        if not page:
            break
        pages.append(page)
        before = page[-1].version

    assert [len(page) for page in pages] == [50, 50, 20]
    versions = [info.version for page in pages for info in page]
    assert versions == list(range(120, 0, -1))  # contiguous, newest first, no overlap
    assert [info.parent for page in pages for info in page] == [*range(119, 0, -1), None]
    assert pages[0][0].reason == "save 119"
    assert [info.version for info in await store.history(run.adw_id)] == list(range(120, 70, -1))
    assert [info.version for info in await store.history(run.adw_id, limit=3, before=50)] == [
        49,
        48,
        47,
    ]


async def test_get_version_of_a_missing_version_raises(store: Store, make_run: MakeRun) -> None:
    run = await make_run()
    await store.save(run.adw_id, {"branch_name": "b"}, 1, "second", "test")

    for missing in (0, 3, 99):
        with pytest.raises(VersionNotFoundError, match=r"versions 1\.\.2 exist") as caught:
            await store.get_version(run.adw_id, missing)
        assert caught.value.version == missing
    with pytest.raises(RunNotFoundError):
        await store.get_version(UNKNOWN_RUN, 1)


async def test_diff_lists_added_removed_and_changed_keys(store: Store, make_run: MakeRun) -> None:
    run = await make_run(
        issue_number="7",
        plan={"steps": ["design", "build"], "owner": "ann", "meta": {"draft": True}},
        obsolete=1,
    )
    await store.save(
        run.adw_id,
        {
            "issue_number": "8",
            "branch_name": "feat-8",
            "plan": {
                "steps": ["design", "test"],
                "owner": "ann",
                "meta": {"draft": False},
                "reviewed": True,
            },
            "fresh": {"a": 1},
        },
        1,
        "edit",
        "test",
    )

    changes = await store.diff(run.adw_id, 1, 2)

    assert changes == [
        StateChange(path="branch_name", kind=ChangeKind.CHANGED, old=None, new="feat-8"),
        StateChange(path="fresh", kind=ChangeKind.ADDED, new={"a": 1}),
        StateChange(path="issue_number", kind=ChangeKind.CHANGED, old="7", new="8"),
        StateChange(path="obsolete", kind=ChangeKind.REMOVED, old=1),
        StateChange(path="plan.meta.draft", kind=ChangeKind.CHANGED, old=True, new=False),
        StateChange(path="plan.reviewed", kind=ChangeKind.ADDED, new=True),
        StateChange(path="plan.steps[1]", kind=ChangeKind.CHANGED, old="build", new="test"),
    ]
    assert await store.diff(run.adw_id, 2, 2) == []
    reverse = await store.diff(run.adw_id, 2, 1)
    assert {(change.path, change.kind) for change in reverse} >= {
        ("fresh", ChangeKind.REMOVED),
        ("obsolete", ChangeKind.ADDED),
        ("plan.reviewed", ChangeKind.REMOVED),
    }
    with pytest.raises(VersionNotFoundError):
        await store.diff(run.adw_id, 1, 3)


async def test_rollback_forks_a_new_version(store: Store, make_run: MakeRun) -> None:
    run = await make_run(step=1)
    for version in (1, 2, 3):
        await store.save(run.adw_id, {"step": version + 1}, version, f"step {version}", "test")
    await store.set_status(run.adw_id, RunStatus.FAILED, actor="test")
    older = await all_versions(store, run.adw_id)

    new_version = await store.rollback(run.adw_id, 2, actor="operator", git_head="beef")

    assert new_version == 5
    fork = await store.get_version(run.adw_id, 5)
    assert fork.state == older[1].state
    assert fork.state.as_data()["step"] == 2
    assert (fork.parent, fork.actor, fork.git_head) == (2, "operator", "beef")
    assert "2" in fork.reason
    assert (await store.load(run.adw_id)).state == older[1].state
    assert (await store.get_run(run.adw_id)).version == 5
    assert (await all_versions(store, run.adw_id))[:4] == older
    [entry, *_] = await store.audit.entries(adw_id=run.adw_id)
    assert (entry.action, entry.actor) == ("run.rollback", "operator")
    assert entry.detail == {"from_version": 4, "to_version": 2, "new_version": 5}

    # The fork is an ordinary head: saving on it continues from 5.
    assert await store.save(run.adw_id, {"step": 9}, 5, "after rollback", "test") == 6
    assert (await store.get_version(run.adw_id, 6)).parent == 5


async def test_rollback_to_a_missing_version_writes_nothing(
    store: Store, make_run: MakeRun
) -> None:
    run = await make_run()
    await store.save(run.adw_id, {"branch_name": "b"}, 1, "second", "test")
    await store.set_status(run.adw_id, RunStatus.SUCCEEDED, actor="test")
    before = await snapshot(store, run.adw_id)

    with pytest.raises(VersionNotFoundError, match="no state version 7"):
        await store.rollback(run.adw_id, 7, actor="operator")
    with pytest.raises(RunNotFoundError):
        await store.rollback(UNKNOWN_RUN, 1, actor="operator")

    assert await snapshot(store, run.adw_id) == before


@pytest.mark.parametrize("claimed", [False, True], ids=["queued", "running"])
async def test_rollback_of_a_run_not_stopped_writes_nothing(
    store: Store, make_run: MakeRun, claimed: bool
) -> None:
    """Checked in the write transaction: a process that claimed the run after the caller
    looked would otherwise see its next save fail on the fork."""
    run = await make_run()
    await store.save(run.adw_id, {"branch_name": "b"}, 1, "second", "test")
    if claimed:
        await store.claims.claim(run.adw_id, "worker-1")
    before = await snapshot(store, run.adw_id)

    status = "running by worker-1" if claimed else "queued"
    with pytest.raises(RunActiveError, match=f"is {status}: .*nothing was written"):
        await store.rollback(run.adw_id, 1, actor="operator")

    assert await snapshot(store, run.adw_id) == before


async def test_update_applies_the_change_to_the_current_state(
    store: Store, make_run: MakeRun
) -> None:
    run = await make_run(count=0)
    await store.save(run.adw_id, {"count": 5}, 1, "five", "test")
    seen: list[dict[str, Any]] = []

    def increment(data: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(data))
        return {**data, "count": data["count"] + 1}

    version = await store.update(
        run.adw_id, increment, reason="increment", actor="worker", git_head="f00d"
    )

    assert version == 3
    assert [data["count"] for data in seen] == [5]
    assert seen[0]["adw_id"] == run.adw_id
    saved = await store.get_version(run.adw_id, 3)
    assert (saved.parent, saved.reason, saved.actor, saved.git_head) == (
        2,
        "increment",
        "worker",
        "f00d",
    )
    assert saved.state.as_data()["count"] == 6
    assert (await store.load(run.adw_id)).run.version == 3


async def test_update_whose_change_fails_writes_nothing(store: Store, make_run: MakeRun) -> None:
    run = await make_run(count=0)
    before = await snapshot(store, run.adw_id)

    def broken(data: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("step crashed")

    with pytest.raises(ValueError, match="step crashed"):
        await store.update(run.adw_id, broken, reason="broken", actor="worker")
    with pytest.raises(RunNotFoundError):
        await store.update(UNKNOWN_RUN, dict, reason="nowhere", actor="worker")

    assert await snapshot(store, run.adw_id) == before
    # The failed transactions were rolled back: the next write goes through.
    assert await store.update(run.adw_id, lambda d: {**d, "count": 1}, reason="ok", actor="w") == 2


async def test_triggers_refuse_raw_update_and_delete_of_versions(
    store: Store, make_run: MakeRun
) -> None:
    run = await make_run(branch_name="original")
    before = await all_versions(store, run.adw_id)

    with pytest.raises(IntegrityError, match="append-only"):
        await raw_execute(
            store,
            "UPDATE state_versions SET data = ?, reason = 'tampered' WHERE adw_id = ?",
            (f'{{"adw_id": "{run.adw_id}"}}', run.adw_id),
        )
    with pytest.raises(IntegrityError, match="append-only"):
        await raw_execute(store, "DELETE FROM state_versions WHERE adw_id = ?", (run.adw_id,))
    with pytest.raises(IntegrityError, match="append-only"):
        await raw_execute(store, "DELETE FROM state_versions")
    # Compare-and-set holds for raw writers too: only version 2 may follow version 1.
    for version in (0, 3):
        with pytest.raises(IntegrityError, match="stale version"):
            await raw_execute(
                store,
                "INSERT INTO state_versions (adw_id, version, parent, data, reason, actor, "
                "created_at) VALUES (?, ?, 1, '{}', 'raw', 'raw', 'now')",
                (run.adw_id, version),
            )

    assert await store.count_versions(run.adw_id) == 1
    assert await all_versions(store, run.adw_id) == before


async def test_set_status_moves_the_run_and_is_audited(store: Store, make_run: MakeRun) -> None:
    run = await make_run()

    moved = await store.set_status(
        run.adw_id, RunStatus.RUNNING, actor="runner", current_step="plan"
    )

    assert (moved.status, moved.current_step, moved.version) == (RunStatus.RUNNING, "plan", 1)
    assert moved.updated_at >= run.updated_at
    assert await store.get_run(run.adw_id) == moved
    assert [r.adw_id for r in await store.list_runs(status=RunStatus.RUNNING)] == [run.adw_id]
    assert await store.list_runs(status=RunStatus.QUEUED) == []
    [entry, created] = await store.audit.entries(adw_id=run.adw_id)
    assert (entry.action, entry.actor, created.action) == ("run.status", "runner", "run.create")
    assert entry.detail == {"status": "running", "current_step": "plan"}
    assert len(await store.history(run.adw_id)) == 1  # a status move is not a state version

    with pytest.raises(RunNotFoundError):
        await store.set_status(UNKNOWN_RUN, RunStatus.FAILED, actor="runner")
    assert len(await store.audit.entries()) == 2


async def test_a_takeover_is_a_version_of_the_same_state_and_an_audit_entry(
    store: Store, make_run: MakeRun
) -> None:
    run = await make_run(issue_number="1", branch_name="b")
    await store.set_status(run.adw_id, RunStatus.FAILED, actor="test")
    before = await store.load(run.adw_id)
    detail = {"step": "build", "exit_code": 0}
    version = await store.record_takeover(
        run.adw_id, reason="operator took over build", actor="operator", detail=detail
    )
    assert version == before.run.version + 1
    after = await store.get_version(run.adw_id, version)
    assert (after.state, after.control) == (before.state, before.control)
    assert (after.parent, after.actor, after.reason) == (
        before.run.version,
        "operator",
        "operator took over build",
    )
    (entry, *_) = await store.audit.entries(adw_id=run.adw_id)
    assert (entry.action, entry.detail) == ("run.attach", {**detail, "version": version})

    # A run that started meanwhile keeps its versions to its executor: the entry alone.
    await store.set_status(run.adw_id, RunStatus.RUNNING, actor="test")
    assert await store.record_takeover(run.adw_id, reason="r", actor="operator", detail={}) is None
    assert (await store.get_run(run.adw_id)).version == version
    (entry, *_) = await store.audit.entries(adw_id=run.adw_id)
    assert (entry.action, entry.detail) == ("run.attach", {"version": None})
    with pytest.raises(RunNotFoundError):
        await store.record_takeover(UNKNOWN_RUN, reason="r", actor="operator", detail={})
