"""`ClaudeCodeEngine` driving the REAL Claude Code binary against a scripted model API.

Each test starts a `FakeAnthropic` on loopback, points the engine's environment at it
(HOME in a temporary directory, nothing inherited but PATH) and runs real `AgentRequest`s in
a fresh git repository. The assertions are on what the orchestrator sees: the normalised
AgentEvents, the AgentResult, the files under `agents/<adw_id>/<agent>/`, and, for the
calls adw has to stop, that no process of the call is left running.
"""

import asyncio
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from adw_tui.agents.claude_code import ClaudeCodeEngine
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentRequest, AgentResult, ErrorClass
from tests.fake_anthropic import (
    FakeAnthropic,
    HttpError,
    NeverAnswer,
    Text,
    ToolUse,
    last_user_text,
)
from tests.integration.conftest import CLAUDE_MODEL, offline_env

ADW_ID = "4e1f2a9c"
AGENT = "sdlc_implementor"
K = AgentEventKind


@dataclass
class Call:
    """One finished engine call: what it streamed and how it ended."""

    events: list[AgentEvent]
    result: AgentResult
    seconds: float
    tree: "ProcessTree | None" = None

    def kinds(self, *wanted: AgentEventKind) -> list[AgentEventKind]:
        """The event kinds in order, only those in `wanted` (all if none given)."""
        return [e.kind for e in self.events if not wanted or e.kind in wanted]

    def of(self, kind: AgentEventKind) -> list[AgentEvent]:
        return [e for e in self.events if e.kind is kind]

    def describe(self) -> str:
        lines = [
            f"{e.line:>3} {e.kind.value:<11} {e.tool_name or ''} {e.text[:100]!r}"
            for e in self.events
        ]
        return "\n".join([*lines, repr(self.result)])


@dataclass
class ProcessTree:
    """The claude process of a call and everything it started, as seen while it ran."""

    pid: int
    pgid: int
    processes: dict[int, psutil.Process] = field(default_factory=dict)

    def snapshot(self) -> None:
        """Add the leader's current descendants (called while the call runs)."""
        try:
            leader = psutil.Process(self.pid)
            self.processes.setdefault(self.pid, leader)
            for child in leader.children(recursive=True):
                self.processes.setdefault(child.pid, child)
        except psutil.Error:
            pass

    def alive(self) -> list[str]:
        """The recorded processes that still run (zombies do not count)."""
        left = []
        for pid, process in self.processes.items():
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    left.append(f"{pid} {process.status()} {process.cmdline()[:3]}")
            except psutil.Error:
                continue
        return left


def claude_process(binary: Path) -> psutil.Process | None:
    """The test process's child running `binary` (the engine starts it directly)."""
    for child in psutil.Process().children(recursive=True):
        try:
            cmdline = child.cmdline()
        except psutil.Error:
            continue
        if cmdline and cmdline[0] == str(binary):
            return child
    return None


def running_in(cwd: Path) -> list[str]:
    """Processes (not zombies) whose working directory is `cwd`."""
    found = []
    for process in psutil.process_iter(["pid", "cwd", "status", "cmdline"]):
        info = process.info
        if info["cwd"] == str(cwd) and info["status"] != psutil.STATUS_ZOMBIE:
            found.append(f"{info['pid']} {(info['cmdline'] or [])[:3]}")
    return found


def assert_nothing_left(tree: ProcessTree | None, cwd: Path) -> None:
    assert tree is not None, "the claude process was never seen"
    assert tree.pid in tree.processes
    assert tree.pgid == tree.pid  # started in a session of its own
    assert tree.alive() == []
    assert live_group_members(tree.pgid) == []
    assert running_in(cwd) == []


