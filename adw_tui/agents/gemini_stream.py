"""Gemini CLI `--output-format stream-json` lines to AgentEvents, and the final AgentResult.

Lines (Gemini CLI 0.61.0; each has `type` and `timestamp`): `init{session_id, model}`,
`message{role, content, delta}` (the prompt echoed as `user`, then the model's text in
`assistant` chunks), `tool_use{tool_name, tool_id, parameters}`,
`tool_result{tool_id, status, output?, error?}`, `error{severity, message}` and last
`result{status, error?, stats}`. No cost: adw prices the tokens (`agents.pricing`).

Every line becomes its events on its own (a saved transcript is drawn a line a row, in
any order), so each assistant chunk is one TEXT event. The output of the call is the text
of the model's last turn, as Claude Code's result holds its last message.

How a failure is classified, in order: the limit adw enforced; the HTTP status of the
API error, read from the result's message (`[API Error: {"error": {"code": 401, ...}}]`)
or else from the exit code, which is that status modulo 256 (401 -> 145, 429 -> 173,
500 -> 244); a network failure named in the message or on stderr; the CLI's own exit
codes (41 auth, 42 input, 52 config, 53 turn limit, ...); the result's error.
"""

import json
import re
from collections.abc import Mapping
from typing import Any

from adw_tui.agents.engine import ProcessEnding
from adw_tui.agents.jsonl import BadLine, ParsedLine
from adw_tui.agents.pricing import estimate_cost
from adw_tui.agents.stream_fields import (
    bad_line_event,
    clip,
    cwd_prefix,
    fold,
    http_status_class,
    number,
    obj,
    stopped_message,
    text,
    tool_summary,
    unknown_event,
)
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentResult, ErrorClass

