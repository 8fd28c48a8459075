"""OpenCode `run --format json` parsing and error classification, on real transcripts of
OpenCode 1.18.33 (captured against a scripted Chat Completions server; `/home/user/repo`
was the working directory)."""

import json
from pathlib import Path
from typing import Any

import pytest

from adw_tui.agents.engine import ProcessEnding
from adw_tui.agents.jsonl import JsonlSplitter
from adw_tui.agents.opencode import OpenCodeEngine, OpenCodeStreamParser
from adw_tui.agents.registry import interactive_resume, parser_for
from adw_tui.agents.transcript import event_markup, result_markup
from adw_tui.config import Settings
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentRequest, AgentResult, ErrorClass
from adw_tui.domain.errors import AdwError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "opencode"
Kind = AgentEventKind
CWD = "/home/user/repo"
PRICES = {"fake-model": (1.0, 2.0)}


def parse_bytes(
    data: bytes,
    *,
    exit_code: int | None = 0,
    limit: ErrorClass | None = None,
    stderr: str = "",
    model: str | None = "fake/fake-model",
) -> tuple[list[AgentEvent], AgentResult]:
    splitter = JsonlSplitter()
    parser = OpenCodeStreamParser(CWD, model=model, prices=PRICES)
    events = [event for line in splitter.feed(data) for event in parser.events(line)]
    events += [event for line in splitter.close() for event in parser.events(line)]
    ending = ProcessEnding(exit_code=exit_code, stderr_tail=stderr, duration_ms=5, limit=limit)
    return events, parser.finish(ending)


def fixture(name: str) -> bytes:
    return (FIXTURES / f"opencode-1.18.33-{name}.jsonl").read_bytes()


def parse_lines(*lines: dict[str, Any], **ending: Any) -> tuple[list[AgentEvent], AgentResult]:
    return parse_bytes(b"".join(json.dumps(line).encode() + b"\n" for line in lines), **ending)


def step_finish(reason: str, cost: float = 0, **tokens: int) -> dict[str, Any]:
    counts = {"input": 10, "output": 5, "reasoning": 0, **tokens}
    return {
        "type": "step_finish",
        "sessionID": "ses_1",
        "part": {"reason": reason, "cost": cost, "tokens": {**counts, "cache": {"read": 0}}},
    }


def test_plain_answer():
    events, result = parse_bytes(fixture("plain"))
    assert [e.kind for e in events] == [Kind.INIT, Kind.TEXT]
    init, text = events
    assert init.detail["session_id"] == "ses_dc4eee701ffeyFGHrnevSal7Gj"
    assert init.text == "session ses_dc4eee701ffeyFGHrnevSal7Gj · model fake/fake-model"
    assert (text.text, text.line) == ("Hello from the fake chat-completions server.", 2)
    assert result.success
    assert result.error_class is ErrorClass.NONE
    assert result.output == "Hello from the fake chat-completions server."
    assert result.session_id == "ses_dc4eee701ffeyFGHrnevSal7Gj"
    assert (result.input_tokens, result.output_tokens, result.num_turns) == (80, 50, 1)
    assert (result.cache_read_tokens, result.cache_creation_tokens) == (20, 0)


def test_no_cost_reported_is_estimated_from_the_price_table():
    _, result = parse_bytes(fixture("plain"))
    # (80 input + 20 cached) tokens at $1, 50 output tokens at $2, per million
    assert result.cost_usd == pytest.approx((100 * 1.0 + 50 * 2.0) / 1_000_000)
    assert result.cost_estimated


def test_the_closing_line_says_the_cost_is_an_estimate():
    _, result = parse_bytes(fixture("plain"))
    assert "~$0.0002 ·" in result_markup(result, "/runs/x")
    assert "~$" not in result_markup(result.model_copy(update={"cost_estimated": False}), "")


def test_an_unpriced_model_has_no_estimate():
    _, result = parse_bytes(fixture("plain"), model="other/unknown")
    assert (result.cost_usd, result.cost_estimated) == (0.0, False)


def test_reported_costs_are_summed_over_steps_and_not_estimated():
    _, result = parse_lines(
        step_finish("tool-calls", cost=0.25), step_finish("stop", cost=0.5, reasoning=7)
    )
    assert result.success
    assert (result.cost_usd, result.cost_estimated) == (0.75, False)
    assert (result.input_tokens, result.output_tokens, result.num_turns) == (20, 17, 2)


