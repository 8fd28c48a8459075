"""A scripted, deterministic OpenAI-compatible Chat Completions API on loopback, for tests
of agent CLIs that speak it (OpenCode through `@ai-sdk/openai-compatible`).

    script = [ToolUse("write", {"filePath": p, "content": "hi\\n"}), Text("ok")]
    with FakeChatCompletions(script) as api:
        # point the CLI's provider at api.base_url (ends in /v1); each agent turn takes the
        # next turn of the script
        assert api.agent_requests[-1]["messages"][-1]["role"] == "tool"

The script's turns are `tests.fake_anthropic`'s (`Text`, `ToolUse`, `HttpError`,
`NeverAnswer`, or a callable choosing one from the request body), routed the same way: a
request WITH `tools` is one of the agent's turns and takes the next script turn (or what
`respond` returns); one WITHOUT `tools` is a side request (OpenCode's session title) that
gets `side_answer` and leaves the script alone. `.requests` holds every
`POST /v1/chat/completions` body, `.answers` what each got, `.log` every HTTP request.

A streamed answer is what the OpenAI API sends with `stream: true` and
`stream_options.include_usage`: `data:` lines of `chat.completion.chunk`s (the role, the
text in two deltas, each tool call's name and arguments), one with `finish_reason`
(`stop` or `tool_calls`), a usage chunk with no choices, then `data: [DONE]`. An
`HttpError` answers with OpenAI's error body. Every answer reports the same usage
(`USAGE`), so token counts are deterministic.

What OpenCode 1.18.33 sends (`opencode run --format json`): only `POST
/v1/chat/completions`, `stream: true`; per prompt one title request (no `tools`; skipped
when `run --title` names the session) and one request per agent step, with `tools`
(bash, edit, glob, grep, read, skill, task, todowrite, webfetch, write), the system
prompt (its environment block says `Working directory: <cwd>`), and the conversation:
tool results come back as `{"role": "tool", "tool_call_id", "content"}` messages.
HTTP 429 and 5xx are retried by the CLI with growing delays (about 2, 4, 9, 16, 34 s):
answer them once, then succeed, or expect a run of minutes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fake_anthropic import (
    ANSWER_TYPES,
    Answer,
    HttpError,
    LoggedRequest,
    NeverAnswer,
    Text,
    ToolUse,
    Turn,
    _halves,
)
from tests.loopback_server import LoopbackServer, next_turn

USAGE = {
    "prompt_tokens": 100,
    "completion_tokens": 50,
    "total_tokens": 150,
    "prompt_tokens_details": {"cached_tokens": 20},
}

TITLE = Text("Fake title")
"""The default answer to side requests (OpenCode's session title)."""


def has_tools(body: dict[str, Any]) -> bool:
    """True for the agent's own turns (they carry the tool list), False for side requests."""
    return bool(body.get("tools"))


def message_text(message: dict[str, Any]) -> str:
    """The text of one chat message (a string, or the text parts of a list)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def request_text(body: dict[str, Any], *, system: bool = False) -> str:
    """All text of a request's messages, one per line; the system prompt only if asked."""
    messages = body.get("messages") or []
    return "\n".join(
        message_text(m)
        for m in messages
        if isinstance(m, dict) and (system or m.get("role") != "system")
    )


def is_tool_result(body: dict[str, Any]) -> bool:
    """True when the request's last message is a tool's result."""
    messages = body.get("messages") or [{}]
    return bool(messages) and messages[-1].get("role") == "tool"


def _chunk(ids: dict[str, str], choices: list[dict[str, Any]], **extra: Any) -> bytes:
    payload = {
        "id": ids["completion_id"],
        "object": "chat.completion.chunk",
        "created": 0,
        "model": ids["model"],
        "choices": choices,
        **extra,
    }
    return f"data: {json.dumps(payload)}\n\n".encode()


def _delta(ids: dict[str, str], delta: dict[str, Any], finish: str | None = None) -> bytes:
    return _chunk(ids, [{"index": 0, "delta": delta, "finish_reason": finish}])


def _finish_reason(answer: Text | ToolUse) -> str:
    return "tool_calls" if isinstance(answer, ToolUse) else "stop"


def sse_chunks(answer: Text | ToolUse, ids: dict[str, str]) -> list[bytes]:
    """The server-sent events of one streamed completion, one `bytes` per event."""
    events = [_delta(ids, {"role": "assistant", "content": ""})]
    events += [_delta(ids, {"content": part}) for part in _halves(answer.text or "")]
    if isinstance(answer, ToolUse):
        call = {
            "index": 0,
            "id": ids["call_id"],
            "type": "function",
            "function": {"name": answer.name, "arguments": json.dumps(answer.input)},
        }
        events.append(_delta(ids, {"tool_calls": [call]}))
    events.append(_delta(ids, {}, _finish_reason(answer)))
    events.append(_chunk(ids, [], usage=USAGE))
    events.append(b"data: [DONE]\n\n")
    return events


def completion_json(answer: Text | ToolUse, ids: dict[str, str]) -> dict[str, Any]:
    """The same answer, not streamed (for a request with `stream: false`)."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.text or ""}
    if isinstance(answer, ToolUse):
        function = {"name": answer.name, "arguments": json.dumps(answer.input)}
        message["tool_calls"] = [{"id": ids["call_id"], "type": "function", "function": function}]
    return {
        "id": ids["completion_id"],
        "object": "chat.completion",
        "created": 0,
        "model": ids["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": _finish_reason(answer)}],
        "usage": USAGE,
    }


def error_json(error: HttpError) -> dict[str, Any]:
    """OpenAI's error body."""
    message = error.message or f"fake {error.error_type}"
    return {"error": {"message": message, "type": error.error_type, "code": error.error_type}}


class FakeChatCompletions(LoopbackServer):
    """The scripted server; use it as a context manager (it listens from `__enter__` on)."""

    def __init__(
        self,
        script: Iterable[Turn] = (),
        *,
        respond: Callable[[dict[str, Any]], Answer | None] | None = None,
        side_answer: Turn = TITLE,
    ) -> None:
        super().__init__()
        self.script: list[Turn] = list(script)
        self.respond = respond
        self.side_answer = side_answer
        self.requests: list[dict[str, Any]] = []
        self.answers: list[Answer] = []
        self.side_requests: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    thread_name = "fake-chat-completions"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_class(self)

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`, the provider's `baseURL`."""
        return f"{self.root_url()}/v1"

    @property
    def agent_requests(self) -> list[dict[str, Any]]:
        """The bodies of `requests` that were agent turns (not side requests)."""
        return [r for r in self.requests if not any(r is s for s in self.side_requests)]

    def answer_for(self, body: dict[str, Any]) -> Answer:
        """Record a request body and choose its answer."""
        with self._lock:
            self.requests.append(body)
            turn: Turn
            if not has_tools(body):
                self.side_requests.append(body)
                turn = self.side_answer
            else:
                turn = next_turn(body, self.respond, self.script, Text("done"))
            answer = turn if isinstance(turn, ANSWER_TYPES) else turn(body)
            self.answers.append(answer)
            return answer


def _handler_class(api: FakeChatCompletions) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeChatCompletions/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # `api.log` has it; keep pytest output clean

        def do_GET(self) -> None:
            self._record(None, 404)
            self._send_json(404, error_json(HttpError(404, "not_found", self._nothing_here())))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            if urlsplit(self.path).path != "/v1/chat/completions" or not isinstance(body, dict):
                self._record(body, 404)
                self._send_json(404, error_json(HttpError(404, "not_found", self._nothing_here())))
                return
            answer = api.answer_for(body)
            if isinstance(answer, NeverAnswer):
                self._record(body, 0)
                api._closed.wait()
                self.close_connection = True
                return
            if isinstance(answer, HttpError):
                self._record(body, answer.status)
                self._send_json(answer.status, error_json(answer), answer.headers)
                return
            self._record(body, 200)
            n = next(api._ids)
            ids = {
                "completion_id": f"chatcmpl-fake-{n:04d}",
                "call_id": f"call_fake_{n:04d}",
                "model": str(body.get("model") or "fake-model"),
            }
            if body.get("stream"):
                self._send_stream(sse_chunks(answer, ids))
            else:
                self._send_json(200, completion_json(answer, ids))

        def _nothing_here(self) -> str:
            return f"fake server: nothing at {self.command} {self.path}"

        def _record(self, body: Any, status: int) -> None:
            headers = dict(self.headers.items())
            api._record(LoggedRequest(self.command, self.path, headers, body, status))

        def _send_json(
            self, status: int, payload: Any, headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _send_stream(self, events: list[bytes]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in events:  # one HTTP chunk per event, flushed: a real stream
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler
