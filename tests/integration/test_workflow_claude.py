"""A custom workflow from `.adw/workflows/` with templates from `.claude/commands/`, run by
the REAL claude binary against the scripted loopback model server.

The repository is real (a git repository with the workflow and the command templates
committed), the orchestrator is real (store, worktree, retries, dead letters), and so is
the agent: `claude -p "/greet 1 Say hello"` expands the repository's own template, and the
Write tool call the fake model answers with really writes the file in the run's worktree.
"""

import re
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adw_tui.config import Settings, load_settings
from adw_tui.domain.models import RunRecord, RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.fake_anthropic import (
    Answer,
    FakeAnthropic,
    HttpError,
    NeverAnswer,
    Text,
    ToolUse,
    last_user_text,
    request_text,
)
from tests.integration.conftest import offline_env

ISSUE_TITLE = "Say hello"
GREETING = "greetings/hello.md"
GREETING_TEXT = "# Hello\n\nHello from the greeter.\n"

WORKFLOW_YAML = """\
name: greet
description: name a branch, make a worktree, write a greeting there
states:
  branch:
    description: name the run's branch
    command: /name_branch
    agent: brancher
    args: ["${issue_number}", "${adw_id}"]
    output: branch_name
    save: branch_name
    on_success: worktree
    on_failure: dead_letter
  worktree:
    action: setup_worktree
    on_success: greet
    on_failure: dead_letter
  greet:
    description: write the greeting
    command: /greet
    agent: greeter
    args: ["${issue_number}", "${issue_title}"]
    output: file
    save: greeting_file
    max_retries: 1
    on_success: complete
    on_failure: dead_letter
  complete:
    terminal: true
  dead_letter:
    terminal: true
    action: record_failure
"""

COMMANDS = {
    "name_branch.md": (
        "---\ndescription: Name the branch of a run\n---\n"
        "Answer with one git branch name for issue and run: $ARGUMENTS\n"
    ),
    "greet.md": (
        "---\ndescription: Write a greeting\n---\n"
        f"Write a greeting for issue $0, titled {{$1}}, to {GREETING}, then answer with its path.\n"
    ),
}

_ARGS = re.compile(r"<command-args>(.*?)</command-args>", re.S)
_CWD = re.compile(r"Primary working directory: (\S+)")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose one commit holds the workflow and the command templates."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "test")
    git(path, "config", "user.email", "t@example.invalid")
    git(path, "config", "commit.gpgsign", "false")
    (path / ".gitignore").write_text("agents/\ntrees/\n.ports.env\n")
    (path / "README.md").write_text("# greeter\n")
    workflows = path / ".adw" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "greet.yaml").write_text(WORKFLOW_YAML)
    commands = path / ".claude" / "commands"
    commands.mkdir(parents=True)
    for name, text in COMMANDS.items():
        (commands / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "greeter workflow")
    return path


@pytest.fixture
async def store(repo: Path) -> AsyncIterator[Store]:
    async with await Store.open(repo / "agents" / "adw_state.db") as opened:
        yield opened


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def command_of(body: dict[str, Any]) -> str | None:
    """The slash command a request's conversation started with, e.g. `/greet`."""
    found = re.search(r"<command-name>(/[\w:.-]+)</command-name>", request_text(body))
    return found.group(1) if found else None


def command_args(body: dict[str, Any]) -> str:
    found = _ARGS.search(request_text(body))
    assert found is not None, request_text(body)
    return found.group(1)


def working_directory(body: dict[str, Any]) -> Path:
    """The agent's cwd, as Claude Code states it in its environment section (in the
    system prompt or in a reminder in the first message, depending on the version)."""
    system = body.get("system")
    blocks = system if isinstance(system, list) else [{"text": system or ""}]
    texts = [block.get("text", "") for block in blocks if isinstance(block, dict)]
    text = "\n".join([*texts, request_text(body)])
    found = _CWD.search(text)
    assert found is not None, text[-4000:]
    return Path(found.group(1))


def is_tool_result(body: dict[str, Any]) -> bool:
    content = (body.get("messages") or [{}])[-1].get("content")
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def name_branch(body: dict[str, Any]) -> Answer:
    _issue, adw_id = command_args(body).split()
    return Text(f"Here it is:\nfeature-issue-1-adw-{adw_id}-greet")


def greet(body: dict[str, Any]) -> Answer:
    if is_tool_result(body):
        return Text(f"Wrote the greeting to {GREETING}")
    target = working_directory(body) / GREETING
    return ToolUse("Write", {"file_path": str(target), "content": GREETING_TEXT})


