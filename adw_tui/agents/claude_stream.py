"""Claude Code `stream-json` lines to AgentEvents, and the final AgentResult.

The failure signal is `is_error` on the result line, never `subtype` alone: API failures
arrive as `subtype: "success", is_error: true` with `api_error_status`. The error class
is read from, in order: the limit adw enforced, the API status, the assistant message's
`error`, the result's `subtype`, the retries seen, and how the process exited.
"""

import json
from typing import Any

from adw_tui.agents.engine import ProcessEnding
from adw_tui.agents.jsonl import BadLine, ParsedLine
from adw_tui.agents.stream_fields import (
    bad_line_event,
    cwd_prefix,
    fold,
    http_status_class,
    stopped_message,
    tool_summary,
    unknown_event,
)
from adw_tui.agents.stream_fields import clip as _clip
from adw_tui.agents.stream_fields import number as _number
from adw_tui.agents.stream_fields import obj as _dict
from adw_tui.agents.stream_fields import text as _text
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentResult, ErrorClass

_ASSISTANT_ERROR_CLASSES = {
    "authentication_failed": ErrorClass.AUTH,
    "billing_error": ErrorClass.AUTH,
    "rate_limit": ErrorClass.RATE_LIMIT,
    "invalid_request": ErrorClass.INVALID_REQUEST,
    "server_error": ErrorClass.OVERLOADED,
}
_SUBTYPE_CLASSES = {
    "error_max_turns": ErrorClass.MAX_TURNS,
    "error_during_execution": ErrorClass.EXECUTION_ERROR,
    "error_max_budget_usd": ErrorClass.EXECUTION_ERROR,
}
# Which input field best names what a tool call does, by tool.
_TOOL_SUBJECT = {
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "Read": "file_path",
    "NotebookEdit": "notebook_path",
    "Bash": "command",
    "Glob": "pattern",
    "Grep": "pattern",
    "WebFetch": "url",
    "WebSearch": "query",
    "Task": "description",
}


