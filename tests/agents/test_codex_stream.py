"""Codex `exec --json` parsing and error classification, on real transcripts of Codex
0.171.0 (tests/fixtures/codex, from shared/reference/codex) and on lines shaped as its
source declares them (codex-rs/exec/src/exec_events.rs)."""

import json
from pathlib import Path
from typing import Any

import pytest

from adw_tui.agents.codex import CodexEngine, CodexStreamParser, classify_message
from adw_tui.agents.engine import ProcessEnding
from adw_tui.agents.jsonl import JsonlSplitter
from adw_tui.agents.registry import parser_for
from adw_tui.agents.transcript import event_markup, result_markup
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentRequest, AgentResult, ErrorClass

FIXTURES = Path(__file__).parent.parent / "fixtures" / "codex"
CWD = "/home/user/repo"
PRICES = {"gpt-fake": (1.0, 10.0)}
K = AgentEventKind


def parse_bytes(
    data: bytes,
    *,
    exit_code: int | None = 0,
    limit: ErrorClass | None = None,
    model: str | None = "gpt-fake",
    prices: dict[str, tuple[float, float]] | None = None,
    stderr: str = "",
) -> tuple[list[AgentEvent], AgentResult]:
    splitter = JsonlSplitter()
    parser = CodexStreamParser(CWD, model=model, prices=PRICES if prices is None else prices)
    events = [event for line in splitter.feed(data) for event in parser.events(line)]
    events += [event for line in splitter.close() for event in parser.events(line)]
    ending = ProcessEnding(exit_code=exit_code, stderr_tail=stderr, duration_ms=5, limit=limit)
    return events, parser.finish(ending)


def parse_fixture(name: str, **ending: Any) -> tuple[list[AgentEvent], AgentResult]:
    return parse_bytes((FIXTURES / f"codex-0.171.0-{name}.jsonl").read_bytes(), **ending)


def parse_lines(*lines: dict[str, Any], **ending: Any) -> tuple[list[AgentEvent], AgentResult]:
    return parse_bytes(b"".join(json.dumps(line).encode() + b"\n" for line in lines), **ending)


def item(stage: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"item.{stage}", "item": fields}


THREAD = {"type": "thread.started", "thread_id": "01a2-thread"}
DONE = {
    "type": "turn.completed",
    "usage": {"input_tokens": 1000, "cached_input_tokens": 800, "output_tokens": 100},
}


def test_a_plain_answer():
    events, result = parse_fixture("plain")
    assert [e.kind for e in events] == [K.INIT, K.WARNING, K.TEXT, K.RESULT]
    init = events[0]
    assert init.text == "session 01a23b08-b0eb-7571-b728-7a8daf9c3c68 · model gpt-fake"
    assert init.detail == {
        "session_id": "01a23b08-b0eb-7571-b728-7a8daf9c3c68",
        "model": "gpt-fake",
        "cwd": CWD,
    }
    assert events[1].text.startswith("Model metadata for `gpt-fake` not found")
    assert not events[1].is_error
    assert events[2].text == "Hello from the fake Responses server."
    assert [e.line for e in events] == [1, 2, 4, 5]
    assert result.success
    assert result.error_class is ErrorClass.NONE
    assert result.error_message == ""
    assert result.output == "Hello from the fake Responses server."
    assert result.session_id == "01a23b08-b0eb-7571-b728-7a8daf9c3c68"
    # Codex's input_tokens include the cached ones; adw counts them apart, as Claude's.
    assert (result.input_tokens, result.cache_read_tokens, result.output_tokens) == (80, 20, 50)
    assert result.cache_creation_tokens == 0
    # 80 fresh at $1/M, 20 cached at a tenth of that, 50 out at $10/M
    assert result.cost_usd == pytest.approx((80 + 20 * 0.1) / 1e6 + 50 * 10 / 1e6)
    assert result.cost_estimated
    assert result.num_turns == 1
    assert result.exit_code == 0
    assert result.retries == 0
    assert "(estimated)" in events[-1].text
    assert f"· ~${result.cost_usd:.4f} ·" in result_markup(result, "agents/x/y")
    assert "100 tokens in, 50 out" in events[-1].text


def test_a_shell_command_is_a_tool_call_and_its_result():
    events, result = parse_fixture("tool")
    assert [e.kind for e in events] == [
        K.INIT,
        K.WARNING,
        K.TOOL_USE,
        K.TOOL_RESULT,
        K.TEXT,
        K.RESULT,
    ]
    use, outcome = events[2], events[3]
    assert (use.tool_name, use.text, use.tool_id) == (
        "shell",
        "echo hello-from-codex > out.txt && cat out.txt",
        "item_1",
    )
    assert (outcome.tool_id, outcome.text, outcome.is_error) == (
        "item_1",
        "hello-from-codex\n",
        False,
    )
    assert result.success
    assert result.output == "Wrote out.txt."
    assert (result.input_tokens, result.cache_read_tokens, result.output_tokens) == (160, 40, 100)


def test_a_resumed_thread_reports_the_threads_totals():
    _, result = parse_fixture("resume")
    assert result.success
    assert result.session_id == "01a23b08-daf0-7802-b5b5-bb30eccc0d2f"
    assert (result.input_tokens + result.cache_read_tokens, result.output_tokens) == (300, 150)


@pytest.mark.parametrize(
    ("name", "error_class", "retries", "says"),
    [
        ("e401", ErrorClass.AUTH, 2, "unexpected status 401 Unauthorized"),
        ("e429", ErrorClass.RATE_LIMIT, 0, "exceeded retry limit, last status: 429"),
        ("e500", ErrorClass.OVERLOADED, 2, "experiencing high demand"),
    ],
)
def test_a_failed_turn_is_classed_by_its_message(
    name: str, error_class: ErrorClass, retries: int, says: str
):
    events, result = parse_fixture(name, exit_code=1)
    assert not result.success
    assert result.error_class is error_class
    assert result.retries == retries
    assert says in result.error_message
    if retries:
        assert result.error_message.endswith(f"after {retries} API retries")
    assert [e.kind for e in events if e.kind is K.RETRY] == [K.RETRY] * retries
    assert [(e.kind, e.is_error) for e in events[-2:]] == [(K.ERROR, True), (K.RESULT, True)]
    assert events[-1].text == events[-2].text
    assert result.cost_usd == 0
    assert not result.cost_estimated
    assert result.session_id is not None


def test_reconnects_are_retries_with_their_attempt_and_cause():
    events, _ = parse_fixture("e401", exit_code=1)
    retries = [e for e in events if e.kind is K.RETRY]
    assert [(e.detail["attempt"], e.detail["max_retries"]) for e in retries] == [(1, 2), (2, 2)]
    assert retries[0].text.startswith("API retry 1/2 (unexpected status 401 Unauthorized")
    assert retries[0].detail["error"].endswith("url: http://127.0.0.1:18401/v1/responses")


def test_an_unreachable_api_ends_only_by_adws_timeout():
    events, result = parse_fixture("refused", exit_code=-15, limit=ErrorClass.TIMEOUT)
    retries = [e for e in events if e.kind is K.RETRY]
    assert len(retries) == 5
    assert (
        retries[0].text
        == "API retry (waiting for network (Connection failed: error sending request))"
    )
    assert [e.detail["attempt"] for e in retries] == [1, 2, 3, 4, 5]
    assert result.error_class is ErrorClass.TIMEOUT
    assert result.transient
    assert result.error_message == (
        "stopped by the whole-call timeout after 5 API retries (the last: waiting for "
        "network (Connection failed: error sending request)); the process tree was killed"
    )
    assert result.session_id == "01a23b09-31f1-71e0-808d-71320238d590"


@pytest.mark.parametrize(
    ("message", "error_class"),
    [
        ("unexpected status 403 Forbidden: no, url: http://x/v1/responses", ErrorClass.AUTH),
        ("unexpected status 413 Payload Too Large: big", ErrorClass.INVALID_REQUEST),
        ("unexpected status 502 Bad Gateway: upstream", ErrorClass.OVERLOADED),
        ("exceeded retry limit, last status: 500 Internal Server Error", ErrorClass.OVERLOADED),
        ("Quota exceeded. Check your plan and billing details.", ErrorClass.AUTH),
        ("Missing environment variable: `FAKE_OPENAI_KEY`.", ErrorClass.AUTH),
        (
            "Codex ran out of room in the model's context window. Start a new thread or clear "
            "earlier history before retrying.",
            ErrorClass.INVALID_REQUEST,
        ),
        ("You've hit your usage limit. Try again at 5:00 PM.", ErrorClass.RATE_LIMIT),
        ("stream disconnected before completion: idle timeout", ErrorClass.NETWORK),
        # HTTP 400: Codex prints the API's error body as it came
        (
            '{"error": {"message": "bad", "type": "invalid_request_error"}}',
            ErrorClass.INVALID_REQUEST,
        ),
        ("something new went wrong", ErrorClass.EXECUTION_ERROR),
    ],
)
def test_error_messages(message: str, error_class: ErrorClass):
    assert classify_message(message) is error_class


