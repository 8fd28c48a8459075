"""Importing the original ADW scripts' adw_state.json files."""

import json
from pathlib import Path

from adw_tui.domain.models import RunStatus
from adw_tui.store import Store
from adw_tui.store.legacy import LegacyOutcome, import_legacy_states, legacy_workflow_name

GOOD_STATE = {
    "adw_id": "a1b2c3d4",
    "issue_number": "42",
    "branch_name": "feat-issue-42-adw-a1b2c3d4-add-login",
    "plan_file": "specs/issue-42-adw-a1b2c3d4-sdlc_planner-add-login.md",
    "issue_class": "/feature",
    "worktree_path": "/repo/trees/a1b2c3d4",
    "backend_port": 9103,
    "frontend_port": 9203,
    "model_set": "heavy",
    "all_adws": ["adw_plan_iso", "adw_build_iso"],
}


def write_state(agents: Path, folder: str, content: str | bytes) -> Path:
    path = agents / folder / "adw_state.json"
    path.parent.mkdir(parents=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


async def test_good_file_becomes_version_one_with_every_field(store: Store, tmp_path: Path):
    agents = tmp_path / "legacy"
    write_state(agents, "a1b2c3d4", json.dumps({**GOOD_STATE, "custom_key": [1, 2]}))

    results = await import_legacy_states(store, agents)

    assert [(r.adw_id, r.outcome) for r in results] == [("a1b2c3d4", LegacyOutcome.IMPORTED)]
    loaded = await store.load("a1b2c3d4")
    assert loaded.run.version == 1
    assert loaded.run.status is RunStatus.INTERRUPTED
    assert loaded.run.issue == "42"
    assert loaded.run.workflow == "build"
    assert loaded.state.as_data() == {**GOOD_STATE, "custom_key": [1, 2]}
    history = await store.history("a1b2c3d4")
    assert [v.actor for v in history] == ["migrate"]
    assert "adw_state.json" in history[0].reason


async def test_import_is_idempotent(store: Store, tmp_path: Path):
    agents = tmp_path / "legacy"
    write_state(agents, "a1b2c3d4", json.dumps(GOOD_STATE))

    await import_legacy_states(store, agents)
    again = await import_legacy_states(store, agents)

    assert [r.outcome for r in again] == [LegacyOutcome.ALREADY_IMPORTED]
    assert (await store.get_run("a1b2c3d4")).version == 1
    assert len(await store.list_runs()) == 1


async def test_corrupt_and_foreign_files_are_reported_and_the_rest_imported(
    store: Store, tmp_path: Path
):
    agents = tmp_path / "legacy"
    write_state(agents, "00000001", "{not json")
    write_state(agents, "00000002", b"\xff\xfe\x00binary")
    write_state(agents, "00000003", "[1, 2, 3]")
    write_state(agents, "00000004", json.dumps({"name": "some other tool"}))
    write_state(agents, "00000005", json.dumps({"adw_id": "NOT-HEX!"}))
    write_state(agents, "00000006", json.dumps({"adw_id": "0000000f"}))
    write_state(agents, "00000007", json.dumps({"adw_id": "00000007", "backend_port": "high"}))
    write_state(agents, "a1b2c3d4", json.dumps(GOOD_STATE))
    (agents / "not-a-run").mkdir()

    results = {r.path.parent.name: r for r in await import_legacy_states(store, agents)}

    assert {name: r.outcome for name, r in results.items()} == {
        "00000001": LegacyOutcome.CORRUPT,
        "00000002": LegacyOutcome.CORRUPT,
        "00000003": LegacyOutcome.FOREIGN,
        "00000004": LegacyOutcome.FOREIGN,
        "00000005": LegacyOutcome.FOREIGN,
        "00000006": LegacyOutcome.FOREIGN,
        "00000007": LegacyOutcome.FOREIGN,
        "a1b2c3d4": LegacyOutcome.IMPORTED,
    }
    assert "not valid JSON" in results["00000001"].reason
    assert "list" in results["00000003"].reason
    assert "no adw_id" in results["00000004"].reason
    assert "NOT-HEX!" in results["00000005"].reason
    assert "does not match its folder" in results["00000006"].reason
    assert "backend_port" in results["00000007"].reason
    assert [run.adw_id for run in await store.list_runs()] == ["a1b2c3d4"]
    assert (agents / "00000001" / "adw_state.json").read_text() == "{not json"


def test_workflow_name_comes_from_the_last_script():
    assert legacy_workflow_name(["adw_plan_iso", "adw_plan_build_test_iso"]) == "plan_build_test"
    assert legacy_workflow_name(["adw_sdlc_zte_iso.py"]) == "sdlc_zte"
    assert legacy_workflow_name([]) == "legacy"


async def test_a_webhook_id_and_a_null_model_set_are_imported(store: Store, tmp_path: Path):
    """The original ADW took ids from webhooks and left `model_set` null for the default."""
    agents = tmp_path / "legacy"
    state = {**GOOD_STATE, "adw_id": "adw-3af4a34d", "model_set": None}
    write_state(agents, "adw-3af4a34d", json.dumps(state))

    results = await import_legacy_states(store, agents)

    assert [(r.adw_id, r.outcome) for r in results] == [("adw-3af4a34d", LegacyOutcome.IMPORTED)]
    loaded = await store.load("adw-3af4a34d")
    assert loaded.state.model_set == "base"
    assert loaded.run.status is RunStatus.INTERRUPTED
