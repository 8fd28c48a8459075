"""A scripted, deterministic Anthropic Messages API on loopback, for tests of real agent CLIs.

    with FakeAnthropic([ToolUse("Write", {"file_path": p, "content": "hi\\n"}), Text("ok")]) as api:
        env = {..., "ANTHROPIC_BASE_URL": api.base_url}
        # run `claude -p ...` with env; each model request takes the next turn of the script
        assert api.requests[-1]["messages"][-1]["content"][0]["type"] == "tool_result"

The server is a `ThreadingHTTPServer` on 127.0.0.1 with an OS-chosen port, in a background
thread. It answers `POST /v1/messages` (with or without `?beta=true`) with a server-sent-event
stream shaped like the real API's: `message_start`, `content_block_start`,
`content_block_delta` (`text_delta` / `input_json_delta`), `content_block_stop`,
`message_delta` (`stop_reason` `tool_use` or `end_turn`, `usage`), `message_stop`.

A turn is one of `Text`, `ToolUse`, `HttpError`, `NeverAnswer`, or a callable taking the
request body and returning one of those (so a test can answer from the prompt). When the
script runs out, the answer is `Text("done")`. `respond`, if given, sees every model request
first; returning None falls through to the script.

`.requests` holds every `POST /v1/messages` body in order, `.answers` what each got, and
`.log` every HTTP request of any kind (method, path, headers, body, status).

Routing: a request WITH `tools` is one of the agent's own turns and takes the next script
turn. A request WITHOUT `tools` is a side request a CLI may make on its own (a session title
or summary with a small model); it does not consume the script and gets `side_answer`
(default `Text("done")`), so the script stays aligned with the agent's turns whatever
housekeeping a CLI version adds. Pass `split_side_requests=False` to script every request.
Other paths: `HEAD` anything and `GET /` get 200 `{}`, `POST /v1/messages/count_tokens` a
token count, anything else 404 with an Anthropic-style error body; all are logged.

What Claude Code 2.1.328 sends (`claude -p ... --output-format stream-json --verbose`, seen
with this server; tests/integration/test_fake_anthropic.py pins the essentials):
- With `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`: only `POST /v1/messages?beta=true`,
  one per agent turn, all with `stream: true`, `tools` (12 in the default set; the rest are
  deferred behind ToolSearch), `system`, `messages`, `metadata`, `thinking`,
  `context_management`, `max_tokens`. No title, quota or count_tokens request in `-p` mode.
  Headers: `User-Agent: claude-cli/2.1.328 (external, sdk-cli)`, `anthropic-beta: ...`,
  `X-Claude-Code-Session-Id`, `x-api-key`, keep-alive.
- Without that variable it also sends `HEAD /api/hello` (a reachability check) first.
- HTTP 400: the CLI does NOT give up at once: it re-sends the same turn up to 5 more times
  at once, each with a smaller set of `anthropic-beta` flags (those without
  `advanced-tool-use-...` inline all 25 tools instead of deferring them). Only when all 6
  fail does it print the error result, so a test of a 400 must answer every request with
  it (`respond=lambda body: HttpError(...)`).
- HTTP 401, 429, 500 and 529 are retried with `system/api_retry` lines, up to 10 times,
  delays of about 0.5 s * 2**(attempt-1) plus jitter (0.55, 1.0, 2.3, 4.4, 9.4, 17.5 s,
  ...); `retry-after` is honoured (429 with `retry-after: 1`: 1.1 s). A 401 that never
  clears therefore looks like a hang of minutes.
- `NeverAnswer`: the CLI waits silently (its client timeout is 600 s); kill it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.loopback_server import LoopbackServer, next_turn


@dataclass(frozen=True)
class Text:
    """A final text answer (`stop_reason: end_turn`)."""

    text: str


@dataclass(frozen=True)
class ToolUse:
    """A tool call (`stop_reason: tool_use`), optionally after some text; the CLI runs it."""

    name: str
    input: dict[str, Any]
    text: str | None = None


@dataclass(frozen=True)
class HttpError:
    """An HTTP error with the API's JSON error body, e.g. `HttpError(529, "overloaded_error")`."""

    status: int
    error_type: str
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        message = self.message or f"fake {self.error_type}"
        return {"type": "error", "error": {"type": self.error_type, "message": message}}


@dataclass(frozen=True)
class NeverAnswer:
    """Read the request, then send nothing at all until the server is closed."""


Answer = Text | ToolUse | HttpError | NeverAnswer
Responder = Callable[[dict[str, Any]], Answer]
"""Picks the answer from the request body (e.g. from `request_text(body)`)."""
Turn = Answer | Responder
ANSWER_TYPES = (Text, ToolUse, HttpError, NeverAnswer)


@dataclass(frozen=True)
class LoggedRequest:
    """One HTTP request as received; `body` is the parsed JSON body (None if none or not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    """The status answered; 0 for `NeverAnswer`."""


def has_tools(body: dict[str, Any]) -> bool:
    """True for the agent's own turns (they carry the tool list), False for side requests."""
    return bool(body.get("tools"))


def request_text(body: dict[str, Any]) -> str:
    """All text of a request's messages (strings, text blocks, tool results), one per line."""

    def texts(content: Any) -> Iterator[str]:
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            for block in content:
                if not isinstance(block, dict):
                    continue
                if isinstance(block.get("text"), str):
                    yield block["text"]
                if block.get("type") == "tool_result":
                    yield from texts(block.get("content"))

    return "\n".join(t for m in body.get("messages", []) for t in texts(m.get("content")))


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last message of a request (where the prompt or a tool result is)."""
    messages = body.get("messages") or []
    return request_text({"messages": messages[-1:]})


def _halves(text: str) -> list[str]:
    """`text` in two pieces (or one, if too short), so clients see a real multi-delta stream."""
    half = len(text) // 2
    return [p for p in (text[:half], text[half:]) if p] or [text]


def sse_events(answer: Text | ToolUse, *, message_id: str, tool_id: str, model: str) -> list[bytes]:
    """The server-sent events of one streamed message, one `bytes` per event."""
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if answer.text is not None:
        deltas = [{"type": "text_delta", "text": p} for p in _halves(answer.text)]
        blocks.append(({"type": "text", "text": ""}, deltas))
    if isinstance(answer, ToolUse):
        raw = json.dumps(answer.input)
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in _halves(raw)]
        start = {"type": "tool_use", "id": tool_id, "name": answer.name, "input": {}}
        blocks.append((start, deltas))
    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}]
    for index, (start_block, block_deltas) in enumerate(blocks):
        events.append({"type": "content_block_start", "index": index, "content_block": start_block})
        events.extend(
            {"type": "content_block_delta", "index": index, "delta": d} for d in block_deltas
        )
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": _stop_reason(answer), "stop_sequence": None},
            "usage": {"output_tokens": _output_tokens(answer)},
        }
    )
    events.append({"type": "message_stop"})
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]


def message_json(
    answer: Text | ToolUse, *, message_id: str, tool_id: str, model: str
) -> dict[str, Any]:
    """The same message, not streamed (for a client that sends `stream: false`)."""
    content: list[dict[str, Any]] = []
    if answer.text is not None:
        content.append({"type": "text", "text": answer.text})
    if isinstance(answer, ToolUse):
        content.append(
            {"type": "tool_use", "id": tool_id, "name": answer.name, "input": answer.input}
        )
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(answer),
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": _output_tokens(answer)},
    }


def _stop_reason(answer: Text | ToolUse) -> str:
    return "tool_use" if isinstance(answer, ToolUse) else "end_turn"


def _output_tokens(answer: Text | ToolUse) -> int:
    size = len(answer.text or "") + (
        len(json.dumps(answer.input)) if isinstance(answer, ToolUse) else 0
    )
    return max(1, size // 4)


class FakeAnthropic(LoopbackServer):
    """The scripted server; use it as a context manager (it listens from `__enter__` on)."""

    def __init__(
        self,
        script: Iterable[Turn] = (),
        *,
        respond: Callable[[dict[str, Any]], Answer | None] | None = None,
        side_answer: Turn = Text("done"),
        split_side_requests: bool = True,
    ) -> None:
        super().__init__()
        self.script: list[Turn] = list(script)
        """The turns not yet used; the next agent request takes `script[0]`."""
        self.respond = respond
        self.side_answer = side_answer
        self.split_side_requests = split_side_requests
        self.requests: list[dict[str, Any]] = []
        """Every `POST /v1/messages` body, in order of arrival."""
        self.answers: list[Answer] = []
        """What each of `requests` was answered with (same index)."""
        self.side_requests: list[dict[str, Any]] = []
        """The bodies among `requests` without `tools`, answered with `side_answer`."""
        """Every HTTP request received, of any method and path, in order."""
        self._message_ids = itertools.count(1)
        self._request_ids = itertools.count(1)

    thread_name = "fake-anthropic"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_class(self)

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, the value for `ANTHROPIC_BASE_URL`."""
        return f"{self.root_url()}"

    @property
    def agent_requests(self) -> list[dict[str, Any]]:
        """The bodies of `requests` that were agent turns (not side requests)."""
        return [r for r in self.requests if not any(r is s for s in self.side_requests)]

    def answer_for(self, body: dict[str, Any]) -> Answer:
        """Record a `POST /v1/messages` body and choose its answer."""
        with self._lock:
            self.requests.append(body)
            turn: Turn
            if self.split_side_requests and not has_tools(body):
                self.side_requests.append(body)
                turn = self.side_answer
            else:
                turn = next_turn(body, self.respond, self.script, Text("done"))
            answer = turn if isinstance(turn, ANSWER_TYPES) else turn(body)
            self.answers.append(answer)
            return answer


