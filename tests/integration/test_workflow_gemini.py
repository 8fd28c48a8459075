"""The greeter workflow of `test_workflow_claude` (name a branch, make a worktree, write a
greeting there), run end to end with engine gemini: the REAL Gemini CLI against the
loopback Gemini API, a real repository, the real orchestrator and store.

Gemini CLI knows nothing of `.claude/commands`: adw expands the repository's templates
itself and sends the text. The write_file call the fake model answers with really writes
the file in the run's worktree, and the run's transcripts read back through the registry's
parser for gemini, as the live panes and the run detail read them.
"""

import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from adw_tui.agents.transcript import event_markup
from adw_tui.domain.agent import AgentEventKind
from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.transcript_tail import TranscriptTail
from adw_tui.store import Store
from tests.fake_gemini import (
    Answer,
    Call,
    FakeGemini,
    HttpError,
    Text,
    is_function_response,
    request_text,
)
from tests.integration.conftest import GEMINI_MODEL, gemini_env
from tests.integration.test_workflow_claude import (
    COMMANDS,
    GREETING,
    GREETING_TEXT,
    ISSUE_TITLE,
    WORKFLOW_YAML,
    git,
    settings_for,
)

_ARGS = re.compile(r"<command-args>(.*?)</command-args>", re.S)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose one commit holds the workflow and the command templates."""
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    for key, value in (("user.name", "test"), ("user.email", "t@x.invalid")):
        git(path, "config", key, value)
    git(path, "config", "commit.gpgsign", "false")
    (path / ".gitignore").write_text("agents/\ntrees/\n.ports.env\n")
    (path / ".adw" / "workflows").mkdir(parents=True)
    (path / ".adw" / "workflows" / "greet.yaml").write_text(WORKFLOW_YAML)
    (path / ".claude" / "commands").mkdir(parents=True)
    for name, text in COMMANDS.items():
        (path / ".claude" / "commands" / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "greeter workflow")
    return path


@pytest.fixture
async def store(repo: Path) -> AsyncIterator[Store]:
    async with await Store.open(repo / "agents" / "adw_state.db") as opened:
        yield opened


@pytest.fixture
def api() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


def respond(body: dict[str, Any]) -> Answer:
    """Answers each agent turn from the command adw expanded into its prompt; anything
    else gets a 400 naming it (the step then fails at once with it)."""
    prompt = request_text(body)
    if "Answer with one git branch name for issue and run:" in prompt:
        found = _ARGS.search(prompt)
        assert found is not None
        _issue, adw_id = found.group(1).split()
        return Text(f"Here it is:\nfeature-issue-1-adw-{adw_id}-greet")
    if "Write a greeting for issue 1" in prompt:
        if is_function_response(body):
            return Text(GREETING)
        return Call("write_file", {"file_path": GREETING, "content": GREETING_TEXT})
    return HttpError(400, f"test responder: unexpected request: {prompt[-300:]}")


async def test_greeter_workflow_with_engine_gemini(
    repo: Path, store: Store, api: FakeGemini, gemini_bin: Path, tmp_path: Path
) -> None:
    api.respond = respond
    issue = await store.issues.create(ISSUE_TITLE, "Greet whoever reads the repository.")
    home = tmp_path / "home"
    home.mkdir()
    env = gemini_env(api.base_url, home, ADW_GEMINI_PATH=str(gemini_bin))
    orchestrator = Orchestrator(store, repo, settings_for(repo))
    try:
        adw_id = await orchestrator.launch(
            issue.number, workflow="greet", engine="gemini", engine_env=env
        )
        run = await orchestrator.wait(adw_id)
    finally:
        await orchestrator.aclose()
    timeline = await store.steps.timeline(adw_id)
    assert run.status is RunStatus.SUCCEEDED, (timeline, api.answers)

    # adw expanded the repository's templates (front matter left out), with the arguments.
    prompts = [request_text(body) for body in api.requests]
    assert f"Answer with one git branch name for issue and run: 1 {adw_id}" in prompts[0]
    assert f"titled {{{ISSUE_TITLE}}}, to {GREETING}, then answer" in prompts[1]
    assert not any("description: Write a greeting" in prompt for prompt in prompts)
    assert api.models == [GEMINI_MODEL] * 3  # the engine's base model

    worktree = repo / "trees" / adw_id
    assert (worktree / GREETING).read_text() == GREETING_TEXT
    assert git(worktree, "branch", "--show-current") == f"feature-issue-1-adw-{adw_id}-greet"
    assert not (repo / GREETING).exists()
    state = (await store.load(adw_id)).state.as_data()
    assert state["greeting_file"] == GREETING

    assert [(e.step, e.status) for e in timeline] == [
        ("branch", StepStatus.SUCCEEDED),
        ("worktree", StepStatus.SUCCEEDED),
        ("greet", StepStatus.SUCCEEDED),
    ]
    agent_steps = [e for e in timeline if e.agent is not None]
    assert all(e.session_id and e.cost_usd > 0 for e in agent_steps), agent_steps
    attempts = await store.steps.for_run(adw_id)
    assert {a.engine for a in attempts if a.agent} == {"gemini"}
    assert run.cost_usd > 0

    # The transcript reads back through gemini's parser: the tool call, the answer.
    greeter = repo / "agents" / adw_id / "greeter"
    events = await TranscriptTail(greeter / "raw_output.jsonl", engine="gemini").read()
    kinds = [e.kind for e in events]
    assert kinds == [
        AgentEventKind.INIT,
        AgentEventKind.TOOL_USE,
        AgentEventKind.TOOL_RESULT,
        AgentEventKind.TEXT,
        AgentEventKind.RESULT,
    ]
    assert event_markup(events[1]) == f"[transcript.tool]→ write_file[/] {GREETING}"
    # The prompt kept is the text adw expanded (named `prompt`: it starts with no `/name`).
    kept = (greeter / "prompts" / "prompt.txt").read_text()
    assert kept.startswith("<command-message>greet</command-message>\n")
    assert "Write a greeting for issue 1" in kept
