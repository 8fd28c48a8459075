"""The scout step end to end: real git worktrees, the simulated agent as real
subprocesses (one per scout), the real store. The scouts differ by model alone, and the
simulated agent's faults are narrowed to a model (`scout@<model>=<fault>`), so one
fixture makes a scout hang, another answer off format and another edit the worktree."""

import asyncio
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adw_tui.config import Settings, load_settings
from adw_tui.domain.models import RunStatus
from adw_tui.domain.scouts import RelevantFiles, ScoutSpec, ScoutStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.scout_step import relevant_files_path
from adw_tui.store import Store
from adw_tui.workflows.scout_answers import shipped_schema
from tests.runtime.pause_runs import sim_agents
from tests.workflows.json_schema import assert_valid

HANG_TIMEOUT_S = 2.0
# Each scout's model names what it does (the simulated agent's faults by model).
FAULTS = "scout@hangs=hang,scout@garbled=off_format,scout@vandal=stray_edit"
SCOUTS = [
    {"engine": "sim", "model": "hangs", "timeout": HANG_TIMEOUT_S},
    {"engine": "sim", "model": "garbled"},
    {"engine": "sim", "model": "vandal"},
    {"engine": "sim", "model": "sonnet"},
]
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
    save: relevant_files
    on_success: complete
    on_failure: dead_letter
  complete:
    terminal: true
  dead_letter:
    terminal: true
    action: record_failure
"""


def scouting_workflow(repo: Path, scouts: object) -> None:
    folder = repo / ".adw" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scouting.yaml").write_text(WORKFLOW.format(scouts=json.dumps(scouts)))


def settings_for(repo: Path, **overrides: Any) -> Settings:
    values = {"engine": "sim", "kill_grace": 0.5, **overrides}
    return load_settings(repo).model_copy(update=values)


async def scout_run(
    repo: Path, store: Store, settings: Settings, faults: str = ""
) -> tuple[str, RunStatus]:
    issue = await store.issues.create("Teach the words helper to count words", "x")
    orchestrator = Orchestrator(store, repo, settings)
    try:
        adw_id = await orchestrator.launch(
            issue.number, workflow="scouting", engine_env={"ADW_SIM_FAULTS": faults}
        )
        run = await orchestrator.wait(adw_id)
    finally:
        await orchestrator.aclose()
    return adw_id, run.status


def git_status(worktree: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=worktree, capture_output=True, text=True, check=True
    ).stdout


async def test_hung_malformed_and_editing_scouts_are_skipped_reset_and_recorded(
    repo: Path, store: Store
) -> None:
    scouting_workflow(repo, SCOUTS)
    started = time.monotonic()
    adw_id, status = await scout_run(repo, store, settings_for(repo), FAULTS)
    elapsed = time.monotonic() - started

    assert status is RunStatus.SUCCEEDED
    assert elapsed < HANG_TIMEOUT_S + 8  # the hung scout was stopped at its timeout
    state = (await store.load(adw_id)).state.as_data()
    path = relevant_files_path(repo / "agents", adw_id)
    assert state["relevant_files"] == str(path)
    text = path.read_text()
    assert_valid(json.loads(text), json.loads(shipped_schema()))
    aggregate = RelevantFiles.model_validate_json(text)

    statuses = {report.agent: report.status for report in aggregate.scouts}
    assert statuses == {
        "scout_sim_1": ScoutStatus.TIMEOUT,
        "scout_sim_2": ScoutStatus.MALFORMED,
        "scout_sim_3": ScoutStatus.DONE,
        "scout_sim_4": ScoutStatus.DONE,
    }
    gaps = aggregate.key_findings.gaps
    assert [gap.split(" ")[0] for gap in gaps] == ["scout_sim_1", "scout_sim_2"]
    assert "skipped: timeout" in gaps[0]
    assert "skipped: malformed" in gaps[1]
    # Both answering scouts named the same files: merged, each naming both scouts.
    assert aggregate.files
    assert "textkit/words.py" in {entry.path for entry in aggregate.files}
    assert all(entry.scouts == ["scout_sim_3", "scout_sim_4"] for entry in aggregate.files)
    # The stray edit was recorded, then undone.
    changes = aggregate.worktree_changes
    assert changes is not None
    assert "README.md" in changes.diff_stat
    assert changes.untracked == ["STRAY.md"]
    worktree = Path(state["worktree_path"])
    assert git_status(worktree) == ""
    assert not (worktree / "STRAY.md").exists()
    audit = await store.audit.entries(adw_id=adw_id)
    assert any(entry.action == "scout.worktree_reset" for entry in audit)

    # Each scout is an attempt of the step, with its own agent and transcript.
    attempts = [a for a in await store.steps.for_run(adw_id) if a.step == "scout"]
    assert sorted((a.agent, a.status) for a in attempts) == [
        ("scout_sim_1", StepStatus.FAILED),
        ("scout_sim_2", StepStatus.FAILED),
        ("scout_sim_3", StepStatus.SUCCEEDED),
        ("scout_sim_4", StepStatus.SUCCEEDED),
    ]
    for attempt in attempts:
        assert (repo / "agents" / adw_id / str(attempt.agent) / "raw_output.jsonl").is_file()
    # The timeline folds the scouts side by side: the step succeeded, as one scout did.
    [summary] = [line for line in await store.steps.timeline(adw_id) if line.step == "scout"]
    assert (summary.status, summary.attempts, summary.error) == (StepStatus.SUCCEEDED, 4, None)
    # Each attempt's transcript is its own scout's (what the run detail shows for it).
    for agent, attempt_id in zip(summary.attempt_agents, summary.attempt_ids, strict=True):
        kept = repo / "agents" / adw_id / str(agent) / "attempts" / f"{attempt_id}.jsonl"
        assert '"type":"system"' in kept.read_text()


async def test_a_step_with_no_answer_fails_and_still_writes_the_aggregate(
    repo: Path, store: Store
) -> None:
    scouting_workflow(repo, [{"engine": "sim", "model": "garbled"}])
    adw_id, status = await scout_run(repo, store, settings_for(repo), FAULTS)
    assert status is RunStatus.DEAD_LETTERED
    [letter] = await store.dead_letters.list()
    assert letter.step == "scout"
    assert "no scout answered (scout_sim_1: skipped: malformed)" in letter.error_message
    aggregate = RelevantFiles.model_validate_json(
        relevant_files_path(repo / "agents", adw_id).read_text()
    )
    assert aggregate.files == []


async def test_scale_takes_the_configured_scouts_round_robin(repo: Path, store: Store) -> None:
    folder = repo / ".adw" / "workflows"
    scouting_workflow(repo, [])
    workflow = folder / "scouting.yaml"
    workflow.write_text(workflow.read_text().replace("scouts: []", "scale: 3"))
    configured = [ScoutSpec(engine="sim", model="sonnet"), ScoutSpec(engine="sim", model="haiku")]
    adw_id, status = await scout_run(repo, store, settings_for(repo, scouts=configured))
    assert status is RunStatus.SUCCEEDED
    attempts = [a for a in await store.steps.for_run(adw_id) if a.step == "scout"]
    assert sorted((a.agent, a.model) for a in attempts) == [
        ("scout_sim_1", "sonnet"),
        ("scout_sim_2", "haiku"),
        ("scout_sim_3", "sonnet"),
    ]


async def test_an_unknown_engine_fails_the_step_naming_the_scout(repo: Path, store: Store) -> None:
    scouting_workflow(repo, [{"engine": "sim"}, {"engine": "nope"}])
    _, status = await scout_run(repo, store, settings_for(repo))
    assert status is RunStatus.DEAD_LETTERED
    [letter] = await store.dead_letters.list()
    assert "scout 2 (nope): unknown engine 'nope'" in letter.error_message


async def test_scout_plan_build_plans_from_the_scouts_and_the_linked_docs(
    repo: Path, store: Store, docs_server: str
) -> None:
    body = f"See {docs_server}/guide and {docs_server}/missing."
    issue = await store.issues.create("Count words in the words helper", body)
    settings = settings_for(
        repo,
        scouts=[ScoutSpec(engine="sim"), ScoutSpec(engine="sim", model="haiku")],
        docs_fetch_private=True,
    )
    orchestrator = Orchestrator(store, repo, settings)
    try:
        adw_id = await orchestrator.launch(issue.number, workflow="scout_plan_build")
        run = await orchestrator.wait(adw_id)
    finally:
        await orchestrator.aclose()
    assert run.status is RunStatus.SUCCEEDED
    state = (await store.load(adw_id)).state.as_data()
    docs = Path(state["documentation"]).read_text()
    assert "```untrusted\nThe guide says: count with split().\n```" in docs
    assert f"## {docs_server}/missing\n\nNot fetched: HTTP 404." in docs
    plan = Path(state["worktree_path"]) / state["plan_file"]
    assert plan.is_file()
    [prompt] = (repo / "agents" / adw_id / "sdlc_planner" / "prompts").iterdir()
    assert "<command-name>/plan_w_docs</command-name>" in prompt.read_text()
    assert state["relevant_files"] in prompt.read_text()


async def test_plan_w_docs_stops_when_the_run_has_no_scouts_file(repo: Path, store: Store) -> None:
    issue = await store.issues.create("Count words", "x")
    orchestrator = Orchestrator(store, repo, settings_for(repo))
    try:
        adw_id = await orchestrator.launch(issue.number, workflow="plan_w_docs")
        run = await orchestrator.wait(adw_id)
    finally:
        await orchestrator.aclose()
    assert run.status is RunStatus.DEAD_LETTERED
    [letter] = await store.dead_letters.list()
    assert letter.step == "docs"
    assert "plan_w_docs needs the scouts' relevant_files.json" in letter.error_message
    assert not (repo / "agents" / adw_id / "sdlc_planner").exists()  # no planner was called


async def test_a_pause_stops_every_scout_and_puts_the_worktree_back(
    repo: Path, store: Store
) -> None:
    scouting_workflow(repo, [{"engine": "sim", "model": "hangs"}] * 3)
    issue = await store.issues.create("Count words", "x")
    async with Orchestrator(store, repo, settings_for(repo)) as orchestrator:
        adw_id = await orchestrator.launch(
            issue.number, workflow="scouting", engine_env={"ADW_SIM_FAULTS": FAULTS}
        )
        await until_true(lambda: len(sim_agents()) == 3)  # the three scouts run at once
        run = await orchestrator.pause(adw_id)
    assert run.status is RunStatus.PAUSED
    # Killed and reaped, even a scout whose agent had just started (not yet adopted).
    assert sim_agents() == []
    attempts = [a for a in await store.steps.for_run(adw_id) if a.step == "scout"]
    assert len(attempts) == 3
    assert all(a.status is not StepStatus.RUNNING for a in attempts)
    worktree = Path((await store.load(adw_id)).state.as_data()["worktree_path"])
    assert git_status(worktree) == ""


async def until_true(condition: Callable[[], bool], within_s: float = 20) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
