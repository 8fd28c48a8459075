"""A scout step of mixed engines: the REAL claude binary (against the scripted loopback
model) and the simulated agent, side by side in one worktree. One Claude scout answers
in the line format, one never hears back from its model and is stopped at its timeout;
a simulated scout answers off format. The scouts list is the fixture: another engine is
one more entry."""

import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from adw_tui.config import load_settings
from adw_tui.domain.models import RunStatus
from adw_tui.domain.scouts import RelevantFiles, ScoutStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.scout_step import relevant_files_path
from adw_tui.store import Store
from adw_tui.workflows.scout_answers import shipped_schema
from tests.fake_anthropic import Answer, FakeAnthropic, NeverAnswer, Text, request_text
from tests.integration.conftest import offline_env
from tests.runtime.test_scouts import scouting_workflow
from tests.workflows.json_schema import assert_valid

SCOUTS = [
    {"engine": "claude", "model": "claude-haiku-4-5"},
    {"engine": "claude", "model": "claude-sonnet-4-5", "timeout": 4},
    {"engine": "sim", "model": "garbled"},
]
LINES = "- README.md (offset: 0, limit: 2) - what the project is\n- gone.md (offset: 0, limit: 3)"


def answer(body: dict[str, Any]) -> Answer:
    """The Claude scouts' model: it tells them apart by the model they asked for."""
    assert "<command-name>/scout</command-name>" in request_text(body)
    return NeverAnswer() if body["model"] == "claude-sonnet-4-5" else Text(LINES)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "test"],
        ["config", "user.email", "t@example.invalid"],
        ["config", "commit.gpgsign", "false"],
    ):
        subprocess.run(["git", *args], cwd=path, check=True)
    (path / ".gitignore").write_text("agents/\ntrees/\n.ports.env\n")
    (path / "README.md").write_text("# words\n\nCounts words.\n")
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=path, check=True)
    return path


@pytest.fixture
async def store(repo: Path) -> AsyncIterator[Store]:
    async with await Store.open(repo / "agents" / "adw_state.db") as opened:
        yield opened


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(respond=answer) as server:
        yield server


async def test_claude_and_simulated_scouts_side_by_side(
    repo: Path, store: Store, api: FakeAnthropic, claude_bin: Path, tmp_path: Path
) -> None:
    scouting_workflow(repo, SCOUTS)
    home = tmp_path / "home"
    home.mkdir()
    env = offline_env(
        api.base_url,
        home,
        CLAUDE_CODE_PATH=str(claude_bin),
        ADW_SIM_FAULTS="scout@garbled=off_format",
    )
    settings = load_settings(repo).model_copy(update={"kill_grace": 1.0})
    issue = await store.issues.create("Count words", "Count the words of a text.")
    orchestrator = Orchestrator(store, repo, settings)
    try:
        adw_id = await orchestrator.launch(
            issue.number, workflow="scouting", engine="claude", engine_env=env
        )
        run = await orchestrator.wait(adw_id)
    finally:
        await orchestrator.aclose()

    assert run.status is RunStatus.SUCCEEDED
    text = relevant_files_path(repo / "agents", adw_id).read_text()
    assert_valid(json.loads(text), json.loads(shipped_schema()))
    aggregate = RelevantFiles.model_validate_json(text)
    assert [(r.agent, r.status) for r in aggregate.scouts] == [
        ("scout_claude_1", ScoutStatus.DONE),
        ("scout_claude_2", ScoutStatus.TIMEOUT),
        ("scout_sim_3", ScoutStatus.MALFORMED),
    ]
    assert [(f.path, f.offset, f.limit, f.scouts) for f in aggregate.files] == [
        ("README.md", 0, 2, ["scout_claude_1"])
    ]
    assert [(d.path, d.problem) for d in aggregate.dropped] == [
        ("gone.md", "no such file in the worktree")
    ]
    attempts = {a.agent: a for a in await store.steps.for_run(adw_id) if a.step == "scout"}
    assert attempts["scout_claude_1"].engine == "claude"
    assert attempts["scout_claude_1"].cost_usd > 0  # the Claude scout's cost is the run's too
