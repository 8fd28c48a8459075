"""The scripted model server, first on its own, then driving the real Claude Code binary.

The CLI tests run `claude -p ... --output-format stream-json --verbose` as a subprocess in a
fresh git repository with HOME in a temporary directory and ANTHROPIC_BASE_URL pointing at a
`FakeAnthropic`; nothing leaves the machine. Each run is bounded by a timeout that kills
the CLI's whole process group.
"""

import http.client
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.fake_anthropic import (
    FakeAnthropic,
    HttpError,
    NeverAnswer,
    Text,
    ToolUse,
    last_user_text,
)
from tests.integration.conftest import RunClaude

TOOLS = [{"name": "Write", "input_schema": {"type": "object"}}]


# -- the server on its own ---------------------------------------------------------------------


def post(
    api: FakeAnthropic, body: dict[str, Any], path: str = "/v1/messages?beta=true"
) -> tuple[int, str, str]:
    """POST `body`; the status, content type and whole response text."""
    conn = http.client.HTTPConnection(urlsplit(api.base_url).netloc, timeout=5)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read().decode()
    finally:
        conn.close()


def sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each server-sent event, checking the two always agree."""
    events = []
    for chunk in text.split("\n\n"):
        if not chunk.strip():
            continue
        fields = dict(line.split(": ", 1) for line in chunk.splitlines())
        data = json.loads(fields["data"])
        assert data["type"] == fields["event"]
        events.append((fields["event"], data))
    return events


def streamed_text(text: str) -> str:
    """The text an SSE response spells out in its `text_delta`s."""
    deltas = [data["delta"] for name, data in sse(text) if name == "content_block_delta"]
    return "".join(d["text"] for d in deltas if d["type"] == "text_delta")


def chat(content: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-test",
        "stream": True,
        "messages": [{"role": "user", "content": content}],
        "tools": TOOLS,
    }
    return {**body, **extra}


def test_tool_use_then_text_stream_like_the_api() -> None:
    write = ToolUse("Write", {"file_path": "/r/a.txt", "content": "x\n"}, text="Writing.")
    with FakeAnthropic([write, Text("All done.")]) as api:
        status, content_type, first = post(api, chat("go"))
        assert status == 200
        assert content_type.startswith("text/event-stream")
        events = sse(first)
        assert [name for name, _ in events] == [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
        assert events[0][1]["message"]["model"] == "claude-test"
        deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
        assert "".join(d["text"] for d in deltas if d["type"] == "text_delta") == "Writing."
        partial = "".join(d["partial_json"] for d in deltas if d["type"] == "input_json_delta")
        assert json.loads(partial) == write.input
        assert events[5][1]["content_block"]["name"] == "Write"
        assert events[-2][1]["delta"]["stop_reason"] == "tool_use"

        _, _, second = post(api, chat("next"))
        assert streamed_text(second) == "All done."
        assert sse(second)[-2][1]["delta"]["stop_reason"] == "end_turn"

        _, _, third = post(api, chat("more", stream=False))  # the script ran out
        assert json.loads(third)["content"] == [{"type": "text", "text": "done"}]
        assert [last_user_text(r) for r in api.requests] == ["go", "next", "more"]


def test_side_requests_do_not_consume_the_script() -> None:
    with FakeAnthropic([Text("for the agent")], side_answer=Text("A title")) as api:
        _, _, side = post(api, {**chat("name this session"), "tools": []})
        _, _, agent = post(api, chat("work"))
    assert streamed_text(side) == "A title"
    assert streamed_text(agent) == "for the agent"
    assert len(api.requests) == 2
    assert api.side_requests == [api.requests[0]]
    assert api.agent_requests == [api.requests[1]]


def test_respond_hook_and_callable_turns_see_the_request() -> None:
    def by_prompt(body: dict[str, Any]) -> Text | None:
        return Text("pong") if last_user_text(body) == "ping" else None

    script = [lambda body: Text(f"echo {last_user_text(body)}")]
    with FakeAnthropic(script, respond=by_prompt) as api:
        replies = [post(api, chat(p, stream=False))[2] for p in ("ping", "hello", "ping", "x")]
    texts = [json.loads(r)["content"][0]["text"] for r in replies]
    assert texts == ["pong", "echo hello", "pong", "done"]


def test_errors_and_other_paths_are_answered_and_logged() -> None:
    overloaded = HttpError(529, "overloaded_error", headers={"retry-after": "0"})
    with FakeAnthropic([overloaded]) as api:
        status, content_type, body = post(api, chat("hi"))
        assert (status, content_type) == (529, "application/json")
        assert json.loads(body) == {
            "type": "error",
            "error": {"type": "overloaded_error", "message": "fake overloaded_error"},
        }
        status, _, body = post(api, chat("hi"), "/v1/messages/count_tokens")
        assert status == 200
        assert json.loads(body)["input_tokens"] > 0
        conn = http.client.HTTPConnection(urlsplit(api.base_url).netloc, timeout=5)
        conn.request("HEAD", "/")
        assert conn.getresponse().status == 200
        conn.close()
        conn = http.client.HTTPConnection(urlsplit(api.base_url).netloc, timeout=5)
        conn.request("GET", "/v1/models")
        response = conn.getresponse()
        assert response.status == 404
        assert json.loads(response.read())["error"]["type"] == "not_found_error"
        conn.close()
    assert [(r.method, r.path, r.status) for r in api.log] == [
        ("POST", "/v1/messages?beta=true", 529),
        ("POST", "/v1/messages/count_tokens", 200),
        ("HEAD", "/", 200),
        ("GET", "/v1/models", 404),
    ]
    assert api.answers == [overloaded]  # count_tokens is not a model turn


def test_never_answer_holds_the_connection_until_close() -> None:
    api = FakeAnthropic([NeverAnswer()])
    with api:
        conn = http.client.HTTPConnection(urlsplit(api.base_url).netloc, timeout=0.5)
        conn.request("POST", "/v1/messages", json.dumps(chat("hi")))
        with pytest.raises(socket.timeout):
            conn.getresponse()
        conn.close()
        started = time.monotonic()
    assert time.monotonic() - started < 3
    assert [r.status for r in api.log] == [0]


# -- the real Claude Code CLI ------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def test_write_tool_call_really_writes_the_file(
    api: FakeAnthropic, run_claude: RunClaude, git_repo: Path
) -> None:
    target = git_repo / "hello.txt"
    api.script = [
        ToolUse("Write", {"file_path": str(target), "content": "hello from fake model\n"}),
        Text("Done: wrote hello.txt"),
    ]
    run = run_claude(api.base_url, "Create hello.txt")
    assert not run.timed_out, run.describe()
    assert run.returncode == 0, run.describe()
    assert target.read_text() == "hello from fake model\n"

    init = run.of_type("system", "init")
    assert init, run.describe()
    assert init[0]["cwd"] == str(git_repo)
    assert init[0]["model"] == "claude-sonnet-4-5"
    tool_results = [
        block
        for line in run.of_type("user")
        for block in line["message"]["content"]
        if block.get("type") == "tool_result"
    ]
    assert [r["tool_use_id"] for r in tool_results] == ["toolu_fake_0001"]
    assert not tool_results[0].get("is_error")
    result = run.result
    assert result["is_error"] is False
    assert result["subtype"] == "success"
    assert result["result"] == "Done: wrote hello.txt"
    assert result["num_turns"] == 2

    assert len(api.requests) == 2, [r.path for r in api.log]
    first, second = api.requests
    assert first["stream"] is True
    assert first["model"] == "claude-sonnet-4-5"
    assert {"Write", "Bash", "Read", "Edit"} <= {t["name"] for t in first["tools"]}
    assert f"Primary working directory: {git_repo}" in json.dumps(first)
    assert "Create hello.txt" in last_user_text(first)
    last = second["messages"][-1]["content"]
    assert any(b["type"] == "tool_result" and b["tool_use_id"] == "toolu_fake_0001" for b in last)
    assert {r.path for r in api.log} == {"/v1/messages?beta=true"}  # nothing else was asked


def test_custom_slash_command_is_expanded_by_the_cli(
    api: FakeAnthropic, run_claude: RunClaude, git_repo: Path
) -> None:
    commands = git_repo / ".claude" / "commands"
    commands.mkdir(parents=True)
    (commands / "greet.md").write_text("Greet $ARGUMENTS warmly.\n")

    def greet(body: dict[str, Any]) -> Text:
        prompt = last_user_text(body)
        if "<command-name>/greet</command-name>" in prompt:
            return Text("Hello, Ada and Grace!")
        return Text(f"unexpected prompt: {prompt[-300:]}")

    api.script = [greet]
    run = run_claude(api.base_url, "/greet Ada and Grace")
    assert run.returncode == 0, run.describe()
    assert run.result["result"] == "Hello, Ada and Grace!"
    prompt = last_user_text(api.requests[0])
    assert "<command-args>Ada and Grace</command-args>" in prompt
    assert "Greet Ada and Grace warmly." in prompt


def test_http_400_gives_an_error_result_and_exit_1(
    api: FakeAnthropic, run_claude: RunClaude
) -> None:
    # The CLI re-sends a 400ed turn with fewer beta flags before giving up, so every
    # request must get the 400 (one scripted 400 is followed by a successful retry).
    api.respond = lambda body: HttpError(400, "invalid_request_error", "fake bad request")
    run = run_claude(api.base_url, "hi")
    assert not run.timed_out, run.describe()
    assert run.returncode == 1, run.describe()
    result = run.result
    assert result["is_error"] is True
    assert result["subtype"] == "success"  # the failure signal is is_error, not subtype
    assert result["api_error_status"] == 400
    assert result["terminal_reason"] == "api_error"
    assert "fake bad request" in result["result"]
    synthetic = [line for line in run.of_type("assistant") if line.get("is_api_error_message")]
    assert len(synthetic) == 1
    assert synthetic[0]["message"]["model"] == "<synthetic>"
    assert len(api.requests) >= 2  # 6 with 2.1.328


@pytest.mark.slow
def test_529_is_retried_then_succeeds(api: FakeAnthropic, run_claude: RunClaude) -> None:
    overloaded = HttpError(529, "overloaded_error", "Overloaded")
    api.script = [overloaded, overloaded, Text("made it")]
    run = run_claude(api.base_url, "hi")
    assert run.returncode == 0, run.describe()
    retries = run.of_type("system", "api_retry")
    assert [(r["attempt"], r["error_status"], r["error"]) for r in retries] == [
        (1, 529, "overloaded"),
        (2, 529, "overloaded"),
    ]
    assert all(0 < r["retry_delay_ms"] <= 5_000 for r in retries)  # ~0.5 s, ~1 s in 2.1.328
    types = [line["type"] for line in run.lines]
    assert types.index("assistant") > max(i for i, t in enumerate(types) if t == "system")
    assert run.result["is_error"] is False
    assert run.result["result"] == "made it"
    assert api.answers == [overloaded, overloaded, Text("made it")]


@pytest.mark.slow
def test_a_silent_api_is_cut_off_by_the_timeout(api: FakeAnthropic, run_claude: RunClaude) -> None:
    api.script = [NeverAnswer()]
    run = run_claude(api.base_url, "hi", timeout=3)
    assert run.timed_out, run.describe()
    assert run.returncode == -signal.SIGKILL
    assert not run.of_type("result")
    assert len(api.requests) == 1
    with pytest.raises(ProcessLookupError):  # the whole group is gone
        os.killpg(run.pid, 0)
