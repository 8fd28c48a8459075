"""Gemini CLI stream-json parsing and error classification, on real transcripts of Gemini
CLI 0.61.0 (captured against a loopback Gemini API; the `-killed` ones were stopped
while the CLI retried silently, so they have no result line)."""

import json
from pathlib import Path
from typing import Any

import pytest

from adw_tui.agents.engine import ProcessEnding
from adw_tui.agents.gemini_stream import GeminiStreamParser
from adw_tui.agents.jsonl import JsonlSplitter
from adw_tui.agents.registry import parser_for
from adw_tui.config import DEFAULT_MODEL_PRICES
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentResult, ErrorClass

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gemini"
CWD = "/home/user/repo"
Kind = AgentEventKind
FLASH_IN, FLASH_OUT = DEFAULT_MODEL_PRICES["gemini-2.5-flash"]


def parse_bytes(
    data: bytes,
    *,
    exit_code: int | None = 0,
    stderr: str = "",
    limit: ErrorClass | None = None,
    prices: dict[str, tuple[float, float]] | None = DEFAULT_MODEL_PRICES,
) -> tuple[list[AgentEvent], AgentResult]:
    splitter, parser = JsonlSplitter(), GeminiStreamParser(CWD, prices)
    events = [event for line in splitter.feed(data) for event in parser.events(line)]
    events += [event for line in splitter.close() for event in parser.events(line)]
    ending = ProcessEnding(exit_code=exit_code, stderr_tail=stderr, duration_ms=7, limit=limit)
    return events, parser.finish(ending)


def parse_fixture(case: str, **ending: Any) -> tuple[list[AgentEvent], AgentResult]:
    return parse_bytes((FIXTURES / f"gemini-0.61.0-{case}.jsonl").read_bytes(), **ending)


def parse_lines(*lines: dict[str, Any], **ending: Any) -> tuple[list[AgentEvent], AgentResult]:
    return parse_bytes(b"".join(json.dumps(line).encode() + b"\n" for line in lines), **ending)


def test_plain_answer() -> None:
    events, result = parse_fixture("plain")
    assert [e.kind for e in events] == [Kind.INIT, Kind.TEXT, Kind.RESULT]
    init, text, done = events
    assert init.detail == {"model": "gemini-2.5-flash", "session_id": result.session_id}
    assert init.text == f"session {result.session_id} · model gemini-2.5-flash"
    assert (text.text, text.line) == ("Hello from the fake Gemini server.", 3)
    assert (done.text, done.is_error, done.line) == ("done: 100 tokens in, 50 out", False, 4)

    assert result.success
    assert result.error_class is ErrorClass.NONE
    assert result.error_message == ""
    assert result.output == "Hello from the fake Gemini server."
    assert result.session_id == "0594732e-6163-469e-b5e0-08a4f92e6357"
    # Claude's convention: input excludes the cached tokens, counted apart.
    assert (result.input_tokens, result.cache_read_tokens, result.output_tokens) == (80, 20, 50)
    assert result.num_turns == 1
    assert result.cost_estimated
    assert result.cost_usd == pytest.approx((100 * FLASH_IN + 50 * FLASH_OUT) / 1e6)
    assert (result.exit_code, result.duration_ms) == (0, 7)


def test_a_tool_call_pairs_with_its_result_and_the_last_turn_is_the_output() -> None:
    events, result = parse_fixture("tool")
    assert [e.kind for e in events] == [
        Kind.INIT,
        Kind.TOOL_USE,
        Kind.TOOL_RESULT,
        Kind.TEXT,
        Kind.RESULT,
    ]
    use, done = events[1], events[2]
    assert (use.tool_name, use.text) == ("write_file", "out.txt")
    assert use.tool_id == done.tool_id == "write_file__write_file_1796287071537_0"
    assert not done.is_error
    assert result.success
    assert result.output == "Wrote out.txt."
    assert result.num_turns == 2
    assert (result.input_tokens, result.output_tokens) == (160, 100)
    assert result.cost_usd == pytest.approx((200 * FLASH_IN + 100 * FLASH_OUT) / 1e6)


def test_a_shell_call_is_summed_up_by_its_command() -> None:
    events, result = parse_fixture("shell")
    [use] = [e for e in events if e.kind is Kind.TOOL_USE]
    assert (use.tool_name, use.text) == ("run_shell_command", "echo shell-from-gemini > sh.txt")
    assert result.output == "Ran the command."


@pytest.mark.parametrize(
    ("case", "exit_code", "error_class", "said"),
    [
        ("e401", 145, ErrorClass.AUTH, "UNAUTHENTICATED: scripted 401 (HTTP 401, exit code 145)"),
        ("e429", 173, ErrorClass.RATE_LIMIT, "scripted 429 (HTTP 429, exit code 173)"),
        ("e500", 244, ErrorClass.OVERLOADED, "INTERNAL: scripted 500 (HTTP 500, exit code 244)"),
        (
            "refused",
            1,
            ErrorClass.NETWORK,
            "exception TypeError: fetch failed sending request (exit code 1)",
        ),
    ],
)
def test_api_failures_are_classified_from_the_message_and_the_exit_code(
    case: str, exit_code: int, error_class: ErrorClass, said: str
) -> None:
    events, result = parse_fixture(case, exit_code=exit_code)
    assert [e.kind for e in events] == [Kind.INIT, Kind.RESULT]
    assert events[-1].is_error
    assert not result.success
    assert result.error_class is error_class
    assert result.error_message.startswith(said), result.error_message
    assert result.transient is (error_class is not ErrorClass.AUTH)
    assert (result.input_tokens, result.output_tokens) == (0, 0)
    assert result.cost_usd == 0
    assert result.session_id


def test_auth_failures_say_what_to_check() -> None:
    _, result = parse_fixture("e401", exit_code=145)
    assert "GEMINI_API_KEY" in result.error_message


def test_a_rejected_key_is_an_auth_failure_though_the_api_answers_400() -> None:
    body = {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [{"reason": "API_KEY_INVALID", "domain": "googleapis.com"}],
        }
    }
    message = f"[API Error: {json.dumps(body)}]"
    line = {"type": "result", "status": "error", "error": {"type": "unknown", "message": message}}
    _, result = parse_lines(line, exit_code=144)
    assert result.error_class is ErrorClass.AUTH
    assert result.error_message.startswith(
        "INVALID_ARGUMENT: API key not valid. Please pass a valid API key. "
        "(HTTP 400, exit code 144): check GEMINI_API_KEY"
    )


def test_the_exit_code_alone_names_the_status_when_the_message_quotes_no_body() -> None:
    line = {"type": "result", "status": "error", "error": {"type": "unknown", "message": "boom"}}
    _, result = parse_lines(line, exit_code=503 % 256)
    assert result.error_class is ErrorClass.OVERLOADED
    assert result.error_message == "boom (HTTP 503, exit code 247)"


@pytest.mark.parametrize("case", ["e429-killed", "e500-killed", "refused-killed"])
def test_silent_retries_cut_off_by_adw_are_its_timeout(case: str) -> None:
    events, result = parse_fixture(case, exit_code=-15, limit=ErrorClass.IDLE_TIMEOUT)
    assert [e.kind for e in events] == [Kind.INIT]
    assert result.error_class is ErrorClass.IDLE_TIMEOUT
    assert result.error_message == "stopped by the no-output timeout; the process tree was killed"
    assert result.session_id
    assert (result.cost_usd, result.cost_estimated) == (0.0, False)  # unknown, not free


STDERR_NOISE = (
    "Warning: 256-color support not detected. Using a terminal with at least 256-color ...\n"
    "YOLO mode is enabled. All tool calls will be automatically approved.\n"
)


def test_no_auth_method_exits_41_before_any_line() -> None:
    _, result = parse_bytes(
        b"", exit_code=41, stderr=STDERR_NOISE + "Invalid auth method selected.\n"
    )
    assert result.error_class is ErrorClass.AUTH
    assert result.error_message.startswith(
        "without a result line: Invalid auth method selected. (exit code 41): check GEMINI_API_KEY"
    )
    assert result.session_id is None
    assert not result.cost_estimated