def responder(greeter: Callable[[dict[str, Any]], Answer]) -> Callable[[dict[str, Any]], Answer]:
    """Answers each agent turn from the command its conversation runs.

    A request it cannot answer gets a 400 naming the problem: the step then fails at once
    with that message in its error, instead of the CLI retrying a dropped connection until
    the agent timeout.
    """

    def respond(body: dict[str, Any]) -> Answer:
        try:
            command = command_of(body)
            if command == "/name_branch":
                return name_branch(body)
            if command == "/greet":
                return greeter(body)
            raise AssertionError(f"unexpected request: {last_user_text(body)[:500]}")
        except AssertionError as error:
            return HttpError(400, "invalid_request_error", f"test responder: {error}")

    return respond


def settings_for(repo: Path) -> Settings:
    return load_settings(repo).model_copy(
        update={
            "retry_initial": 0.01,
            "retry_max": 0.05,
            "retry_jitter": 0.01,
            "agent_timeout": 60.0,
            "agent_idle_timeout": 30.0,
            "kill_grace": 2.0,
        }
    )


async def run_greet(
    repo: Path, store: Store, api: FakeAnthropic, claude_bin: Path, tmp_path: Path
) -> RunRecord:
    issue = await store.issues.create(ISSUE_TITLE, "Greet whoever reads the repository.")
    home = tmp_path / "home"
    home.mkdir()
    env = offline_env(api.base_url, home, CLAUDE_CODE_PATH=str(claude_bin))
    orchestrator = Orchestrator(store, repo, settings_for(repo))
    try:
        adw_id = await orchestrator.launch(
            issue.number, workflow="greet", engine="claude", engine_env=env
        )
        return await orchestrator.wait(adw_id)
    finally:
        await orchestrator.aclose()


async def test_custom_workflow_with_repo_templates(
    repo: Path, store: Store, api: FakeAnthropic, claude_bin: Path, tmp_path: Path
) -> None:
    api.respond = responder(greet)
    run = await run_greet(repo, store, api, claude_bin, tmp_path)
    adw_id = run.adw_id
    timeline = await store.steps.timeline(adw_id)
    assert run.status is RunStatus.SUCCEEDED, timeline

    # Claude Code expanded the repository's templates, with the step's arguments.
    prompts = [request_text(body) for body in api.agent_requests]
    first = prompts[0]
    assert "<command-name>/name_branch</command-name>" in first
    assert f"<command-args>1 {adw_id}</command-args>" in first
    assert f"Answer with one git branch name for issue and run: 1 {adw_id}" in first
    greet_prompt = next(p for p in prompts if "<command-name>/greet</command-name>" in p)
    # The title is quoted, so Claude Code fills it in whole as $1.
    assert f"<command-args>1 '{ISSUE_TITLE}'</command-args>" in greet_prompt
    assert f"Write a greeting for issue 1, titled {{{ISSUE_TITLE}}}, to {GREETING}" in greet_prompt
    assert len(api.agent_requests) == 3  # name_branch; greet: Write, then the answer

    # The Write ran in the run's worktree, on the run's branch.
    branch = f"feature-issue-1-adw-{adw_id}-greet"
    worktree = repo / "trees" / adw_id
    assert (worktree / GREETING).read_text() == GREETING_TEXT
    assert git(worktree, "branch", "--show-current") == branch
    assert not (repo / GREETING).exists()

    loaded = await store.load(adw_id)
    state = loaded.state.as_data()
    assert state["branch_name"] == branch
    assert state["worktree_path"] == str(worktree)
    assert state["greeting_file"] == GREETING
    assert loaded.control.next_state == "complete"
    assert loaded.control.visits == {"branch": 1, "worktree": 1, "greet": 1}

    history = await store.history(adw_id)
    assert [(v.version, v.actor, v.reason) for v in history] == [
        (4, "greet/greeter", "greet: succeeded"),
        (3, "worktree/setup_worktree", "worktree: succeeded"),
        (2, "branch/brancher", "branch: succeeded"),
        (1, "runtime", "run created"),
    ]
    assert history[0].git_head == git(worktree, "rev-parse", "HEAD")

    assert [(e.step, e.status, e.attempts) for e in timeline] == [
        ("branch", StepStatus.SUCCEEDED, 1),
        ("worktree", StepStatus.SUCCEEDED, 1),
        ("greet", StepStatus.SUCCEEDED, 1),
    ]
    agent_steps = [e for e in timeline if e.agent is not None]
    assert [e.agent for e in agent_steps] == ["brancher", "greeter"]
    assert all(e.session_id and e.cost_usd > 0 for e in agent_steps), agent_steps
    assert agent_steps[0].session_id != agent_steps[1].session_id
    assert run.cost_usd == pytest.approx(sum(e.cost_usd for e in timeline))
    assert run.cost_usd > 0

    greeter_dir = repo / "agents" / adw_id / "greeter"
    raw = (greeter_dir / "raw_output.jsonl").read_text()
    assert f'"session_id":"{agent_steps[1].session_id}"' in raw.replace(" ", "")
    assert (greeter_dir / "prompts" / "greet.txt").read_text() == f"/greet 1 '{ISSUE_TITLE}'"
    assert (repo / "agents" / adw_id / "brancher" / "raw_output.jsonl").is_file()
    assert await store.dead_letters.list() == []


async def test_http_400_dead_letters_the_run(
    repo: Path, store: Store, api: FakeAnthropic, claude_bin: Path, tmp_path: Path
) -> None:
    # The CLI re-sends a 400ed turn with fewer beta flags: every greet request gets the 400.
    api.respond = responder(lambda body: HttpError(400, "invalid_request_error", "fake refusal"))
    run = await run_greet(repo, store, api, claude_bin, tmp_path)
    adw_id = run.adw_id

    assert run.status is RunStatus.DEAD_LETTERED
    [letter] = await store.dead_letters.list()
    assert (letter.adw_id, letter.workflow, letter.step) == (adw_id, "greet", "greet")
    assert letter.error_class == "invalid_request"
    assert "fake refusal" in letter.error_message
    assert letter.attempts == 1  # not transient: max_retries does not apply
    assert letter.request["prompt"] == f"/greet 1 '{ISSUE_TITLE}'"
    assert letter.request["engine"] == "claude"
    assert letter.state_version == run.version == 4

    attempts = [a for a in await store.steps.for_run(adw_id) if a.step == "greet"]
    assert [(a.attempt, a.status, a.error_class) for a in attempts] == [
        (1, StepStatus.FAILED, "invalid_request")
    ]
    loaded = await store.load(adw_id)
    assert loaded.control.next_state == "dead_letter"
    assert loaded.control.last_error is not None
    assert loaded.control.last_error.error_class == "invalid_request"
    assert "greeting_file" not in loaded.state.as_data()
    assert not (repo / "trees" / adw_id / GREETING).exists()
    history = await store.history(adw_id)
    assert history[0].actor == "greet/greeter"
    assert history[0].reason == "greet: failed"


@pytest.mark.slow
async def test_a_silent_model_is_cut_off_and_the_step_retried(
    repo: Path, store: Store, api: FakeAnthropic, claude_bin: Path, tmp_path: Path
) -> None:
    """A transient failure of the real CLI (the model API never answers, so adw's
    no-output timeout fires) is retried by the runtime, and the retry succeeds."""
    silences = [NeverAnswer()]

    def greet_after_a_silence(body: dict[str, Any]) -> Answer:
        if silences and not is_tool_result(body):
            return silences.pop()
        return greet(body)

    api.respond = responder(greet_after_a_silence)
    issue = await store.issues.create(ISSUE_TITLE, "Greet whoever reads the repository.")
    home = tmp_path / "home"
    home.mkdir()
    env = offline_env(api.base_url, home, CLAUDE_CODE_PATH=str(claude_bin))
    # Long enough for the real CLI's start and each of its turns on a loaded machine
    # (a cold start pages in a 200 MB binary), so only the silenced turn hits it.
    settings = settings_for(repo).model_copy(update={"agent_idle_timeout": 6.0})
    orchestrator = Orchestrator(store, repo, settings)
    try:
        adw_id = await orchestrator.launch(
            issue.number, workflow="greet", engine="claude", engine_env=env
        )
        run = await orchestrator.wait(adw_id)
    finally:
        await orchestrator.aclose()

    attempts = [a for a in await store.steps.for_run(adw_id) if a.step == "greet"]
    assert [(a.attempt, a.status, a.error_class) for a in attempts] == [
        (1, StepStatus.FAILED, "idle_timeout"),
        (2, StepStatus.SUCCEEDED, None),
    ], [a.error_message for a in attempts]
    assert run.status is RunStatus.SUCCEEDED
    assert (repo / "trees" / adw_id / GREETING).read_text() == GREETING_TEXT
