"""A scripted, deterministic OpenAI Responses API on loopback, for tests of the real Codex CLI.

    with FakeResponses([Shell("echo hi > out.txt"), Reply("done")]) as api:
        # CODEX_HOME/config.toml names a provider whose base_url is api.base_url
        # run `codex exec --json ...`; each model request takes the next turn of the script
        assert api.requests[1]["input"][-1]["type"] == "function_call_output"

A `ThreadingHTTPServer` on 127.0.0.1 with an OS-chosen port, in a background thread. It
answers `POST /v1/responses` with a server-sent-event stream shaped like the real API's:
`response.created`, `response.in_progress`, then per output item
`response.output_item.added`, its deltas (`response.output_text.delta` or
`response.function_call_arguments.delta`), `response.output_item.done`, and last
`response.completed` with `usage`.

A turn is one of `Reply`, `Shell`, `FunctionCall`, `HttpError`, `NeverAnswer`, or a
callable taking the request body and returning one of those. When the script runs out, the
answer is `Reply("done")`. `.requests` holds every request body in order, `.answers` what
each got, `.log` every HTTP request of any kind; other paths get a 404 (logged).

What Codex 0.171.0 sends (`codex exec --json`, with a `[model_providers.X]` of
`wire_api = "responses"` and `base_url = <this server>/v1`): only `POST /v1/responses`,
one per model turn, `stream: true`, `input` (developer messages, a user message holding
`<environment_context>` with `<cwd>`, the prompt; later `function_call` and
`function_call_output` items), `tools` (for an unknown model name: the function
`exec_command{cmd, ...}` and others), `store: false`, and the header
`Authorization: Bearer <the provider's env_key value>`. A resumed thread re-sends its
whole history. See shared/reference/codex/NOTES.md for its retries on 401, 429 and 500.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fake_anthropic import LoggedRequest, NeverAnswer
from tests.loopback_server import LoopbackServer, next_turn


@dataclass(frozen=True)
class Reply:
    """A final assistant message: the turn ends."""

    text: str


@dataclass(frozen=True)
class FunctionCall:
    """A function call the CLI runs, then answers with a `function_call_output`."""

    name: str
    arguments: dict[str, Any]
    text: str | None = None
    """A message sent before the call, in the same response."""


def Shell(cmd: str, text: str | None = None) -> FunctionCall:
    """Codex's shell tool for a model it has no metadata for (`exec_command`)."""
    return FunctionCall("exec_command", {"cmd": cmd}, text)


@dataclass(frozen=True)
class HttpError:
    """An HTTP error with the API's JSON error body."""

    status: int
    message: str = "scripted error"
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": "fake_error", "code": self.code}}


Answer = Reply | FunctionCall | HttpError | NeverAnswer
Turn = Answer | Callable[[dict[str, Any]], Answer]
ANSWER_TYPES = (Reply, FunctionCall, HttpError, NeverAnswer)


@dataclass(frozen=True)
class Usage:
    """The usage each response reports."""

    input_tokens: int = 100
    cached_tokens: int = 20
    output_tokens: int = 50

    def json(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached_tokens},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": self.input_tokens + self.output_tokens,
        }


def input_text(body: dict[str, Any]) -> str:
    """All text of a request's `input` items (messages and function outputs), one per line."""
    texts: list[str] = []
    for item in body.get("input") or []:
        if not isinstance(item, dict):
            continue
        content = item.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(
                part["text"]
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
        if isinstance(item.get("output"), str):
            texts.append(item["output"])
    return "\n".join(texts)


def user_texts(body: dict[str, Any]) -> list[str]:
    """The text of each user message of a request's `input`, in order."""
    return [
        part["text"]
        for item in body.get("input") or []
        if isinstance(item, dict) and item.get("role") == "user"
        for part in item.get("content") or []
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]


def function_outputs(body: dict[str, Any]) -> dict[str, str]:
    """`call_id -> output` of the function results a request carries."""
    return {
        str(item.get("call_id")): str(item.get("output"))
        for item in body.get("input") or []
        if isinstance(item, dict) and item.get("type") == "function_call_output"
    }


def sse_events(
    answer: Reply | FunctionCall, *, response_id: str, n: int, usage: Usage
) -> list[bytes]:
    """The server-sent events of one streamed response, one `bytes` per event."""
    response = {"id": response_id, "object": "response", "status": "in_progress", "output": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response},
        {"type": "response.in_progress", "response": response},
    ]
    items: list[dict[str, Any]] = []
    text = answer.text
    if text is not None:
        items.append(_message_events(events, len(items), f"msg_fake_{n:04d}", text))
    if isinstance(answer, FunctionCall):
        items.append(_call_events(events, len(items), answer, n))
    done = {**response, "status": "completed", "output": items, "usage": usage.json()}
    events.append({"type": "response.completed", "response": done})
    return [
        f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode()
        for e in ({**e, "sequence_number": i} for i, e in enumerate(events))
    ]


def _message_events(
    events: list[dict[str, Any]], index: int, item_id: str, text: str
) -> dict[str, Any]:
    empty = {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": "in_progress",
        "content": [],
    }
    events.append({"type": "response.output_item.added", "output_index": index, "item": empty})
    part = {"type": "output_text", "text": "", "annotations": []}
    where = {"item_id": item_id, "output_index": index, "content_index": 0}
    events.append({"type": "response.content_part.added", **where, "part": part})
    half = len(text) // 2
    for piece in (p for p in (text[:half], text[half:]) if p):
        events.append({"type": "response.output_text.delta", **where, "delta": piece})
    events.append({"type": "response.output_text.done", **where, "text": text})
    events.append({"type": "response.content_part.done", **where, "part": {**part, "text": text}})
    item = {**empty, "status": "completed", "content": [{**part, "text": text}]}
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return item


def _call_events(
    events: list[dict[str, Any]], index: int, call: FunctionCall, n: int
) -> dict[str, Any]:
    arguments = json.dumps(call.arguments)
    item = {
        "id": f"fc_fake_{n:04d}",
        "type": "function_call",
        "status": "in_progress",
        "call_id": f"call_fake_{n:04d}",
        "name": call.name,
        "arguments": "",
    }
    events.append({"type": "response.output_item.added", "output_index": index, "item": item})
    where = {"item_id": item["id"], "output_index": index}
    events.append({"type": "response.function_call_arguments.delta", **where, "delta": arguments})
    events.append(
        {"type": "response.function_call_arguments.done", **where, "arguments": arguments}
    )
    done = {**item, "status": "completed", "arguments": arguments}
    events.append({"type": "response.output_item.done", "output_index": index, "item": done})
    return done


class FakeResponses(LoopbackServer):
    """The scripted server; use it as a context manager (it listens from `__enter__` on)."""

    def __init__(
        self,
        script: Iterable[Turn] = (),
        *,
        respond: Callable[[dict[str, Any]], Answer | None] | None = None,
        usage: Usage = Usage(),
    ) -> None:
        super().__init__()
        self.script: list[Turn] = list(script)
        """The turns not yet used; the next request takes `script[0]`."""
        self.respond = respond
        """Sees every request first; None falls through to the script."""
        self.usage = usage
        self.requests: list[dict[str, Any]] = []
        """Every `POST /v1/responses` body, in order of arrival."""
        self.answers: list[Answer] = []
        self._ids = itertools.count(1)

    thread_name = "fake-openai"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_class(self)

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v1`, the provider's `base_url`."""
        return f"{self.root_url()}/v1"

    def answer_for(self, body: dict[str, Any]) -> Answer:
        with self._lock:
            self.requests.append(body)
            turn: Turn = next_turn(body, self.respond, self.script, Reply("done"))
            answer = turn if isinstance(turn, ANSWER_TYPES) else turn(body)
            self.answers.append(answer)
            return answer


def _handler_class(api: FakeResponses) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeResponses/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._record(None, 404)
            self._send_json(404, HttpError(404, f"nothing at GET {self.path}").body())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            if urlsplit(self.path).path != "/v1/responses" or not isinstance(body, dict):
                self._record(body, 404)
                self._send_json(404, HttpError(404, f"nothing at POST {self.path}").body())
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
            n = next(api._ids)
            self._send_stream(
                sse_events(answer, response_id=f"resp_fake_{n:04d}", n=n, usage=api.usage)
            )

        def _record(self, body: Any, status: int) -> None:
            with api._lock:
                api.log.append(
                    LoggedRequest(self.command, self.path, dict(self.headers.items()), body, status)
                )

        def _start(self, status: int, content_type: str, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("x-request-id", f"req_fake_{len(api.log):04d}")
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
            self.wfile.write(data)

        def _send_stream(self, events: list[bytes]) -> None:
            self._start(
                200,
                "text/event-stream",
                {"Cache-Control": "no-cache", "Transfer-Encoding": "chunked"},
            )
            for event in events:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler
