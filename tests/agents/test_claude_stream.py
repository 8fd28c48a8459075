"""Claude Code stream-json parsing and error classification, on real transcripts."""

import json
from pathlib import Path
from typing import Any

import pytest

from adw_tui.agents.claude_stream import ClaudeStreamParser
from adw_tui.agents.engine import ProcessEnding
from adw_tui.agents.jsonl import JsonlSplitter
from adw_tui.agents.stream_fields import fold
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentResult, ErrorClass

FIXTURES = Path(__file__).parent.parent / "fixtures" / "claude"
Kind = AgentEventKind


def parse_bytes(
    data: bytes, *, exit_code: int | None = 0, limit: ErrorClass | None = None
) -> tuple[list[AgentEvent], AgentResult]:
    splitter, parser = JsonlSplitter(), ClaudeStreamParser("/home/user/repo")
    events = [event for line in splitter.feed(data) for event in parser.events(line)]
    events += [event for line in splitter.close() for event in parser.events(line)]
    ending = ProcessEnding(exit_code=exit_code, stderr_tail="", duration_ms=5, limit=limit)
    return events, parser.finish(ending)


def parse_fixture(name: str, **ending: Any) -> tuple[list[AgentEvent], AgentResult]:
    return parse_bytes((FIXTURES / name).read_bytes(), **ending)


def parse_lines(*lines: dict[str, Any], **ending: Any) -> tuple[list[AgentEvent], AgentResult]:
    return parse_bytes(b"".join(json.dumps(line).encode() + b"\n" for line in lines), **ending)


def test_tool_call_success():
    events, result = parse_fixture("claude-2.1.328-tool-call-success.jsonl")
    assert [e.kind for e in events] == [
        Kind.INIT,
        Kind.TOOL_USE,
        Kind.TOOL_RESULT,
        Kind.TEXT,
        Kind.RESULT,
    ]
    tool_use = events[1]
    assert (tool_use.tool_name, tool_use.text, tool_use.tool_id) == (
        "Write",
        "hello.txt",
        "toolu_01",
    )
    assert events[2].tool_id == "toolu_01"
    assert not events[2].is_error
    assert events[3].text == "Done: wrote hello.txt"
    assert [e.line for e in events] == [1, 2, 3, 4, 5]
    assert result.success
    assert result.error_class is ErrorClass.NONE
    assert result.output == "Done: wrote hello.txt"
    assert result.session_id == "4e7e39c1-1413-4420-bf09-58043dd99bcd"
    assert result.cost_usd == pytest.approx(0.000448)
    assert (result.input_tokens, result.output_tokens, result.num_turns) == (24, 40, 2)
    assert result.duration_ms == 178


def test_slash_command():
    events, result = parse_fixture("claude-2.1.328-slash-command.jsonl")
    assert events[0].kind is Kind.INIT
    assert events[0].detail["model"] == "claude-opus-5-5"
    assert result.success
    assert result.cost_usd == pytest.approx(0.000896)


def test_api_error_400_is_a_permanent_invalid_request_despite_subtype_success():
    events, result = parse_fixture("claude-2.1.328-api-error-400.jsonl", exit_code=1)
    assert [e.kind for e in events] == [Kind.INIT, Kind.ERROR, Kind.RESULT]
    assert events[1].is_error
    assert not result.success
    assert result.error_class is ErrorClass.INVALID_REQUEST
    assert not result.transient
    assert result.exit_code == 1
    assert "400" in result.error_message


def test_connection_refused_stopped_by_timeout_reports_the_retries():
    events, result = parse_fixture(
        "claude-2.1.328-connection-refused-api-retry.jsonl",
        exit_code=-15,
        limit=ErrorClass.TIMEOUT,
    )
    retries = [e for e in events if e.kind is Kind.RETRY]
    assert [e.detail["attempt"] for e in retries] == list(range(1, 9))
    assert retries[-1].detail["retry_delay_ms"] == 39152
    assert result.error_class is ErrorClass.TIMEOUT
    assert result.transient
    assert result.retries == 8
    assert "after 8 API retries" in result.error_message


def test_connection_refused_that_exits_by_itself_is_a_network_error():
    _, result = parse_fixture("claude-2.1.328-connection-refused-api-retry.jsonl", exit_code=1)
    assert result.error_class is ErrorClass.NETWORK


def api_error_result(status: int | None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "result",
        "subtype": "success",
        "is_error": True,
        "api_error_status": status,
        "terminal_reason": "api_error",
        "result": f"API Error: {status}",
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, ErrorClass.AUTH),
        (403, ErrorClass.AUTH),
        (429, ErrorClass.RATE_LIMIT),
        (529, ErrorClass.OVERLOADED),
        (500, ErrorClass.OVERLOADED),
        (400, ErrorClass.INVALID_REQUEST),
        (413, ErrorClass.INVALID_REQUEST),
    ],
)
def test_api_status_classes(status: int, expected: ErrorClass):
    _, result = parse_lines(api_error_result(status), exit_code=1)
    assert result.error_class is expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("authentication_failed", ErrorClass.AUTH),
        ("billing_error", ErrorClass.AUTH),
        ("rate_limit", ErrorClass.RATE_LIMIT),
        ("invalid_request", ErrorClass.INVALID_REQUEST),
        ("server_error", ErrorClass.OVERLOADED),
    ],
)
def test_assistant_error_classes_when_no_status(error: str, expected: ErrorClass):
    assistant = {
        "type": "assistant",
        "error": error,
        "message": {"content": [{"type": "text", "text": "API Error"}]},
    }
    events, result = parse_lines(assistant, api_error_result(None), exit_code=1)
    assert events[0].kind is Kind.ERROR
    assert result.error_class is expected


@pytest.mark.parametrize(
    ("subtype", "expected"),
    [
        ("error_max_turns", ErrorClass.MAX_TURNS),
        ("error_during_execution", ErrorClass.EXECUTION_ERROR),
    ],
)
def test_result_subtype_classes(subtype: str, expected: ErrorClass):
    _, result = parse_lines({"type": "result", "subtype": subtype, "is_error": True}, exit_code=1)
    assert result.error_class is expected
    assert result.transient is expected.transient


def test_rejected_rate_limit_event_classifies_a_failure():
    events, result = parse_lines(
        {"type": "rate_limit_event", "rate_limit_info": {"status": "rejected"}},
        {"type": "result", "subtype": "success", "is_error": True, "result": "limit"},
        exit_code=1,
    )
    assert events[0].kind is Kind.RATE_LIMIT
    assert events[0].is_error
    assert result.error_class is ErrorClass.RATE_LIMIT


def test_missing_result_line():
    init = {"type": "system", "subtype": "init", "session_id": "s1", "model": "m"}
    _, clean_exit = parse_lines(init, exit_code=0)
    assert clean_exit.error_class is ErrorClass.NO_RESULT
    assert clean_exit.session_id == "s1"
    _, killed = parse_lines(init, exit_code=-9)
    assert killed.error_class is ErrorClass.CRASHED
    assert "without a result line" in killed.error_message


def test_success_result_with_nonzero_exit_is_not_a_success():
    _, result = parse_lines({"type": "result", "is_error": False, "result": "ok"}, exit_code=2)
    assert not result.success
    assert result.error_class is ErrorClass.CRASHED


def test_unknown_types_thinking_and_partial_lines_are_kept_not_fatal():
    events, result = parse_bytes(
        b'{"type":"stream_event","event":{}}\n'
        b'{"type":"system","subtype":"compact_boundary"}\n'
        b'{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"hmm"}]}}\n'
        b"{broken\n"
        b'{"type":"result","is_error":false,"result":"fine","num_turns":1}\n'
    )
    assert [e.kind for e in events] == [
        Kind.UNKNOWN,
        Kind.UNKNOWN,
        Kind.THINKING,
        Kind.UNKNOWN,
        Kind.RESULT,
    ]
    assert events[3].is_error
    assert "invalid JSON" in events[3].text
    assert result.success


def test_tool_results_are_folded_and_errors_flagged():
    long_output = "\n".join(f"line {i}" for i in range(10))
    events, _ = parse_lines(
        {
            "type": "assistant",
            "message": {
                "content": [
                    {
                        "type": "tool_use",
                        "id": "t1",
                        "name": "Bash",
                        "input": {"command": "ls\npwd"},
                    }
                ]
            },
        },
        {
            "type": "user",
            "message": {
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": long_output},
                    {
                        "type": "tool_result",
                        "tool_use_id": "t2",
                        "is_error": True,
                        "content": [{"type": "text", "text": "boom"}],
                    },
                ]
            },
        },
    )
    assert events[0].text == "ls"
    assert events[1].text == fold(long_output)
    assert events[1].text.endswith("(7 more lines)")
    assert (events[2].is_error, events[2].text) == (True, "boom")


def test_error_classes_transient_or_permanent():
    permanent = {ErrorClass.AUTH, ErrorClass.INVALID_REQUEST, ErrorClass.MAX_TURNS}
    permanent |= {ErrorClass.NOT_INSTALLED, ErrorClass.MEMORY_LIMIT, ErrorClass.NONE}
    permanent |= {
        ErrorClass.BREAKER_OPEN,
        ErrorClass.PROMPT_TOO_LONG,
        ErrorClass.WORKTREE_MISSING,
        ErrorClass.BUDGET,
    }
    assert {c for c in ErrorClass if not c.transient} == permanent


@pytest.mark.parametrize(
    "text",
    [
        "",
        "one",
        "a\nb\nc",
        "a\nb\nc\n",
        "a\nb\nc\nd",
        "a\nb\nc\nd\n",
        "a\nb\nc\n\n\n",
        "\n\n\n\n",
        "a\r\nb\r\nc\r\nd\r\n",
        "a\nb\rc\nd",
        "a\nb\nc\x0bd\x1ce",
        "a\nb\nc\u2028d\x85e",
        "é\nb\nc\nd",
        "".join(f"line {i}\n" for i in range(500)),
    ],
)
def test_fold_counts_lines_as_splitlines_does(text: str):
    lines = text.splitlines()
    expected = (
        text if len(lines) <= 3 else "\n".join([*lines[:3], f"… ({len(lines) - 3} more lines)"])
    )
    assert fold(text) == expected