# The statuses a model API answers with, by the exit code Gemini CLI turns them into.
_HTTP_EXIT_CODES = {
    status % 256: status
    for status in (400, 401, 403, 404, 408, 409, 413, 429, 499, 500, 502, 503, 504)
}
# The CLI's own exit codes (packages/core/src/utils/exitCodes.ts and its Fatal*Error).
_EXIT_CLASSES = {
    41: ErrorClass.AUTH,  # FATAL_AUTHENTICATION_ERROR: no usable auth method or key
    42: ErrorClass.INVALID_REQUEST,  # FATAL_INPUT_ERROR
    44: ErrorClass.EXECUTION_ERROR,  # FATAL_SANDBOX_ERROR
    52: ErrorClass.INVALID_REQUEST,  # FATAL_CONFIG_ERROR: a bad settings.json
    53: ErrorClass.MAX_TURNS,  # FATAL_TURN_LIMITED_ERROR
    54: ErrorClass.EXECUTION_ERROR,  # FATAL_TOOL_EXECUTION_ERROR
    130: ErrorClass.CRASHED,  # FATAL_CANCELLATION_ERROR
}
_API_ERROR = "[API Error: "
_KEY_REJECTED = ("API_KEY_INVALID", "API key not valid", "API key expired")
_NETWORK_MARKERS = ("fetch failed", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND")
# A session `--resume` cannot find (exit 42): worth a retry, which starts afresh.
_LOST_SESSION = "Error resuming session"
# stderr lines Gemini CLI prints on every run, never the reason it failed.
_STDERR_NOISE = (
    "Warning: 256-color",
    "YOLO mode is enabled",
    "Ripgrep is not available",
    "[STARTUP]",
    "Loaded cached credentials",
)
_HINTS = {
    ErrorClass.AUTH: "check GEMINI_API_KEY, or the auth method selected in Gemini CLI's "
    "settings.json (security.auth.selectedType)",
}
# Which parameter best names what a tool call does, by tool.
_TOOL_SUBJECT = {
    "write_file": "file_path",
    "replace": "file_path",
    "read_file": "file_path",
    "list_directory": "dir_path",
    "glob": "pattern",
    "grep_search": "pattern",
    "search_file_content": "pattern",
    "run_shell_command": "command",
    "web_fetch": "prompt",
    "google_web_search": "query",
}


class GeminiStreamParser:
    """Stateful: one parser per agent call (the state only feeds `finish`). `prices`
    (per million input / output tokens, by model) price the call's tokens; without them
    its cost stays 0 and is not marked estimated."""

    def __init__(
        self, cwd: str | None = None, prices: Mapping[str, tuple[float, float]] | None = None
    ) -> None:
        self._cwd = cwd_prefix(cwd)
        self._prices = prices
        self.session_id: str | None = None
        self._model: str | None = None
        self._result: dict[str, Any] | None = None
        self._turn_text: list[str] = []
        self._in_model_turn = False
        self._turns = 0
        self._errors: list[str] = []

    def events(self, line: ParsedLine) -> list[AgentEvent]:
        if isinstance(line, BadLine):
            return [bad_line_event(line)]
        value, at = line.value, line.number
        kind = value.get("type")
        if kind == "init":
            return [self._init(value, at)]
        if kind == "message":
            return self._message(value, at)
        if kind == "tool_use":
            return [self._tool_use(value, at)]
        if kind == "tool_result":
            return [self._tool_result(value, at)]
        if kind == "error":
            return [self._error(value, at)]
        if kind == "result":
            self._result = value
            return [_result_event(value, at)]
        return [unknown_event(kind, at)]

    def _init(self, value: dict[str, Any], line: int) -> AgentEvent:
        self.session_id = text(value, "session_id") or self.session_id
        self._model = text(value, "model") or self._model
        return AgentEvent(
            AgentEventKind.INIT,
            f"session {self.session_id or '?'} · model {self._model or '?'}",
            line=line,
            detail={"model": self._model, "session_id": self.session_id},
        )

    def _message(self, value: dict[str, Any], line: int) -> list[AgentEvent]:
        content = text(value, "content") or ""
        if text(value, "role") != "assistant":
            self._model_turn(False)
            return []  # the prompt, echoed
        if self._model_turn(True):
            self._turn_text = []
        self._turn_text.append(content)
        return [AgentEvent(AgentEventKind.TEXT, content, line=line, detail={"delta": True})]

    def _tool_use(self, value: dict[str, Any], line: int) -> AgentEvent:
        if self._model_turn(True):
            self._turn_text = []
        name = text(value, "tool_name") or "?"
        summary = tool_summary(value.get("parameters"), _TOOL_SUBJECT.get(name), self._cwd)
        return AgentEvent(
            AgentEventKind.TOOL_USE,
            summary or name,
            tool_name=name,
            tool_id=text(value, "tool_id"),
            line=line,
        )

    def _tool_result(self, value: dict[str, Any], line: int) -> AgentEvent:
        self._model_turn(False)
        failed = text(value, "status") == "error"
        shown = text(value, "output") or ""
        if failed:
            shown = text(obj(value, "error"), "message") or shown or "tool error"
        return AgentEvent(
            AgentEventKind.TOOL_RESULT,
            fold(shown),
            tool_id=text(value, "tool_id"),
            is_error=failed,
            line=line,
        )

    def _error(self, value: dict[str, Any], line: int) -> AgentEvent:
        severity = text(value, "severity") or "error"
        message = text(value, "message") or severity
        if severity == "error":
            self._errors.append(message)
        return AgentEvent(
            AgentEventKind.ERROR,
            message,
            is_error=severity == "error",
            line=line,
            detail={"severity": severity},
        )

    def _model_turn(self, model_speaks: bool) -> bool:
        """Track whose turn it is; True when the model starts a new turn."""
        starts = model_speaks and not self._in_model_turn
        self._in_model_turn = model_speaks
        self._turns += starts
        return starts

    def finish(self, ending: ProcessEnding) -> AgentResult:
        stats = obj(self._result or {}, "stats")
        input_tokens = int(number(stats, "input_tokens") or 0)
        cached = int(number(stats, "cached") or 0)
        error_class = self._classify(ending)
        cost = self._cost(stats)
        return AgentResult(
            success=error_class is ErrorClass.NONE,
            output="".join(self._turn_text),
            session_id=self.session_id,
            cost_usd=cost or 0.0,
            cost_estimated=cost is not None,
            input_tokens=int(number(stats, "input") or input_tokens - cached),
            output_tokens=int(number(stats, "output_tokens") or 0),
            cache_read_tokens=cached,
            num_turns=self._turns,
            duration_ms=ending.duration_ms,
            exit_code=ending.exit_code,
            stderr_tail=ending.stderr_tail,
            error_class=error_class,
            error_message=self._message_for(error_class, ending),
        )

    def _cost(self, stats: dict[str, Any]) -> float | None:
        """The estimated cost of the tokens of each model the call used (cached input at
        the input price: an estimate errs high); None when no model has a price."""
        if self._prices is None or not stats:  # no stats: what the call used is unknown
            return None
        models = obj(stats, "models") or ({self._model: stats} if self._model else {})
        costs = [
            estimate_cost(
                self._prices,
                name,
                int(number(usage, "input_tokens") or 0),
                int(number(usage, "output_tokens") or 0),
            )
            for name, usage in models.items()
            if isinstance(usage, dict)
        ]
        priced = [cost for cost in costs if cost is not None]
        return sum(priced) if priced else None

    def _classify(self, ending: ProcessEnding) -> ErrorClass:
        if ending.limit is not None:
            return ending.limit
        result = self._result
        if result is not None and text(result, "status") == "success":
            return ErrorClass.NONE if ending.exit_code in (0, None) else ErrorClass.CRASHED
        said = f"{self._result_message()}\n{ending.stderr_tail}"
        status = self._api_status(ending)
        if status is not None:
            if any(marker in said for marker in _KEY_REJECTED):
                return ErrorClass.AUTH  # the Gemini API answers a bad key with a 400
            return http_status_class(status)
        if any(marker in said for marker in _NETWORK_MARKERS):
            return ErrorClass.NETWORK
        if _LOST_SESSION in ending.stderr_tail:
            return ErrorClass.EXECUTION_ERROR
        if ending.exit_code in _EXIT_CLASSES:
            return _EXIT_CLASSES[ending.exit_code]
        if result is not None or self._errors:
            return ErrorClass.EXECUTION_ERROR
        return ErrorClass.NO_RESULT if ending.exit_code == 0 else ErrorClass.CRASHED

    def _api_status(self, ending: ProcessEnding) -> int | None:
        """The HTTP status of the API error that ended the call, if one did."""
        api_error = _api_error(self._result_message())
        if api_error is not None and isinstance(api_error.get("code"), int):
            return int(api_error["code"])
        if ending.exit_code is None:
            return None
        return _HTTP_EXIT_CODES.get(ending.exit_code)

    def _result_message(self) -> str:
        return text(obj(self._result or {}, "error"), "message") or ""

    def _message_for(self, error_class: ErrorClass, ending: ProcessEnding) -> str:
        if error_class is ErrorClass.NONE:
            return ""
        if error_class in (ErrorClass.TIMEOUT, ErrorClass.IDLE_TIMEOUT):
            return stopped_message(error_class)
        status = self._api_status(ending)
        cause = _describe(self._result_message()) or "; ".join(self._errors)
        if not cause:
            cause = _stderr_reason(ending.stderr_tail)
            if self._result is None:
                cause = f"without a result line: {cause}"
        http = f"HTTP {status}, " if status is not None else ""
        message = f"{clip(cause)} ({http}exit code {ending.exit_code})"
        hint = _HINTS.get(error_class)
        return f"{message}: {hint}" if hint else message


def _result_event(value: dict[str, Any], line: int) -> AgentEvent:
    stats = obj(value, "stats")
    failed = text(value, "status") != "success"
    if failed:
        shown = _describe(text(obj(value, "error"), "message") or "") or "error"
    else:
        tokens_in = int(number(stats, "input_tokens") or 0)
        shown = f"done: {tokens_in} tokens in, {int(number(stats, 'output_tokens') or 0)} out"
    return AgentEvent(
        AgentEventKind.RESULT,
        shown,
        is_error=failed,
        line=line,
        detail={"tool_calls": number(stats, "tool_calls")},
    )


def _api_error(message: str) -> dict[str, Any] | None:
    """The `error` object of Google's JSON error body that an `[API Error: ...]` message
    quotes, if it quotes one."""
    if not message.startswith(_API_ERROR):
        return None
    try:
        body, _ = json.JSONDecoder().raw_decode(message, len(_API_ERROR))
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _describe(message: str) -> str:
    """A result's error message in one line: `UNAUTHENTICATED: bad key` for a quoted API
    error body, else its first line without the `[API Error: ...]` wrapping."""
    api_error = _api_error(message)
    if api_error is not None:
        status, said = text(api_error, "status"), text(api_error, "message")
        return ": ".join(part for part in (status, said) if part)
    first = message.strip().splitlines()[0] if message.strip() else ""
    wrapped = re.fullmatch(r"\[API Error: (.*)\]", first)
    return wrapped.group(1) if wrapped else first


def _stderr_reason(stderr: str) -> str:
    """The first line of stderr that is not the noise of every run."""
    for line in stderr.splitlines():
        line = line.strip()
        if line and not line.startswith(_STDERR_NOISE):
            return line
    return "nothing on stderr"
