"""A scripted, deterministic Gemini API (`streamGenerateContent`) on loopback, for tests of
the real Gemini CLI.

    with FakeGemini([Call("write_file", {"file_path": "out.txt", "content": "hi\\n"}),
                     Text("Wrote out.txt.")]) as api:
        env = {..., "GOOGLE_GEMINI_BASE_URL": api.base_url, "GEMINI_API_KEY": "fake-key"}
        # run `gemini -p ...`; each model request takes the next turn of the script

The server is a `ThreadingHTTPServer` on 127.0.0.1 with an OS-chosen port, in a background
thread. It answers `POST /v1beta/models/<model>:streamGenerateContent?alt=sse` with one
server-sent event holding a whole `GenerateContentResponse` (text or a `functionCall`
part, `finishReason: STOP`, `usageMetadata`), which is all Gemini CLI 0.61.0 needs; an
HTTP error with Google's JSON error body; or nothing at all (`NeverAnswer`).

A turn is one of `Text`, `Call`, `HttpError`, `NeverAnswer`, or a callable taking the
request body and returning one of those. When the script runs out the answer is
`Text("done")`. `respond`, if given, sees every request first; returning None falls
through to the script. A request without `tools` (a side request the CLI might make on
its own, none seen with 0.61.0 in headless mode) gets `side_answer` and does not consume
the script.

`.requests` holds every model request body in order (with `.models` the model named in
each path), `.answers` what each got, `.log` every HTTP request of any kind.

Usage reported per answer: 100 prompt tokens (20 of them cached) and 50 candidate
tokens, so a call of n model requests reports n*100 input and n*50 output tokens.

What Gemini CLI 0.61.0 sends: the request body has `contents` (role `user` / `model`,
parts `text` / `functionCall` / `functionResponse`), `systemInstruction`, `tools`
(`functionDeclarations`: write_file, run_shell_command, replace, read_file, ...) and
`generationConfig`; the key in the `x-goog-api-key` header. After a `functionCall` it runs
the tool and sends the next request with a `functionResponse` part. It retries 429, 5xx
and refused connections (settings `general.maxAttempts`, 10 by default, delays from 5 s
up to 30 s) without a word on stdout, then exits with the HTTP status modulo 256.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fake_anthropic import LoggedRequest, NeverAnswer
from tests.loopback_server import LoopbackServer, next_turn

PROMPT_TOKENS = 100
CACHED_TOKENS = 20
OUTPUT_TOKENS = 50
_STREAM_PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):streamGenerateContent$")
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass(frozen=True)
class Text:
    """A final text answer."""

    text: str


@dataclass(frozen=True)
class Call:
    """A function call (a tool the CLI runs), optionally after some text."""

    name: str
    args: dict[str, Any]
    text: str | None = None


@dataclass(frozen=True)
class HttpError:
    """An HTTP error with Google's JSON error body, e.g. `HttpError(429)`."""

    status: int
    message: str | None = None

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.status,
                "message": self.message or f"scripted {self.status}",
                "status": _STATUS_NAMES.get(self.status, "UNKNOWN"),
            }
        }


Answer = Text | Call | HttpError | NeverAnswer
Responder = Callable[[dict[str, Any]], Answer]
Turn = Answer | Responder
ANSWER_TYPES = (Text, Call, HttpError, NeverAnswer)


def request_text(body: dict[str, Any]) -> str:
    """All text parts of a request's contents, and its function responses as JSON, one
    per line."""
    texts: list[str] = []
    for content in body.get("contents") or []:
        for part in content.get("parts") or []:
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
            if "functionResponse" in part:
                texts.append(json.dumps(part["functionResponse"]))
    return "\n".join(texts)


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the request's last content (the prompt, or a function response)."""
    return request_text({"contents": (body.get("contents") or [])[-1:]})


def is_function_response(body: dict[str, Any]) -> bool:
    """True when the request answers the model's function call."""
    last = (body.get("contents") or [{}])[-1]
    return any("functionResponse" in part for part in last.get("parts") or [])


def response_json(answer: Text | Call, *, number: int, model: str) -> dict[str, Any]:
    """The one `GenerateContentResponse` the stream carries for `answer`."""
    parts: list[dict[str, Any]] = []
    if answer.text is not None:
        parts.append({"text": answer.text})
    if isinstance(answer, Call):
        parts.append({"functionCall": {"name": answer.name, "args": answer.args}})
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": {
            "promptTokenCount": PROMPT_TOKENS,
            "candidatesTokenCount": OUTPUT_TOKENS,
            "totalTokenCount": PROMPT_TOKENS + OUTPUT_TOKENS,
            "cachedContentTokenCount": CACHED_TOKENS,
        },
        "modelVersion": model,
        "responseId": f"fake-response-{number:04d}",
    }


class FakeGemini(LoopbackServer):
    """The scripted server; use it as a context manager (it listens from `__enter__` on)."""

    def __init__(
        self,
        script: Iterable[Turn] = (),
        *,
        respond: Callable[[dict[str, Any]], Answer | None] | None = None,
        side_answer: Turn = Text("done"),
    ) -> None:
        super().__init__()
        self.script: list[Turn] = list(script)
        self.respond = respond
        self.side_answer = side_answer
        self.requests: list[dict[str, Any]] = []
        self.models: list[str] = []
        self.answers: list[Answer] = []
        self._numbers = itertools.count(1)

    thread_name = "fake-gemini"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_class(self)

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT`, the value for `GOOGLE_GEMINI_BASE_URL`."""
        return f"{self.root_url()}"

    def reset(self, script: Iterable[Turn] = (), respond: Responder | None = None) -> None:
        """A new script and responder, and empty records: one server serves many tests
        (run one after the other, as a module's tests on one xdist worker are)."""
        with self._lock:
            self.script = list(script)
            self.respond = respond
            self.requests.clear()
            self.models.clear()
            self.answers.clear()
            self.log.clear()

    def answer_for(self, model: str, body: dict[str, Any]) -> Answer:
        """Record a model request and choose its answer."""
        with self._lock:
            self.requests.append(body)
            self.models.append(model)
            turn: Turn = (
                next_turn(body, self.respond, self.script, Text("done"))
                if body.get("tools")
                else self.side_answer
            )
            answer = turn if isinstance(turn, ANSWER_TYPES) else turn(body)
            self.answers.append(answer)
            return answer


def _handler_class(api: FakeGemini) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeGemini/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # `api.log` has it

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
            found = _STREAM_PATH.match(urlsplit(self.path).path)
            if found is None or not isinstance(body, dict):
                self._record(body, 404)
                self._send_json(404, HttpError(404, f"nothing at POST {self.path}").body())
                return
            answer = api.answer_for(found["model"], body)
            if isinstance(answer, NeverAnswer):
                self._record(body, 0)
                api._closed.wait()
                self.close_connection = True
                return
            if isinstance(answer, HttpError):
                self._record(body, answer.status)
                self._send_json(answer.status, answer.body())
                return
            self._record(body, 200)
            event = response_json(answer, number=next(api._numbers), model=found["model"])
            data = f"data: {json.dumps(event)}\r\n\r\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self, body: Any, status: int) -> None:
            headers = dict(self.headers.items())
            api._record(LoggedRequest(self.command, self.path, headers, body, status))

        def _send_json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
