"""A scout step of the four real agent CLIs side by side in one worktree, each against a
loopback server of its vendor's API: Claude Code answers in the line format, Codex never
reaches its API (refused: it retries for ever) and is stopped at its timeout, Gemini CLI
answers in prose (malformed: skipped, recorded), OpenCode writes a stray file with its
tool before answering (the worktree is reset, the change recorded). The aggregate is
checked against the shipped JSON Schema."""

import json
import socket
from collections.abc import Iterator
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
from tests import fake_gemini
from tests.fake_anthropic import FakeAnthropic, Text, ToolUse
from tests.fake_chat_completions import FakeChatCompletions, is_tool_result
from tests.fake_gemini import FakeGemini
from tests.integration.conftest import gemini_env, offline_env
from tests.integration.opencode_support import MODEL as OPENCODE_MODEL
from tests.integration.opencode_support import opencode_bin, opencode_env
from tests.integration.test_codex_engine import codex_bin, codex_env
from tests.integration.test_opencode_engine import working_directory
from tests.integration.test_scouts_claude import LINES, repo, store
from tests.runtime.test_scouts import scouting_workflow
from tests.workflows.json_schema import assert_valid

__all__ = ["codex_bin", "opencode_bin", "repo", "store"]  # fixtures used below

SCOUTS = [
    {"engine": "claude", "model": "claude-haiku-4-5"},
    {"engine": "codex", "model": "gpt-fake", "timeout": 8},
    {"engine": "gemini", "model": "gemini-2.5-flash"},
    {"engine": "opencode", "model": OPENCODE_MODEL},
]
OPENCODE_LINES = "- README.md (offset: 1, limit: 2) - how words are counted"


def opencode_answer(body: dict[str, Any]) -> Text | ToolUse:
    """OpenCode's model: write a stray file first, then answer."""
    if is_tool_result(body):
        return Text(OPENCODE_LINES)
    return ToolUse("write", {"filePath": str(working_directory(body) / "STRAY.md"), "content": "x"})


def refused_port() -> int:
    """A loopback port nothing listens on (Codex retries it for ever)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def servers() -> Iterator[tuple[FakeAnthropic, FakeGemini, FakeChatCompletions]]:
    with (
        FakeAnthropic(respond=lambda body: Text(LINES)) as claude,
        FakeGemini(respond=lambda body: fake_gemini.Text("It all looks fine to me.")) as gemini,
        FakeChatCompletions(respond=opencode_answer) as opencode,
    ):
        yield claude, gemini, opencode


async def test_four_real_engines_scout_side_by_side(
    repo: Path,
    store: Store,
    servers: tuple[FakeAnthropic, FakeGemini, FakeChatCompletions],
    claude_bin: Path,
    gemini_bin: Path,
    codex_bin: str,
    opencode_bin: Path,
    tmp_path: Path,
) -> None:
    claude, gemini, opencode = servers
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **offline_env(claude.base_url, home, CLAUDE_CODE_PATH=str(claude_bin)),
        **gemini_env(gemini.base_url, home, ADW_GEMINI_PATH=str(gemini_bin)),
        **opencode_env(opencode.base_url, home, opencode_bin),
        **codex_env(f"http://127.0.0.1:{refused_port()}/v1", tmp_path, ADW_CODEX_PATH=codex_bin),
    }
    scouting_workflow(repo, SCOUTS)
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
        ("scout_codex_2", ScoutStatus.TIMEOUT),
        ("scout_gemini_3", ScoutStatus.MALFORMED),
        ("scout_opencode_4", ScoutStatus.DONE),
    ]
    gaps = " ".join(aggregate.key_findings.gaps)
    assert "scout_codex_2" in gaps
    assert "scout_gemini_3" in gaps
    assert "scout_claude_1" not in gaps
    [readme] = aggregate.files
    assert readme.path == "README.md"
    assert set(readme.scouts) == {"scout_claude_1", "scout_opencode_4"}
    assert aggregate.worktree_changes is not None
    assert aggregate.worktree_changes.untracked == ["STRAY.md"]
    worktree = Path((await store.load(adw_id)).state.as_data()["worktree_path"])
    assert not (worktree / "STRAY.md").exists()  # reset
    engines = {a.agent: a.engine for a in await store.steps.for_run(adw_id) if a.step == "scout"}
    assert engines == {
        "scout_claude_1": "claude",
        "scout_codex_2": "codex",
        "scout_gemini_3": "gemini",
        "scout_opencode_4": "opencode",
    }
