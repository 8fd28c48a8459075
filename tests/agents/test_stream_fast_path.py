"""The reader and parser check only the fields an event uses, so odd lines must still end
as safe events: fields of the wrong type, fields missing, lines the fast JSON path does
not take, and huge lines. None of them may raise."""

import json
from typing import Any

import pytest

from adw_tui.agents.claude_stream import ClaudeStreamParser
from adw_tui.agents.engine import ProcessEnding
from adw_tui.agents.jsonl import BadLine, JsonLine, JsonlSplitter, parse_line
from adw_tui.agents.transcript import event_markup
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentResult, ErrorClass

Kind = AgentEventKind
ENDING = ProcessEnding(exit_code=0, stderr_tail="", duration_ms=7)


def parse(*values: Any) -> tuple[list[AgentEvent], AgentResult]:
    parser = ClaudeStreamParser("/repo")
    events = [
        event
        for number, value in enumerate(values, 1)
        for event in parser.events(JsonLine(number, value))
    ]
    return events, parser.finish(ENDING)


ODD_VALUES: list[Any] = [None, 1, 2.5, True, "text", [1, "a"], {"nested": {}}]


@pytest.mark.parametrize("odd", ODD_VALUES)
def test_every_field_of_the_wrong_type_parses_without_raising(odd: Any):
    lines = [
        {"type": "system", "subtype": "init", "session_id": odd, "model": odd, "cwd": odd},
        {"type": "system", "subtype": "api_retry", "attempt": odd, "retry_delay_ms": odd,
         "error_status": odd, "error": odd, "max_retries": odd},
        {"type": "assistant", "message": odd, "error": odd},
        {"type": "assistant", "message": {"content": odd}},
        {"type": "assistant", "message": {"content": [odd, {"type": odd}]}},
        {"type": "assistant", "message": {"content": [
            {"type": "text", "text": odd},
            {"type": "thinking", "thinking": odd},
            {"type": "tool_use", "id": odd, "name": odd, "input": odd},
        ]}},
        {"type": "user", "message": {"content": [
            odd, {"type": "tool_result", "tool_use_id": odd, "content": odd, "is_error": odd},
        ]}},
        {"type": "rate_limit_event", "rate_limit_info": odd, "status": odd},
        {"type": odd},
        {"type": "result", "is_error": odd, "total_cost_usd": odd, "usage": odd,
         "num_turns": odd, "duration_ms": odd, "result": odd, "session_id": odd,
         "api_error_status": odd, "subtype": odd, "errors": odd},
    ]  # fmt: skip
    events, result = parse(*lines)
    for event in events:
        assert isinstance(event.text, str)
        assert event.tool_id is None or isinstance(event.tool_id, str)
        assert event.tool_name is None or isinstance(event.tool_name, str)
        event_markup(event)  # renders
    assert isinstance(result.output, str)
    assert result.session_id is None or isinstance(result.session_id, str)
    assert result.cost_usd == 0.0 or isinstance(odd, int | float)


def test_missing_fields_give_placeholders_not_errors():
    events, result = parse(
        {"type": "system", "subtype": "init"},
        {"type": "system", "subtype": "api_retry"},
        {"type": "assistant"},
        {"type": "assistant", "message": {"content": [{"type": "tool_use"}]}},
        {"type": "user"},
        {"type": "rate_limit_event"},
        {},
        {"type": "result"},
    )
    assert [(e.kind, e.text) for e in events] == [
        (Kind.INIT, "session ? · model ?"),
        (Kind.RETRY, "API retry None/None in 0.0s (unknown error, no HTTP status)"),
        (Kind.TOOL_USE, "?"),
        (Kind.RATE_LIMIT, "rate limit unknown"),
        (Kind.UNKNOWN, "None line"),
        (Kind.RESULT, "done: $0.0000"),
    ]
    assert result.success
    assert (result.cost_usd, result.input_tokens, result.duration_ms) == (0.0, 0, 7)
    assert result.retries == 1


def test_numbers_are_taken_and_booleans_are_not_numbers():
    events, result = parse(
        {"type": "system", "subtype": "api_retry", "attempt": 2, "max_retries": 10,
         "retry_delay_ms": 1500, "error_status": True},
        {"type": "result", "is_error": True, "api_error_status": True, "subtype": "success",
         "total_cost_usd": 0.25, "usage": {"input_tokens": 12.0, "output_tokens": False}},
    )  # fmt: skip
    assert events[0].text == "API retry 2/10 in 1.5s (unknown error, no HTTP status)"
    assert events[0].detail["error_status"] is None
    assert result.error_class is ErrorClass.EXECUTION_ERROR  # no status: not HTTP 1
    assert (result.cost_usd, result.input_tokens, result.output_tokens) == (0.25, 12, 0)


def test_a_huge_type_name_is_clipped():
    events, _ = parse({"type": "x" * 100_000})
    assert len(events[0].text) < 200


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'  {"a": 1}  ', {"a": 1}),
        (b'{"a": 1}\r', {"a": 1}),
        (b'\xef\xbb\xbf{"a": 1}', {"a": 1}),  # a byte-order mark, as json.loads takes it
        (b'{"a": "caf\xc3\xa9"}', {"a": "café"}),
        (b'{"a": "caf\xe9"}', {"a": "caf\ufffd"}),  # invalid UTF-8, replaced
    ],
)
def test_lines_off_the_fast_path_parse_as_json_loads_would(line: bytes, expected: Any):
    assert parse_line(line, 1) == JsonLine(1, expected)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"a": 1} {"b": 2}', "invalid JSON: Extra data"),
        (b'{"a": 1', "invalid JSON: Expecting"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b'"text"', "a JSON str, not an object"),
        (b"NaNx", "invalid JSON"),
    ],
)
def test_bad_lines_say_why(line: bytes, reason: str):
    parsed = parse_line(line, 4)
    assert isinstance(parsed, BadLine)
    assert parsed.reason.startswith(reason)
    assert (parsed.number, parsed.size) == (4, len(line))


def test_blank_lines_are_skipped_but_counted():
    splitter = JsonlSplitter()
    parsed = list(splitter.feed(b'\n  \n{"a": 1}\n'))
    assert parsed == [JsonLine(3, {"a": 1})]


def test_a_huge_valid_line_in_many_chunks_is_parsed_once_whole():
    text = "y" * 3_000_000
    data = json.dumps({"type": "assistant", "message": {"content": [
        {"type": "text", "text": text}]}}).encode() + b"\n"  # fmt: skip
    splitter = JsonlSplitter(max_line_bytes=4_000_000)
    chunks = [data[i : i + 65_536] for i in range(0, len(data), 65_536)]
    parsed = [line for chunk in chunks for line in splitter.feed(chunk)]
    assert len(parsed) == 1
    parser = ClaudeStreamParser()
    [event] = parser.events(parsed[0])
    assert (event.kind, len(event.text)) == (Kind.TEXT, len(text))


def test_a_line_over_the_limit_becomes_one_bad_line_and_the_next_line_parses():
    splitter = JsonlSplitter(max_line_bytes=1_000)
    data = b'{"a": "' + b"z" * 5_000 + b'"}\n{"b": 2}\n'
    parsed = [line for i in range(0, len(data), 500) for line in splitter.feed(data[i : i + 500])]
    assert isinstance(parsed[0], BadLine)
    assert parsed[0].size == 5_009
    assert parsed[1] == JsonLine(2, {"b": 2})
    [event] = ClaudeStreamParser().events(parsed[0])
    assert (event.kind, event.is_error) == (Kind.UNKNOWN, True)


def test_terminal_bytes_in_a_line_reach_the_screen_escaped():
    hostile = "\x1b[2J\x1b]0;owned\x07\x9b31m"
    events, _ = parse(
        {"type": "assistant", "message": {"content": [
            {"type": "text", "text": hostile},
            {"type": "tool_use", "id": "t", "name": hostile, "input": {"command": hostile}},
        ]}},
        {"type": hostile},
    )  # fmt: skip
    shown = [markup for event in events if (markup := event_markup(event)) is not None]
    assert len(shown) == 2
    assert not any(c in markup for markup in shown for c in "\x1b\x07\x9b")
