"""The greeter workflow of `test_workflow_claude` (a branch name, a worktree, a greeting
written there), run with `--engine opencode`: the REAL opencode binary against the
scripted loopback Chat Completions server.

OpenCode reads no `.claude/commands`, so adw expands the repository's templates itself;
the model sees the expanded text, and the `write` tool call the fake model answers with
really writes the file in the run's worktree.
"""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from adw_tui.domain.agent import AgentEventKind
from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.transcript_tail import TranscriptTail
from adw_tui.store import Store
from tests.fake_anthropic import Answer, HttpError, Text, ToolUse
from tests.fake_chat_completions import FakeChatCompletions, is_tool_result, request_text
from tests.integration.opencode_support import AGENT_ENV, MODEL, opencode_bin, opencode_env
from tests.integration.test_opencode_engine import working_directory
from tests.integration.test_workflow_claude import (
    COMMANDS,
    GREETING,
    GREETING_TEXT,
    ISSUE_TITLE,
    WORKFLOW_YAML,
    command_of,
    git,
    name_branch,
    settings_for,
)

__all__ = ["opencode_bin"]  # the fixture, imported for the test below


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """A git repository whose last commit adds the workflow and the command templates."""
    (git_repo / ".gitignore").write_text("agents/\ntrees/\n.ports.env\n")
    (git_repo / ".adw" / "workflows").mkdir(parents=True)
    (git_repo / ".adw" / "workflows" / "greet.yaml").write_text(WORKFLOW_YAML)
    commands = git_repo / ".claude" / "commands"
    commands.mkdir(parents=True)
    for name, text in COMMANDS.items():
        (commands / name).write_text(text)
    git(git_repo, "add", "-A")
    git(
        git_repo,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "-qm",
        "greeter",
    )
    return git_repo


@pytest.fixture
async def store(repo: Path) -> AsyncIterator[Store]:
    async with await Store.open(repo / "agents" / "adw_state.db") as opened:
        yield opened


def respond(body: dict[str, Any]) -> Answer:
    """Answers each agent turn from the command adw expanded into its prompt."""
    command = command_of(body)
    if command == "/name_branch":
        return name_branch(body)
    if command == "/greet":
        if is_tool_result(body):
            return Text(f"Wrote the greeting to {GREETING}")
        target = working_directory(body) / GREETING
        return ToolUse("write", {"filePath": str(target), "content": GREETING_TEXT})
    return HttpError(400, "invalid_request_error", f"test responder: unexpected {command!r}")


@pytest.fixture
def api() -> Iterator[FakeChatCompletions]:
    with FakeChatCompletions(respond=respond) as server:
        yield server


async def test_workflow_with_engine_opencode(
    repo: Path, store: Store, api: FakeChatCompletions, opencode_bin: Path, tmp_path: Path
) -> None:
    issue = await store.issues.create(ISSUE_TITLE, "Greet whoever reads the repository.")
    env = opencode_env(api.base_url, tmp_path / "home", opencode_bin)
    settings = settings_for(repo).model_copy(
        update={
            "engine_models": {"opencode": {"base": MODEL, "heavy": MODEL}},
            "model_prices": {"fake-model": (1.0, 2.0)},
            "agent_env": AGENT_ENV,
        }
    )
    orchestrator = Orchestrator(store, repo, settings)
    try:
        adw_id = await orchestrator.launch(
            issue.number, workflow="greet", engine="opencode", engine_env=env
        )
        run = await orchestrator.wait(adw_id)
    finally:
        await orchestrator.aclose()
    timeline = await store.steps.timeline(adw_id)
    attempts = await store.steps.for_run(adw_id)
    assert run.status is RunStatus.SUCCEEDED, [(a.step, a.error_message) for a in attempts]

    # adw expanded the repository's templates, with the step's arguments.
    prompts = [request_text(body) for body in api.agent_requests]
    assert "<command-name>/name_branch</command-name>" in prompts[0]
    assert f"Answer with one git branch name for issue and run: 1 {adw_id}" in prompts[0]
    assert f"Write a greeting for issue 1, titled {{{ISSUE_TITLE}}}, to {GREETING}" in prompts[1]
    assert len(api.agent_requests) == 3  # name_branch; greet: write, then the answer
    assert api.side_requests == []  # no session-title requests

    branch = f"feature-issue-1-adw-{adw_id}-greet"
    worktree = repo / "trees" / adw_id
    assert (worktree / GREETING).read_text() == GREETING_TEXT
    assert git(worktree, "branch", "--show-current") == branch
    assert not (repo / GREETING).exists()
    state = (await store.load(adw_id)).state.as_data()
    assert (state["branch_name"], state["greeting_file"]) == (branch, GREETING)

    assert [(e.step, e.status, e.attempts) for e in timeline] == [
        ("branch", StepStatus.SUCCEEDED, 1),
        ("worktree", StepStatus.SUCCEEDED, 1),
        ("greet", StepStatus.SUCCEEDED, 1),
    ]
    agent_attempts = [a for a in attempts if a.agent is not None]
    assert [(a.agent, a.engine, a.model) for a in agent_attempts] == [
        ("brancher", "opencode", MODEL),
        ("greeter", "opencode", MODEL),
    ]
    sessions = [a.session_id or "" for a in agent_attempts]
    assert all(s.startswith("ses_") for s in sessions)
    assert sessions[0] != sessions[1]
    assert all(a.cost_usd > 0 for a in agent_attempts)  # estimated from model_prices
    assert run.cost_usd == pytest.approx(sum(a.cost_usd for a in agent_attempts))
    assert await store.dead_letters.list() == []

    # The run's transcript reads back through the engine's parser (live panes, run detail).
    greeter = repo / "agents" / adw_id / "greeter"
    events = await TranscriptTail(greeter / "raw_output.jsonl", engine="opencode").read()
    assert [(e.kind, e.tool_name, e.text) for e in events if e.tool_name] == [
        (AgentEventKind.TOOL_USE, "write", str(worktree / GREETING)),
    ]
    assert events[-1].text == f"Wrote the greeting to {GREETING}"