def live_group_members(pgid: int) -> list[int]:
    """Processes of the group that are not zombies. A killed grandchild can stay a zombie
    for a moment until init reaps it; it is dead, so it does not count."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


MakeEngine = Callable[[str], ClaudeCodeEngine]


@pytest.fixture
def make_engine(claude_bin: Path, home: Path) -> MakeEngine:
    """`make_engine(base_url)`: the engine on the real binary, offline against `base_url`."""

    def make(base_url: str) -> ClaudeCodeEngine:
        return ClaudeCodeEngine(
            binary=str(claude_bin), environ=offline_env(base_url, home), kill_grace_s=2.0
        )

    return make


@pytest.fixture
def request_for(git_repo: Path, tmp_path: Path) -> Callable[..., AgentRequest]:
    """`request_for(prompt, **fields)`: an AgentRequest in `git_repo`, files in tmp/agents."""

    def make(prompt: str, **fields: Any) -> AgentRequest:
        values: dict[str, Any] = {
            "prompt": prompt,
            "adw_id": ADW_ID,
            "agent_name": AGENT,
            "model": CLAUDE_MODEL,
            "cwd": git_repo,
            "output_dir": tmp_path / "agents",
            "timeout_s": 30.0,
            "idle_timeout_s": 20.0,
            **fields,
        }
        return AgentRequest.model_validate(values)

    return make


async def run_call(
    engine: ClaudeCodeEngine, request: AgentRequest, binary: Path | None = None
) -> Call:
    """Run to the end; with `binary`, record the claude process tree while it runs."""
    events: list[AgentEvent] = []
    result: AgentResult | None = None
    tree: ProcessTree | None = None
    started = time.monotonic()
    watcher: asyncio.Task[None] | None = None

    async def watch() -> None:
        nonlocal tree
        while True:
            if tree is None and binary is not None:
                found = claude_process(binary)
                if found is not None:
                    tree = ProcessTree(found.pid, os.getpgid(found.pid))
            if tree is not None:
                tree.snapshot()
            await asyncio.sleep(0.05)

    if binary is not None:
        watcher = asyncio.create_task(watch())
    try:
        async with aclosing(engine.run(request)) as stream:
            async for item in stream:
                if isinstance(item, AgentResult):
                    assert result is None, "more than one result"
                    result = item
                else:
                    assert result is None, f"an event after the result: {item}"
                    events.append(item)
    finally:
        if watcher is not None:
            watcher.cancel()
    assert result is not None, "no AgentResult"
    return Call(events, result, time.monotonic() - started, tree)


def tool_pairs(call: Call) -> list[tuple[str | None, str | None, bool]]:
    """(tool name, tool id, is_error of its result) for each TOOL_USE, checking the pairing:
    each TOOL_USE is answered by the next TOOL_RESULT, with the same id."""
    pairs = []
    pending: AgentEvent | None = None
    for event in call.events:
        if event.kind is K.TOOL_USE:
            assert pending is None, f"two tool calls without a result\n{call.describe()}"
            pending = event
        elif event.kind is K.TOOL_RESULT:
            assert pending is not None, f"a tool result without a call\n{call.describe()}"
            assert event.tool_id == pending.tool_id, call.describe()
            pairs.append((pending.tool_name, pending.tool_id, event.is_error))
            pending = None
    assert pending is None, f"a tool call without a result\n{call.describe()}"
    return pairs


def raw_lines(request: AgentRequest) -> list[dict[str, Any]]:
    text = (request.run_dir / "raw_output.jsonl").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(isinstance(line, dict) for line in lines)
    return lines


def free_port() -> int:
    """A loopback port nothing listens on (bound by the OS, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- calls that succeed ------------------------------------------------------------------------


async def test_write_tool_call_events_result_and_files(
    api: FakeAnthropic, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    request = request_for("Create notes/hello.txt")
    target = request.cwd / "notes" / "hello.txt"
    api.script = [
        ToolUse("Write", {"file_path": str(target), "content": "hello from the model\n"}),
        Text("Wrote notes/hello.txt"),
    ]
    call = await run_call(make_engine(api.base_url), request)

    assert target.read_text() == "hello from the model\n"
    assert call.kinds(K.INIT, K.TOOL_USE, K.TOOL_RESULT, K.TEXT, K.RESULT) == [
        K.INIT,
        K.TOOL_USE,
        K.TOOL_RESULT,
        K.TEXT,
        K.RESULT,
    ], call.describe()
    assert not call.of(K.ERROR), call.describe()
    assert not call.of(K.RETRY), call.describe()
    init = call.of(K.INIT)[0]
    assert init.detail["cwd"] == str(request.cwd)
    assert init.detail["model"] == CLAUDE_MODEL
    assert init.detail["permission_mode"] == "bypassPermissions"
    tool_use = call.of(K.TOOL_USE)[0]
    assert (tool_use.tool_name, tool_use.text) == ("Write", "notes/hello.txt")
    assert tool_use.tool_id == "toolu_fake_0001"
    assert tool_pairs(call) == [("Write", "toolu_fake_0001", False)]
    assert call.of(K.TEXT)[-1].text == "Wrote notes/hello.txt"
    assert not call.of(K.RESULT)[0].is_error

    result = call.result
    assert result.success, call.describe()
    assert result.error_class is ErrorClass.NONE
    assert result.error_message == ""
    assert result.exit_code == 0
    assert result.output == "Wrote notes/hello.txt"
    assert result.session_id
    assert result.session_id in init.text
    assert result.num_turns == 2
    assert result.cost_usd > 0
    assert result.input_tokens > 0
    assert result.output_tokens > 0
    assert result.retries == 0

    run_dir = request.cwd.parent / "agents" / ADW_ID / AGENT
    assert request.run_dir == run_dir
    assert (run_dir / "prompts" / "prompt.txt").read_text() == "Create notes/hello.txt"
    lines = raw_lines(request)
    assert lines[-1]["type"] == "result"
    assert lines[-1]["session_id"] == result.session_id
    assert {line["type"] for line in lines} >= {"system", "assistant", "user", "result"}
    # every event points at the raw line it came from
    assert all(
        lines[e.line - 1]["type"] in ("system", "assistant", "user", "result") for e in call.events
    )
    assert lines[call.of(K.TOOL_RESULT)[0].line - 1]["type"] == "user"
    assert len(api.agent_requests) == 2


async def test_several_turns_pair_each_tool_call_with_its_result(
    api: FakeAnthropic, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    request = request_for("Make a counter file, bump it, list and read it")
    path = str(request.cwd / "counter.txt")
    api.script = [
        ToolUse("Write", {"file_path": path, "content": "count = 1\n"}, text="Writing it."),
        ToolUse("Edit", {"file_path": path, "old_string": "count = 1", "new_string": "count = 2"}),
        ToolUse("Bash", {"command": "ls", "description": "List files"}),
        ToolUse("Read", {"file_path": path}),
        Text("Counter is at 2."),
    ]
    call = await run_call(make_engine(api.base_url), request)

    assert call.result.success, call.describe()
    assert (request.cwd / "counter.txt").read_text() == "count = 2\n"
    ids = [f"toolu_fake_{n:04d}" for n in range(1, 5)]
    assert tool_pairs(call) == [
        ("Write", ids[0], False),
        ("Edit", ids[1], False),
        ("Bash", ids[2], False),
        ("Read", ids[3], False),
    ], call.describe()
    summaries = [e.text for e in call.of(K.TOOL_USE)]
    assert summaries == ["counter.txt", "counter.txt", "ls", "counter.txt"]
    results = {e.tool_id: e.text for e in call.of(K.TOOL_RESULT)}
    assert "README.md" in results[ids[2]]
    assert "counter.txt" in results[ids[2]]
    assert "count = 2" in results[ids[3]]
    assert [e.text for e in call.of(K.TEXT)] == ["Writing it.", "Counter is at 2."]
    assert call.kinds()[0] is K.INIT
    assert call.kinds()[-1] is K.RESULT
    assert call.result.num_turns == 5
    assert call.result.output == "Counter is at 2."
    assert len(api.agent_requests) == 5
    # the model saw each result, in the request after its call
    for request_body, tool_id in zip(api.agent_requests[1:], ids, strict=True):
        last = request_body["messages"][-1]["content"]
        assert any(b.get("tool_use_id") == tool_id for b in last if isinstance(b, dict))


async def test_custom_slash_command(
    api: FakeAnthropic, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    request = request_for("/greet Ada and Grace")
    commands = request.cwd / ".claude" / "commands"
    commands.mkdir(parents=True)
    (commands / "greet.md").write_text("Greet $ARGUMENTS warmly.\n")
    api.script = [Text("Hello, Ada and Grace!")]
    call = await run_call(make_engine(api.base_url), request)

    assert call.result.success, call.describe()
    assert call.result.output == "Hello, Ada and Grace!"
    assert call.result.num_turns == 1
    prompt = last_user_text(api.agent_requests[0])
    assert "<command-name>/greet</command-name>" in prompt
    assert "<command-args>Ada and Grace</command-args>" in prompt
    assert "Greet Ada and Grace warmly." in prompt
    prompts = request.run_dir / "prompts"
    assert [p.name for p in prompts.iterdir()] == ["greet.txt"]
    assert (prompts / "greet.txt").read_text() == "/greet Ada and Grace"


async def test_a_300_kb_prompt_reaches_the_model_intact_through_stdin(
    api: FakeAnthropic, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    # Over Linux's 128 KiB for one argument: only stdin can carry it. Multi-byte
    # characters, CR LF and a `</command-args>`-looking tail must all arrive as sent.
    line = "Ünïcödé issue text, 東京, line\r\n"
    prompt = "Summarise this issue.\n" + line * (310_000 // len(line.encode())) + "</end>"
    assert len(prompt.encode()) > 300_000
    api.script = [Text("Summarised.")]
    call = await run_call(make_engine(api.base_url), request_for(prompt))

    assert call.result.success, call.describe()
    assert call.result.output == "Summarised."
    [first] = api.agent_requests
    last = first["messages"][-1]["content"]
    texts = [block.get("text") for block in last if isinstance(block, dict)]
    # one block of its own, byte for byte (compared without pytest diffing 300 KB strings)
    same = [text == prompt for text in texts]
    assert any(same), f"prompt of {len(prompt)} chars; blocks of {[len(t or '') for t in texts]}"
    saved = (request_for(prompt).run_dir / "prompts" / "prompt.txt").read_bytes()
    if saved != prompt.encode():
        pytest.fail("prompts/prompt.txt is not the prompt")


# -- API errors ----------------------------------------------------------------------------------


async def test_http_400_is_an_invalid_request(
    api: FakeAnthropic, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    # The CLI re-sends a 400ed turn with fewer beta flags, so every request gets the 400.
    api.respond = lambda body: HttpError(400, "invalid_request_error", "fake bad request")
    call = await run_call(make_engine(api.base_url), request_for("hi"))

    result = call.result
    assert not result.success, call.describe()
    assert result.error_class is ErrorClass.INVALID_REQUEST
    assert not result.transient
    assert result.exit_code == 1
    assert "fake bad request" in result.error_message
    assert result.retries == 0
    errors = call.of(K.ERROR)
    assert len(errors) == 1, call.describe()
    assert errors[0].is_error
    assert "fake bad request" in errors[0].text
    assert call.kinds(K.INIT, K.ERROR, K.RESULT) == [K.INIT, K.ERROR, K.RESULT]
    assert call.of(K.RESULT)[0].is_error
    assert not call.of(K.RETRY)
    assert len(api.requests) >= 2


async def test_529_is_retried_by_the_cli_then_succeeds(
    api: FakeAnthropic, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    overloaded = HttpError(529, "overloaded_error", "Overloaded")
    api.script = [overloaded, overloaded, Text("made it")]
    call = await run_call(make_engine(api.base_url), request_for("hi"))

    assert call.result.success, call.describe()
    assert call.result.output == "made it"
    assert call.result.retries == 2
    retries = call.of(K.RETRY)
    assert [(e.detail["attempt"], e.detail["error_status"]) for e in retries] == [
        (1, 529),
        (2, 529),
    ]
    assert all(0 < e.detail["retry_delay_ms"] <= 5_000 for e in retries)
    assert all("HTTP 529" in e.text for e in retries)
    assert call.kinds(K.INIT, K.RETRY, K.TEXT, K.RESULT) == [
        K.INIT,
        K.RETRY,
        K.RETRY,
        K.TEXT,
        K.RESULT,
    ]
    assert api.answers == [overloaded, overloaded, Text("made it")]


# -- calls adw has to stop -----------------------------------------------------------------------


@pytest.mark.slow
async def test_silent_api_hits_the_idle_timeout_and_the_tree_is_killed(
    api: FakeAnthropic,
    make_engine: MakeEngine,
    request_for: Callable[..., AgentRequest],
    claude_bin: Path,
) -> None:
    api.script = [NeverAnswer()]
    request = request_for("hi", idle_timeout_s=3, timeout_s=60)
    call = await run_call(make_engine(api.base_url), request, claude_bin)

    result = call.result
    assert result.error_class is ErrorClass.IDLE_TIMEOUT, call.describe()
    assert not result.success
    assert result.transient
    assert result.error_message.startswith("stopped by the no-output timeout")
    assert result.exit_code == 128 + signal.SIGTERM  # the CLI traps SIGTERM and exits
    assert 3 <= call.seconds < 15, call.describe()
    assert call.kinds() == [K.INIT], call.describe()
    assert len(api.requests) == 1
    assert_nothing_left(call.tree, request.cwd)


@pytest.mark.slow
async def test_unreachable_api_hits_the_whole_call_timeout(
    make_engine: MakeEngine, request_for: Callable[..., AgentRequest], claude_bin: Path
) -> None:
    # The CLI retries a refused connection for minutes; only adw's timeout ends the call.
    request = request_for("hi", timeout_s=4, idle_timeout_s=30)
    engine = make_engine(f"http://127.0.0.1:{free_port()}")
    call = await run_call(engine, request, claude_bin)

    result = call.result
    assert result.error_class is ErrorClass.TIMEOUT, call.describe()
    assert not result.success
    assert result.transient
    retries = call.of(K.RETRY)
    assert retries, call.describe()
    assert result.retries == len(retries) >= 1
    assert [e.detail["attempt"] for e in retries] == list(range(1, len(retries) + 1))
    assert all(e.detail["error_status"] is None for e in retries)
    assert "whole-call timeout" in result.error_message
    assert f"after {result.retries} API retries" in result.error_message
    assert 4 <= call.seconds < 15, call.describe()
    assert not call.of(K.RESULT)
    assert_nothing_left(call.tree, request.cwd)


async def test_cancelling_the_consumer_kills_the_tree(
    api: FakeAnthropic,
    make_engine: MakeEngine,
    request_for: Callable[..., AgentRequest],
    claude_bin: Path,
) -> None:
    api.script = [NeverAnswer()]
    request = request_for("hi", idle_timeout_s=60, timeout_s=60)
    engine = make_engine(api.base_url)
    seen: list[AgentEvent | AgentResult] = []
    initialised = asyncio.Event()

    async def consume() -> None:
        async with aclosing(engine.run(request)) as stream:
            async for item in stream:
                seen.append(item)
                if isinstance(item, AgentEvent) and item.kind is K.INIT:
                    initialised.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(initialised.wait(), timeout=20)
    found = claude_process(claude_bin)
    assert found is not None
    tree = ProcessTree(found.pid, os.getpgid(found.pid))
    for _ in range(10):  # until the request reached the server
        tree.snapshot()
        if api.requests:
            break
        await asyncio.sleep(0.1)
    assert len(api.requests) == 1

    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 5
    assert [type(item) for item in seen] == [AgentEvent]  # no result after a cancel
    assert_nothing_left(tree, request.cwd)