def test_a_file_change_an_mcp_call_and_a_failed_command():
    events, result = parse_lines(
        THREAD,
        item(
            "started",
            id="item_1",
            type="file_change",
            status="in_progress",
            changes=[{"path": f"{CWD}/src/a.py", "kind": "update"}],
        ),
        item(
            "updated",
            id="item_1",
            type="file_change",
            status="in_progress",
            changes=[{"path": f"{CWD}/src/a.py", "kind": "update"}],
        ),
        item(
            "completed",
            id="item_1",
            type="file_change",
            status="completed",
            changes=[
                {"path": f"{CWD}/src/a.py", "kind": "update"},
                {"path": f"{CWD}/b.md", "kind": "add"},
            ],
        ),
        item(
            "started",
            id="item_2",
            type="mcp_tool_call",
            server="docs",
            tool="search",
            arguments={"query": "retry policy"},
            status="in_progress",
        ),
        item(
            "completed",
            id="item_2",
            type="mcp_tool_call",
            server="docs",
            tool="search",
            arguments={"query": "retry policy"},
            status="completed",
            result={"content": [{"type": "text", "text": "found 3"}]},
        ),
        # a command whose start was never seen: its call is made up from its completion
        item(
            "completed",
            id="item_3",
            type="command_execution",
            command="/bin/bash -lc 'pytest -q'",
            aggregated_output="",
            exit_code=2,
            status="failed",
        ),
        item("completed", id="item_4", type="web_search", query="codex exec json"),
        DONE,
    )
    uses = [(e.tool_name, e.text, e.tool_id) for e in events if e.kind is K.TOOL_USE]
    assert uses == [
        ("edit", "src/a.py", "item_1"),
        ("docs.search", "retry policy", "item_2"),
        ("shell", "pytest -q", "item_3"),
        ("web_search", "codex exec json", "item_4"),
    ]
    results = [(e.tool_id, e.text, e.is_error) for e in events if e.kind is K.TOOL_RESULT]
    assert results == [
        ("item_1", f"update {CWD}/src/a.py\nadd {CWD}/b.md", False),
        ("item_2", "found 3", False),
        ("item_3", "exit code 2", True),
        ("item_4", "done", False),
    ]
    assert result.success  # a failed tool call does not fail the turn


def test_reasoning_plans_warnings_and_unknown_lines():
    todo = [{"text": "read", "completed": True}, {"text": "write", "completed": False}]
    events, result = parse_lines(
        THREAD,
        {"type": "turn.started"},
        item("completed", id="item_0", type="reasoning", text="**Thinking** about it"),
        item("started", id="item_1", type="todo_list", items=todo),
        item("updated", id="item_1", type="todo_list", items=[{**todo[1], "completed": True}]),
        item("completed", id="item_1", type="todo_list", items=[{**todo[1], "completed": True}]),
        item("completed", id="item_2", type="error", message="model rerouted: a -> b"),
        item("completed", id="item_3", type="hologram", text="?"),
        {"type": "request_user_input", "id": "t", "call_id": "c", "questions": []},
        {"type": "turn.rewound"},
        item("completed", id="item_4", type="agent_message", text="All done."),
        DONE,
    )
    assert [e.kind for e in events] == [
        K.INIT, K.THINKING, K.THINKING, K.THINKING, K.WARNING, K.UNKNOWN, K.WARNING,
        K.UNKNOWN, K.TEXT, K.RESULT,
    ]  # fmt: skip
    assert events[1].text == "**Thinking** about it"
    assert events[2].text == "plan: 1/2 done\n[x] read\n[ ] write"
    assert events[3].text == "plan: 1/1 done\n[x] write"
    assert events[4].text == "model rerouted: a -> b"
    assert events[5].detail == {"type": "item", "item_type": "hologram"}
    assert events[7].detail == {"type": "turn.rewound"}
    assert not any(e.is_error for e in events)
    assert result.success
    assert result.output == "All done."
    assert event_markup(events[4]) == "[transcript.warning]! model rerouted: a -> b[/]"


def test_odd_lines_never_raise():
    events, result = parse_bytes(
        b"not json\n"
        + b"".join(
            json.dumps(line).encode() + b"\n"
            for line in (
                {"type": "thread.started", "thread_id": 7},
                {"type": "item.completed", "item": "text"},
                {"type": "item.started", "item": {"type": "command_execution", "command": ["ls"]}},
                {"type": "item.completed", "item": {"type": "file_change", "changes": "all"}},
                {"type": "item.completed", "item": {"type": "mcp_tool_call", "result": []}},
                {"type": "item.completed", "item": {"type": "todo_list", "items": None}},
                {"type": "error"},
                {"type": "turn.failed", "error": "nope"},
                {"type": "turn.completed", "usage": {"input_tokens": "many"}},
                {"type": 3},
            )
        ),
        exit_code=1,
    )
    assert events[0].kind is K.UNKNOWN
    assert events[0].is_error
    assert result.error_class is ErrorClass.EXECUTION_ERROR
    assert result.error_message == "turn failed"