class ClaudeStreamParser:
    """Stateful: one parser per agent call.

    A line's fields are read through `_text`, `_dict` and `_number`, which check the type
    of just the fields an event uses: a field of an unexpected type reads as missing, so
    an odd line still becomes its event (or an `unknown` one) and never raises.
    """

    def __init__(self, cwd: str | None = None) -> None:
        self._cwd = cwd_prefix(cwd)
        self.session_id: str | None = None
        self._result: dict[str, Any] | None = None
        self._assistant_error: str | None = None
        self._last_text = ""
        self._retries = 0
        self._rate_limited = False

    def events(self, line: ParsedLine) -> list[AgentEvent]:
        if isinstance(line, BadLine):
            return [bad_line_event(line)]
        value, number = line.value, line.number
        session_id = value.get("session_id")
        if isinstance(session_id, str):
            self.session_id = session_id
        kind = value.get("type")
        if kind == "assistant":
            return self._assistant(value, number)
        if kind == "user":
            return self._user(value, number)
        if kind == "system":
            return [self._system(value, number)]
        if kind == "rate_limit_event":
            return [self._rate_limit(value, number)]
        if kind == "result":
            self._result = value
            return [self._result_event(value, number)]
        return [unknown_event(kind, number)]

    def _system(self, value: dict[str, Any], number: int) -> AgentEvent:
        subtype = _text(value, "subtype")
        if subtype == "init":
            model = _text(value, "model") or "?"
            return AgentEvent(
                AgentEventKind.INIT,
                f"session {_text(value, 'session_id') or '?'} · model {model}",
                line=number,
                detail={
                    "model": model,
                    "session_id": _text(value, "session_id"),
                    "cwd": _text(value, "cwd"),
                    "version": _text(value, "claude_code_version"),
                    "permission_mode": _text(value, "permissionMode"),
                },
            )
        if subtype == "api_retry":
            self._retries += 1
            status = _number(value, "error_status")
            error = _text(value, "error")
            cause = f"HTTP {status}" if status else f"{error or 'unknown'} error, no HTTP status"
            attempt, max_retries = _number(value, "attempt"), _number(value, "max_retries")
            delay_ms = _number(value, "retry_delay_ms")
            return AgentEvent(
                AgentEventKind.RETRY,
                f"API retry {attempt}/{max_retries} in {(delay_ms or 0) / 1000:.1f}s ({cause})",
                line=number,
                detail={
                    "attempt": attempt,
                    "max_retries": max_retries,
                    "retry_delay_ms": delay_ms,
                    "error_status": status,
                    "error": error,
                },
            )
        return AgentEvent(
            AgentEventKind.UNKNOWN,
            f"system {subtype}",
            line=number,
            detail={"type": "system", "subtype": subtype},
        )

    def _assistant(self, value: dict[str, Any], number: int) -> list[AgentEvent]:
        content = _dict(value, "message").get("content")
        error = value.get("error")
        events: list[AgentEvent] = []
        for block in content if isinstance(content, list) else ():
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                self._last_text = _text(block, "text") or ""
                events.append(
                    AgentEvent(
                        AgentEventKind.ERROR if error else AgentEventKind.TEXT,
                        self._last_text,
                        is_error=bool(error),
                        line=number,
                    )
                )
            elif kind == "tool_use":
                name = _text(block, "name") or "?"
                events.append(
                    AgentEvent(
                        AgentEventKind.TOOL_USE,
                        self._tool_summary(name, block.get("input")),
                        tool_name=name,
                        tool_id=_text(block, "id"),
                        line=number,
                    )
                )
            elif kind == "thinking":
                events.append(
                    AgentEvent(AgentEventKind.THINKING, _text(block, "thinking") or "", line=number)
                )
        if error:
            self._assistant_error = str(error)
            if not events:
                events.append(
                    AgentEvent(AgentEventKind.ERROR, str(error), is_error=True, line=number)
                )
        return events

    def _user(self, value: dict[str, Any], number: int) -> list[AgentEvent]:
        content = _dict(value, "message").get("content")
        if not isinstance(content, list):
            return []
        return [
            AgentEvent(
                AgentEventKind.TOOL_RESULT,
                fold(_tool_result_text(block.get("content"))),
                tool_id=_text(block, "tool_use_id"),
                is_error=bool(block.get("is_error")),
                line=number,
            )
            for block in content
            if isinstance(block, dict) and block.get("type") == "tool_result"
        ]

    def _rate_limit(self, value: dict[str, Any], number: int) -> AgentEvent:
        info = _dict(value, "rate_limit_info") or value
        status = _text(info, "status") or "unknown"
        self._rate_limited = self._rate_limited or status == "rejected"
        return AgentEvent(
            AgentEventKind.RATE_LIMIT,
            f"rate limit {status}",
            is_error=status == "rejected",
            line=number,
            detail={"status": status, "resets_at": _number(info, "resetsAt")},
        )

    def _result_event(self, value: dict[str, Any], number: int) -> AgentEvent:
        failed = bool(value.get("is_error"))
        cost = _number(value, "total_cost_usd") or 0
        return AgentEvent(
            AgentEventKind.RESULT,
            _failure_text(value) if failed else f"done: ${cost:.4f}",
            is_error=failed,
            line=number,
            detail={"subtype": _text(value, "subtype"), "num_turns": _number(value, "num_turns")},
        )

    def _tool_summary(self, name: str, tool_input: Any) -> str:
        return tool_summary(tool_input, _TOOL_SUBJECT.get(name), self._cwd) or name

    def finish(self, ending: ProcessEnding) -> AgentResult:
        result = self._result or {}
        usage = _dict(result, "usage")
        error_class = self._classify(ending)
        final_text = _text(result, "result")
        output = self._last_text if final_text is None else final_text
        return AgentResult(
            success=error_class is ErrorClass.NONE,
            output=output,
            session_id=_text(result, "session_id") or self.session_id,
            cost_usd=float(_number(result, "total_cost_usd") or 0),
            input_tokens=int(_number(usage, "input_tokens") or 0),
            output_tokens=int(_number(usage, "output_tokens") or 0),
            cache_read_tokens=int(_number(usage, "cache_read_input_tokens") or 0),
            cache_creation_tokens=int(_number(usage, "cache_creation_input_tokens") or 0),
            num_turns=int(_number(result, "num_turns") or 0),
            duration_ms=int(_number(result, "duration_ms") or ending.duration_ms),
            exit_code=ending.exit_code,
            stderr_tail=ending.stderr_tail,
            error_class=error_class,
            error_message=self._message(error_class, ending, output),
            retries=self._retries,
        )

    def _classify(self, ending: ProcessEnding) -> ErrorClass:
        if ending.limit is not None:
            return ending.limit
        result = self._result
        if result is None:
            if self._retries and ending.exit_code not in (0, None):
                return ErrorClass.NETWORK
            return ErrorClass.NO_RESULT if ending.exit_code == 0 else ErrorClass.CRASHED
        if not result.get("is_error"):
            return ErrorClass.NONE if ending.exit_code in (0, None) else ErrorClass.CRASHED
        status = _number(result, "api_error_status")
        if isinstance(status, int):
            return http_status_class(status)
        if self._assistant_error in _ASSISTANT_ERROR_CLASSES:
            return _ASSISTANT_ERROR_CLASSES[self._assistant_error]
        if self._rate_limited:
            return ErrorClass.RATE_LIMIT
        subtype_class = _SUBTYPE_CLASSES.get(str(result.get("subtype")))
        if subtype_class is not None:
            return subtype_class
        if result.get("terminal_reason") == "api_error":
            return ErrorClass.NETWORK if self._retries else ErrorClass.OVERLOADED
        return ErrorClass.EXECUTION_ERROR

    def _message(self, error_class: ErrorClass, ending: ProcessEnding, output: str) -> str:
        if error_class is ErrorClass.NONE:
            return ""
        retries = f" after {self._retries} API retries" if self._retries else ""
        if error_class in (ErrorClass.TIMEOUT, ErrorClass.IDLE_TIMEOUT):
            return stopped_message(error_class, retries)
        if self._result is None:
            last_stderr = ending.stderr_tail.strip().splitlines()[-1:] or ["no stderr"]
            return (
                f"exited with code {ending.exit_code} without a result line{retries}: "
                f"{_clip(last_stderr[0])}"
            )
        return _clip(_failure_text(self._result)) + retries


def _failure_text(result: dict[str, Any]) -> str:
    """What a failed result line says. Error subtypes carry `result: null` and `errors`."""
    errors = result.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(map(str, errors))
    text = result.get("result")
    return text if isinstance(text, str) and text else str(result.get("subtype") or "error")


def _tool_result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    return json.dumps(content) if content is not None else ""