def test_tool_call_and_its_result():
    events, result = parse_bytes(fixture("tool"))
    assert [e.kind for e in events] == [Kind.INIT, Kind.TOOL_USE, Kind.TOOL_RESULT, Kind.TEXT]
    use, done = events[1], events[2]
    assert (use.tool_name, use.text, use.tool_id) == ("write", "out.txt", "call_1_0")
    assert (done.text, done.tool_id, done.is_error) == (
        "Wrote file successfully.",
        "call_1_0",
        False,
    )
    assert result.success
    assert result.output == "Wrote out.txt."
    assert result.num_turns == 2


def test_shell_tool_is_summarised_by_its_command():
    events, _ = parse_bytes(fixture("shell"))
    [use] = [e for e in events if e.kind is Kind.TOOL_USE]
    assert (use.tool_name, use.text) == ("bash", "echo shell-from-opencode > sh.txt")


def test_failed_tool_is_an_error_result_and_the_run_goes_on():
    tool = {
        "type": "tool_use",
        "sessionID": "ses_1",
        "part": {
            "type": "tool",
            "tool": "read",
            "callID": "call_9",
            "state": {"status": "error", "input": {"filePath": f"{CWD}/x"}, "error": "not found"},
        },
    }
    events, result = parse_lines(tool, step_finish("stop"))
    assert [(e.kind, e.text, e.is_error) for e in events[1:]] == [
        (Kind.TOOL_USE, "x", False),
        (Kind.TOOL_RESULT, "not found", True),
    ]
    assert result.success


@pytest.mark.parametrize(
    ("name", "error_class", "message"),
    [
        ("e401", ErrorClass.AUTH, "APIError (HTTP 401): scripted 401"),
        ("e429", ErrorClass.RATE_LIMIT, "APIError (HTTP 429): scripted 429"),
        ("e500", ErrorClass.OVERLOADED, "APIError (HTTP 500): scripted 500"),
        (
            "refused",
            ErrorClass.NETWORK,
            "APIError: Cannot connect to API: Unable to connect. Is the computer able to "
            "access the url?",
        ),
    ],
)
def test_api_errors_are_classified(name: str, error_class: ErrorClass, message: str):
    events, result = parse_bytes(fixture(name), exit_code=1)
    assert [e.kind for e in events] == [Kind.INIT, Kind.ERROR]
    assert events[1].is_error
    assert events[1].text == message
    assert not result.success
    assert result.error_class is error_class
    assert result.error_message == message
    assert result.session_id is not None
    assert result.num_turns == 0


@pytest.mark.parametrize(
    ("error", "error_class"),
    [
        ({"name": "ProviderAuthError", "data": {"message": "no key"}}, ErrorClass.AUTH),
        ({"name": "APIError", "data": {"message": "bad", "isRetryable": False}}, "invalid_request"),
        ({"name": "UnknownError", "data": {"message": "boom"}}, ErrorClass.EXECUTION_ERROR),
        ({"name": "APIError", "data": {"statusCode": 400}}, ErrorClass.INVALID_REQUEST),
        ({"name": "APIError", "data": {"statusCode": 529}}, ErrorClass.OVERLOADED),
    ],
)
def test_other_errors(error: dict[str, Any], error_class: ErrorClass):
    _, result = parse_lines({"type": "error", "sessionID": "ses_1", "error": error}, exit_code=1)
    assert result.error_class == error_class


def test_a_run_without_a_finished_last_step_has_no_result():
    """OpenCode has no result line: only a step finished with reason `stop` ends a run."""
    lines = fixture("tool").splitlines(keepends=True)
    _, result = parse_bytes(b"".join(lines[:3]))  # up to the tool step's step_finish
    assert result.error_class is ErrorClass.NO_RESULT
    assert "'tool-calls'" in result.error_message
    _, silent = parse_bytes(b"")
    assert silent.error_class is ErrorClass.NO_RESULT
    assert silent.session_id is None


def test_a_failing_exit_is_a_crash_with_the_last_stderr_line():
    _, result = parse_bytes(
        b"", exit_code=1, stderr="\x1b[91m\x1b[1mError: \x1b[0mSession not found\n"
    )
    assert result.error_class is ErrorClass.CRASHED
    assert result.error_message == "exited with code 1: Error: Session not found"


def test_a_limit_wins():
    _, result = parse_bytes(fixture("plain")[:100], exit_code=-9, limit=ErrorClass.IDLE_TIMEOUT)
    assert result.error_class is ErrorClass.IDLE_TIMEOUT
    assert result.error_message.startswith("stopped by the no-output timeout")


def test_reasoning_is_thinking():
    reasoning = {"type": "reasoning", "sessionID": "ses_1", "part": {"text": "Let me see."}}
    events, _ = parse_lines(reasoning, step_finish("stop"))
    assert [(e.kind, e.text) for e in events[1:]] == [(Kind.THINKING, "Let me see.")]