def _handler_class(api: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeAnthropic/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # `api.log` has it; keep pytest output clean

        def do_HEAD(self) -> None:
            self._record(None, 200)
            self._send_json(200, {})

        def do_GET(self) -> None:
            if urlsplit(self.path).path in ("", "/"):
                self._record(None, 200)
                self._send_json(200, {})
            else:
                self._record(None, 404)
                self._send_not_found()

        def do_POST(self) -> None:
            body = self._read_body()
            path = urlsplit(self.path).path
            if path == "/v1/messages/count_tokens":
                self._record(body, 200)
                self._send_json(200, {"input_tokens": max(1, len(json.dumps(body)) // 4)})
                return
            if path != "/v1/messages" or not isinstance(body, dict):
                self._record(body, 404)
                self._send_not_found()
                return
            answer = api.answer_for(body)
            if isinstance(answer, NeverAnswer):
                self._record(body, 0)
                api._closed.wait()
                self.close_connection = True
                return
            if isinstance(answer, HttpError):
                self._record(body, answer.status)
                self._send_json(answer.status, answer.body(), answer.headers)
                return
            self._record(body, 200)
            n = next(api._message_ids)
            ids = {
                "message_id": f"msg_fake_{n:04d}",
                "tool_id": f"toolu_fake_{n:04d}",
                "model": str(body.get("model") or "claude-fake"),
            }
            if body.get("stream"):
                self._send_stream(sse_events(answer, **ids))
            else:
                self._send_json(200, message_json(answer, **ids))

        def _record(self, body: Any, status: int) -> None:
            headers = dict(self.headers.items())
            api._record(LoggedRequest(self.command, self.path, headers, body, status))

        def _read_body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw) if raw else None
            except ValueError:
                return None

        def _start(self, status: int, content_type: str, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("request-id", f"req_fake_{next(api._request_ids):04d}")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()

        def _send_json(
            self, status: int, payload: Any, headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(payload).encode()
            self._start(
                status, "application/json", {"Content-Length": str(len(data)), **(headers or {})}
            )
            if self.command != "HEAD":
                self.wfile.write(data)

        def _send_not_found(self) -> None:
            message = f"fake server: nothing at {self.command} {self.path}"
            self._send_json(
                404, {"type": "error", "error": {"type": "not_found_error", "message": message}}
            )

        def _send_stream(self, events: list[bytes]) -> None:
            headers = {"Cache-Control": "no-cache", "Transfer-Encoding": "chunked"}
            self._start(200, "text/event-stream; charset=utf-8", headers)
            for event in events:  # one HTTP chunk per event, flushed: a real stream
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler
