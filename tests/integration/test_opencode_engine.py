"""`OpenCodeEngine` driving the REAL OpenCode binary against a scripted Chat Completions API.

One `FakeChatCompletions` serves the module; it answers each agent turn from the first word
of the prompt the turn works on (`PLAIN:`, `WRITE:`, `HTTP429:`, ...). Each test runs real
`AgentRequest`s in a fresh git repository, with HOME in a temporary directory and the
provider given by `OPENCODE_CONFIG_CONTENT`, and checks what the orchestrator sees: the
AgentEvents, the AgentResult, the files the agent wrote.
"""

import asyncio
import contextlib
import json
import re
import socket
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adw_tui.agents.opencode import OpenCodeEngine
from adw_tui.cli import main
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentRequest, AgentResult, ErrorClass
from tests.fake_anthropic import Answer, HttpError, NeverAnswer, Text, ToolUse
from tests.fake_chat_completions import (
    FakeChatCompletions,
    is_tool_result,
    message_text,
    request_text,
)
from tests.integration.opencode_support import (
    AGENT_ENV,
    KEY,
    MODEL,
    PRICED_COST,
    PRICED_MODEL,
    opencode_bin,
    opencode_env,
    provider_config,
)
from tests.integration.test_claude_engine import live_group_members

__all__ = ["opencode_bin"]  # the fixture, imported for the tests below

ADW_ID = "0c0de5e1"
K = AgentEventKind
OUT_TEXT = "hello from opencode\n"
PRICES = {"fake-model": (1.0, 2.0)}
# OpenCode retries 429 and 5xx answers itself: `retry-after-ms` keeps its waits short.
QUICK_RETRY = {"retry-after-ms": "10"}
_CWD = re.compile(r"Working directory: (\S+)")
_WORD = re.compile(r"the word is (\w+)")


def prompt_of(body: dict[str, Any]) -> str:
    """The last user message: the prompt this agent turn works on."""
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    return message_text(users[-1]) if users else ""


def working_directory(body: dict[str, Any]) -> Path:
    found = _CWD.search(request_text(body, system=True))
    assert found is not None, request_text(body, system=True)[-2000:]
    return Path(found.group(1))


def respond(body: dict[str, Any]) -> Answer:
    kind = prompt_of(body).split(":", 1)[0]
    if kind == "PLAIN":
        return Text("Hello from the fake server.")
    if kind == "WRITE":
        if is_tool_result(body):
            return Text("Wrote out.txt.")
        target = working_directory(body) / "out.txt"
        return ToolUse("write", {"filePath": str(target), "content": OUT_TEXT})
    if kind == "SILENT":
        return NeverAnswer()
    if kind == "REMEMBER":
        return Text("Noted.")
    if kind == "RECALL":
        found = _WORD.search(request_text(body))
        return Text(f"The word was {found.group(1) if found else 'never said'}.")
    if kind.startswith("HTTP"):
        status = int(kind.removeprefix("HTTP"))
        return HttpError(status, "scripted_error", f"scripted {status}", QUICK_RETRY)
    return HttpError(400, "invalid_request_error", f"test responder: unexpected {kind!r}")


@pytest.fixture(scope="module")
def api() -> Iterator[FakeChatCompletions]:
    with FakeChatCompletions(respond=respond) as server:
        yield server


@dataclass
class Call:
    events: list[AgentEvent]
    result: AgentResult

    def of(self, kind: AgentEventKind) -> list[AgentEvent]:
        return [e for e in self.events if e.kind is kind]

    def describe(self) -> str:
        lines = [
            f"{e.line:>3} {e.kind.value:<11} {e.tool_name or ''} {e.text[:100]!r}"
            for e in self.events
        ]
        return "\n".join([*lines, repr(self.result)])


def make_engine(environ: dict[str, str]) -> OpenCodeEngine:
    return OpenCodeEngine(environ=environ, extra_env=AGENT_ENV, prices=PRICES, kill_grace_s=2.0)


def make_request(repo: Path, tmp_path: Path, prompt: str, **fields: Any) -> AgentRequest:
    defaults: dict[str, Any] = {"model": MODEL, "timeout_s": 150.0, "idle_timeout_s": 120.0}
    return AgentRequest(
        prompt=prompt,
        adw_id=ADW_ID,
        agent_name="opencode_tester",
        cwd=repo,
        output_dir=tmp_path / "agents",
        **{**defaults, **fields},
    )