def test_how_the_process_ended_decides_without_an_end_of_turn():
    _, crashed = parse_lines(THREAD, exit_code=101, stderr="thread 'main' panicked\n")
    assert crashed.error_class is ErrorClass.CRASHED
    assert crashed.error_message == (
        "exited with code 101 without an end of turn: thread 'main' panicked"
    )
    _, quiet = parse_lines(THREAD, exit_code=0)
    assert quiet.error_class is ErrorClass.NO_RESULT
    _, reconnected = parse_lines(
        THREAD, {"type": "error", "message": "Reconnecting... 1/5 (stream closed)"}, exit_code=1
    )
    assert reconnected.error_class is ErrorClass.NETWORK
    _, idle = parse_lines(THREAD, exit_code=-15, limit=ErrorClass.IDLE_TIMEOUT)
    assert idle.error_message == "stopped by the no-output timeout; the process tree was killed"
    _, late_exit = parse_lines(THREAD, DONE, exit_code=1)
    assert late_exit.error_class is ErrorClass.CRASHED


def test_an_unpriced_model_has_an_unknown_cost():
    events, result = parse_lines(THREAD, DONE, model="gpt-unlisted")
    assert result.success
    assert (result.cost_usd, result.cost_estimated) == (0.0, False)
    assert events[-1].text.endswith("cost unknown")
    _, transcript = parse_lines(THREAD, DONE, model=None)  # a saved transcript, read again
    assert not transcript.cost_estimated


def test_the_registry_reads_codex_transcripts():
    parser = parser_for("codex", CWD)
    assert isinstance(parser, CodexStreamParser)
    [line] = JsonlSplitter().feed(json.dumps(THREAD).encode() + b"\n")
    [init] = parser.events(line)
    assert init.detail["session_id"] == "01a2-thread"


def make_request(tmp_path: Path, **fields: Any) -> AgentRequest:
    values: dict[str, Any] = {
        "prompt": "/implement specs/a.md",
        "adw_id": "4e1f2a9c",
        "agent_name": "sdlc_implementor",
        "model": "gpt-5.1-codex",
        "cwd": tmp_path,
        "output_dir": tmp_path / "agents",
        **fields,
    }
    return AgentRequest.model_validate(values)


def test_the_command_line(tmp_path: Path):
    engine = CodexEngine(binary="/opt/codex", environ={})
    assert engine.command(make_request(tmp_path, max_turns=3)) == [
        "/opt/codex", "exec", "--json", "--model", "gpt-5.1-codex", "--cd", str(tmp_path),
        "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "-",
    ]  # fmt: skip
    sandboxed = CodexEngine(binary="codex", sandbox="workspace-write", environ={})
    resumed = sandboxed.command(make_request(tmp_path, resume_session_id="01a2-thread"))
    # every option before `resume`, which takes only the thread and the prompt
    assert resumed[-5:] == ["--sandbox", "workspace-write", "resume", "01a2-thread", "-"]
    assert engine.interactive_resume("01a2-thread") == ["/opt/codex", "resume", "01a2-thread"]


def test_the_binary_and_the_environment():
    environ = {
        "PATH": "/nowhere",
        "HOME": "/home/user",
        "ADW_CODEX_PATH": "/opt/codex-0.171",
        "CODEX_HOME": "/home/user/.codex",
        "OPENAI_API_KEY": "sk-x",
        "MY_PROVIDER_KEY": "sk-y",
        "GITHUB_PAT": "ghp_secret",
        "AWS_SECRET_ACCESS_KEY": "no",
    }
    engine = CodexEngine(environ=environ, extra_env=["MY_PROVIDER_KEY"])
    assert engine.environment() == {
        "PATH": "/nowhere",
        "HOME": "/home/user",
        "CODEX_HOME": "/home/user/.codex",
        "OPENAI_API_KEY": "sk-x",
        "MY_PROVIDER_KEY": "sk-y",
    }
    problem = engine.check_installed()
    assert problem is not None
    assert "'/opt/codex-0.171' not found" in problem
    assert "npm install -g @openai/codex" in problem
    assert "ADW_CODEX_PATH" in problem


async def test_a_missing_binary_is_not_installed(tmp_path: Path):
    engine = CodexEngine(binary="codex-nonesuch", environ={"PATH": str(tmp_path)})
    items = [item async for item in engine.run(make_request(tmp_path))]
    assert len(items) == 1
    assert isinstance(items[0], AgentResult)
    assert items[0].error_class is ErrorClass.NOT_INSTALLED
    assert not (tmp_path / "agents").exists()  # nothing was started