def test_odd_lines_never_raise():
    events, result = parse_bytes(
        b'not json\n{"type": "mystery"}\n{"type": "text", "part": 3}\n'
        b'{"type": "tool_use", "part": {"state": "x"}}\n{"type": "step_finish", "part": []}\n'
    )
    assert [e.kind for e in events] == [
        Kind.UNKNOWN,
        Kind.UNKNOWN,
        Kind.TEXT,
        Kind.TOOL_USE,
        Kind.TOOL_RESULT,
    ]
    assert events[0].is_error
    assert result.error_class is ErrorClass.NO_RESULT


def test_transcript_readers_use_this_parser():
    """The live panes and run detail read an opencode attempt's file through the registry."""
    parser = parser_for("opencode", CWD)
    splitter = JsonlSplitter()
    events = [e for line in splitter.feed(fixture("tool")) for e in parser.events(line)]
    shown = [event_markup(e) for e in events]
    assert "write" in (shown[1] or "")
    assert "out.txt" in (shown[1] or "")
    assert "Wrote file successfully." in (shown[2] or "")
    assert shown[3] == "Wrote out.txt."
    error = [e for line in JsonlSplitter().feed(fixture("e429")) for e in parser.events(line)]
    assert "scripted 429" in (event_markup(error[-1]) or "")


def test_attach_resumes_the_session_in_opencodes_own_interface(tmp_path: Path):
    binary = tmp_path / "opencode"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    env = {"ADW_OPENCODE_PATH": str(binary), "OPENCODE_CONFIG": "/c.json"}
    interactive = interactive_resume("opencode", Settings(), "ses_1", env)
    assert interactive.argv == [str(binary), "--session", "ses_1"]
    assert interactive.env["OPENCODE_CONFIG"] == "/c.json"
    assert "ADW_OPENCODE_PATH" not in interactive.env
    missing = {"ADW_OPENCODE_PATH": str(tmp_path / "missing")}
    with pytest.raises(AdwError, match="npm install -g opencode-ai"):
        interactive_resume("opencode", Settings(), "ses_1", missing)


def test_command_line(tmp_path: Path):
    engine = OpenCodeEngine(binary="/opt/opencode", environ={"PATH": "/bin"})
    request = AgentRequest(
        prompt="do it",
        adw_id="4e1f2a9c",
        agent_name="sdlc_implementor",
        model="anthropic/claude-sonnet-4-5",
        cwd=tmp_path,
        output_dir=tmp_path / "agents",
    )
    head = ["/opt/opencode", "run", "--format", "json", "--model", "anthropic/claude-sonnet-4-5"]
    flags = ["--dir", str(tmp_path), "--auto", "--thinking"]
    assert engine.command(request) == [*head, *flags, "--title", "adw 4e1f2a9c sdlc_implementor"]
    resumed = request.model_copy(update={"resume_session_id": "ses_1"})
    assert engine.command(resumed) == [*head, *flags, "--session", "ses_1"]
    assert engine.interactive_resume("ses_1") == ["/opt/opencode", "--session", "ses_1"]


def test_environment_and_install_check():
    environ = {
        "PATH": "/nonexistent",
        "HOME": "/home/u",
        "OPENCODE_CONFIG": "/c.json",
        "XDG_DATA_HOME": "/d",
        "OPENAI_API_KEY": "sk-1",
        "GITHUB_TOKEN": "ghp",
        "ADW_OPENCODE_PATH": "opencode-x",
    }
    engine = OpenCodeEngine(environ=environ, extra_env=["OPENAI_API_KEY"])
    assert engine.environment() == {
        "PATH": "/nonexistent",
        "HOME": "/home/u",
        "OPENCODE_CONFIG": "/c.json",
        "XDG_DATA_HOME": "/d",
        "OPENAI_API_KEY": "sk-1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
    }
    problem = engine.check_installed()
    assert problem is not None
    assert "'opencode-x' not found" in problem
    assert "npm install -g opencode-ai" in problem
    assert "ADW_OPENCODE_PATH" in problem


async def test_a_model_without_its_provider_is_refused(tmp_path: Path):
    binary = tmp_path / "opencode"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    engine = OpenCodeEngine(binary=str(binary), environ={"PATH": "/bin"})
    request = AgentRequest(
        prompt="hi",
        adw_id="4e1f2a9c",
        agent_name="a",
        model="sonnet",
        cwd=tmp_path,
        output_dir=tmp_path / "agents",
    )
    [result] = [item async for item in engine.run(request)]
    assert isinstance(result, AgentResult)
    assert result.error_class is ErrorClass.INVALID_REQUEST
    assert "provider/model" in result.error_message
    assert "'sonnet'" in result.error_message