def test_a_lost_session_is_worth_a_retry_afresh() -> None:
    stderr = (
        STDERR_NOISE + 'Error resuming session: Invalid session identifier "x".\n  Searched...\n'
    )
    _, result = parse_bytes(b"", exit_code=42, stderr=stderr)
    assert result.error_class is ErrorClass.EXECUTION_ERROR
    assert result.transient
    assert 'Error resuming session: Invalid session identifier "x".' in result.error_message


@pytest.mark.parametrize(
    ("exit_code", "error_class"),
    [
        (42, ErrorClass.INVALID_REQUEST),
        (52, ErrorClass.INVALID_REQUEST),
        (53, ErrorClass.MAX_TURNS),
        (0, ErrorClass.NO_RESULT),
        (-9, ErrorClass.CRASHED),
    ],
)
def test_exits_without_a_result(exit_code: int, error_class: ErrorClass) -> None:
    _, result = parse_bytes(b"", exit_code=exit_code, stderr="something went wrong\n")
    assert result.error_class is error_class
    assert result.error_message == (
        f"without a result line: something went wrong (exit code {exit_code})"
    )


def test_error_lines_failed_tools_and_unknown_lines() -> None:
    events, result = parse_lines(
        {"type": "init", "session_id": "s1", "model": "gemini-2.5-pro"},
        {"type": "tool_use", "tool_name": "read_file", "tool_id": "t1",
         "parameters": {"file_path": f"{CWD}/src/app.py"}},
        {"type": "tool_result", "tool_id": "t1", "status": "error",
         "error": {"type": "FILE_NOT_FOUND", "message": "File not found: src/app.py"}},
        {"type": "error", "severity": "warning", "message": "Loop detected, stopping"},
        {"type": "error", "severity": "error", "message": "The model returned nothing"},
        {"type": "shiny_new_thing"},
        {"type": "result", "status": "error", "stats": {}},
        exit_code=1,
    )  # fmt: skip
    kinds = [e.kind for e in events]
    assert kinds == [
        Kind.INIT,
        Kind.TOOL_USE,
        Kind.TOOL_RESULT,
        Kind.ERROR,
        Kind.ERROR,
        Kind.UNKNOWN,
        Kind.RESULT,
    ]
    assert events[1].text == "src/app.py"  # the working directory is left out
    assert (events[2].text, events[2].is_error) == ("File not found: src/app.py", True)
    assert (events[3].is_error, events[3].detail["severity"]) == (False, "warning")
    assert events[4].is_error
    assert events[5].text == "shiny_new_thing line"
    assert result.error_class is ErrorClass.EXECUTION_ERROR
    assert result.error_message == "The model returned nothing (exit code 1)"
    assert result.cost_usd == 0  # no stats: no tokens


def test_a_bad_line_is_shown_and_skipped() -> None:
    events, result = parse_bytes(
        (FIXTURES / "gemini-0.61.0-plain.jsonl")
        .read_bytes()
        .replace(b'{"type":"message"', b"{oops", 1)
    )
    assert [e.kind for e in events] == [Kind.INIT, Kind.UNKNOWN, Kind.TEXT, Kind.RESULT]
    assert events[1].is_error
    assert result.success


def test_an_unpriced_model_has_no_estimate() -> None:
    _, result = parse_fixture("plain", prices={"gpt-5": (1.0, 1.0)})
    assert (result.cost_usd, result.cost_estimated) == (0.0, False)
    _, result = parse_fixture("plain", prices=None)
    assert (result.cost_usd, result.cost_estimated) == (0.0, False)


def test_each_line_reads_the_same_alone_as_in_order() -> None:
    """A saved transcript is drawn a row per line, read in any order by one parser."""
    data = (FIXTURES / "gemini-0.61.0-tool.jsonl").read_bytes()
    in_order, _ = parse_bytes(data)
    parser = parser_for("gemini", CWD)
    lines = list(JsonlSplitter().feed(data))
    alone = [event for line in reversed(lines) for event in parser.events(line)]
    assert sorted(alone, key=lambda e: e.line) == in_order