async def run_call(engine: OpenCodeEngine, request: AgentRequest) -> Call:
    events: list[AgentEvent] = []
    result: AgentResult | None = None
    async with aclosing(engine.run(request)) as stream:
        async for item in stream:
            if isinstance(item, AgentEvent):
                events.append(item)
            else:
                result = item
    assert result is not None
    return Call(events, result)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One HOME for the module's calls: OpenCode's first start in a new one (its
    database, its config folder) takes about twice as long as the next."""
    return tmp_path_factory.mktemp("opencode-home")


@pytest.fixture
def engine(api: FakeChatCompletions, home: Path, opencode_bin: Path) -> OpenCodeEngine:
    return make_engine(opencode_env(api.base_url, home, opencode_bin))


def requests_for(api: FakeChatCompletions, prompt: str) -> list[dict[str, Any]]:
    return [body for body in api.requests if prompt_of(body) == prompt]


async def test_plain_answer_with_the_cost_opencode_reports(
    api: FakeChatCompletions, engine: OpenCodeEngine, git_repo: Path, tmp_path: Path
) -> None:
    prompt = 'PLAIN: say hello, with "quotes" and spaces\nand a second line'
    call = await run_call(engine, make_request(git_repo, tmp_path, prompt, model=PRICED_MODEL))
    result = call.result
    assert result.success, call.describe()
    assert [e.kind for e in call.events] == [K.INIT, K.TEXT], call.describe()
    assert call.events[1].text == "Hello from the fake server."
    assert result.output == "Hello from the fake server."
    assert result.session_id is not None
    assert result.session_id.startswith("ses_")
    assert call.events[0].detail["session_id"] == result.session_id
    assert (result.input_tokens, result.output_tokens, result.cache_read_tokens) == (80, 50, 20)
    assert result.num_turns == 1
    assert result.exit_code == 0
    # OpenCode priced it from the model's cost in the provider config.
    assert result.cost_usd > 0
    assert not result.cost_estimated
    assert result.cost_usd == pytest.approx(
        (80 * PRICED_COST["input"] + 50 * PRICED_COST["output"]) / 1e6, rel=0.5
    )

    # The prompt arrived verbatim (stdin: no quoting of arguments), and `--title` spared
    # the title request: one model request, carrying the key from the environment.
    [body] = requests_for(api, prompt)
    assert [side for side in api.side_requests if prompt_of(side) == prompt] == []
    [logged] = [entry for entry in api.log if entry.body is body]
    assert logged.headers["Authorization"] == f"Bearer {KEY}"
    assert body["model"] == "fake-priced"
    run_dir = tmp_path / "agents" / ADW_ID / "opencode_tester"
    assert (run_dir / "prompts" / "prompt.txt").read_text() == prompt
    assert result.session_id in (run_dir / "raw_output.jsonl").read_text()


async def test_tool_call_writes_the_file_in_the_worktree(
    api: FakeChatCompletions, engine: OpenCodeEngine, git_repo: Path, tmp_path: Path
) -> None:
    prompt = "WRITE: put a greeting in out.txt"
    call = await run_call(engine, make_request(git_repo, tmp_path, prompt))
    result = call.result
    assert result.success, call.describe()
    assert (git_repo / "out.txt").read_text() == OUT_TEXT
    git = await asyncio.create_subprocess_exec(
        "git", "status", "--porcelain", cwd=git_repo, stdout=asyncio.subprocess.PIPE
    )
    status = (await git.communicate())[0].decode()
    assert status == "?? out.txt\n"  # nothing else written in the worktree (no config file)
    assert [e.kind for e in call.events] == [K.INIT, K.TOOL_USE, K.TOOL_RESULT, K.TEXT]
    use, done = call.of(K.TOOL_USE)[0], call.of(K.TOOL_RESULT)[0]
    assert (use.tool_name, use.text) == ("write", "out.txt")
    assert done.tool_id == use.tool_id
    assert not done.is_error
    assert result.output == "Wrote out.txt."
    assert result.num_turns == 2
    assert (result.input_tokens, result.output_tokens) == (160, 100)
    # No cost from OpenCode (the model has none configured): adw's estimate.
    assert result.cost_estimated
    assert result.cost_usd == pytest.approx((200 * 1.0 + 100 * 2.0) / 1e6)
    bodies = requests_for(api, prompt)
    assert len(bodies) == 2
    assert bodies[1]["messages"][-1]["role"] == "tool"


async def test_resumed_session_goes_on_with_the_conversation(
    api: FakeChatCompletions, engine: OpenCodeEngine, git_repo: Path, tmp_path: Path
) -> None:
    first = await run_call(engine, make_request(git_repo, tmp_path, "REMEMBER: the word is heron"))
    assert first.result.success, first.describe()
    session = first.result.session_id
    assert session is not None
    second = await run_call(
        engine,
        make_request(git_repo, tmp_path, "RECALL: which word?", resume_session_id=session),
    )
    assert second.result.success, second.describe()
    assert second.result.session_id == session
    assert second.result.output == "The word was heron."
    [body] = requests_for(api, "RECALL: which word?")
    texts = [message_text(m) for m in body["messages"] if m.get("role") == "user"]
    assert texts == ["REMEMBER: the word is heron", "RECALL: which word?"]


@pytest.mark.parametrize(
    ("status", "error_class", "requests"),
    [
        (401, ErrorClass.AUTH, 1),
        (429, ErrorClass.RATE_LIMIT, 6),  # OpenCode's own 5 retries
        (500, ErrorClass.OVERLOADED, 6),
    ],
)
async def test_http_errors_are_classified(
    api: FakeChatCompletions,
    engine: OpenCodeEngine,
    git_repo: Path,
    tmp_path: Path,
    status: int,
    error_class: ErrorClass,
    requests: int,
) -> None:
    prompt = f"HTTP{status}: fail this"
    call = await run_call(engine, make_request(git_repo, tmp_path, prompt))
    result = call.result
    assert not result.success
    assert result.error_class is error_class, call.describe()
    assert result.transient is (status != 401)
    assert result.error_message == f"APIError (HTTP {status}): scripted {status}"
    assert result.exit_code == 1
    assert [e.kind for e in call.events] == [K.INIT, K.ERROR]
    assert call.events[1].is_error
    assert len(requests_for(api, prompt)) == requests


async def test_stopping_a_call_kills_its_process_tree(
    api: FakeChatCompletions, engine: OpenCodeEngine, git_repo: Path, tmp_path: Path
) -> None:
    """The model never answers; the caller stops listening: OpenCode's whole process group
    is killed (the same runner, and kill, as Claude Code's)."""
    prompt = "SILENT: wait"
    pids: list[int] = []
    stream = engine.run(make_request(git_repo, tmp_path, prompt), on_start=pids.append)

    async def listen() -> None:
        async for _ in stream:
            pass

    async with aclosing(stream):
        listening = asyncio.create_task(listen())
        async with asyncio.timeout(120):
            while not requests_for(api, prompt):  # noqa: ASYNC110 - the server thread fills it
                await asyncio.sleep(0.1)
        assert live_group_members(pids[0]) != []
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
    assert live_group_members(pids[0]) == []


def test_adw_prompt_with_engine_opencode(
    api: FakeChatCompletions,
    home: Path,
    opencode_bin: Path,
    git_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`adw prompt --engine opencode` takes the model from the settings' opencode set."""
    for name, value in opencode_env(api.base_url, home, opencode_bin).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ADW_ENGINE_MODELS", json.dumps({"opencode": {"base": MODEL}}))
    monkeypatch.setenv("ADW_AGENT_ENV", json.dumps(AGENT_ENV))
    monkeypatch.chdir(git_repo)
    prompt = "PLAIN: hello from adw prompt"
    assert main(["prompt", "--engine", "opencode", "--json", prompt]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["output"] == "Hello from the fake server."
    assert result["cost_estimated"] is False  # no prices for fake-model in these settings
    assert "Hello from the fake server." in captured.err  # the live transcript
    [body] = requests_for(api, prompt)
    assert body["model"] == "fake-model"


@pytest.mark.slow
@pytest.mark.starts_early
async def test_refused_connection_is_a_network_error(
    git_repo: Path, tmp_path: Path, home: Path, opencode_bin: Path
) -> None:
    """OpenCode retries a refused connection 5 times, 2 s to 30 s apart (no header to
    shorten them): about 90 s before it gives up."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = opencode_env("unused", home, opencode_bin)
    env["OPENCODE_CONFIG_CONTENT"] = provider_config(f"http://127.0.0.1:{port}/v1")
    call = await run_call(make_engine(env), make_request(git_repo, tmp_path, "PLAIN: hello?"))
    result = call.result
    assert result.error_class is ErrorClass.NETWORK, call.describe()
    assert result.transient
    assert "Cannot connect to API" in result.error_message
    assert result.session_id is not None
