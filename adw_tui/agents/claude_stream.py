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
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentResult, ErrorClass

SUMMARY_CHARS = 120
FOLDED_LINES = 3

_STATUS_CLASSES = {
    400: ErrorClass.INVALID_REQUEST,
    401: ErrorClass.AUTH,
    402: ErrorClass.AUTH,
    403: ErrorClass.AUTH,
    404: ErrorClass.INVALID_REQUEST,
    413: ErrorClass.INVALID_REQUEST,
    422: ErrorClass.INVALID_REQUEST,
    429: ErrorClass.RATE_LIMIT,
}
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
        self._cwd = cwd.rstrip("/") + "/" if cwd else None
        self.session_id: str | None = None
        self._result: dict[str, Any] | None = None
        self._assistant_error: str | None = None
        self._last_text = ""
        self._retries = 0
        self._rate_limited = False

    def events(self, line: ParsedLine) -> list[AgentEvent]:
        if isinstance(line, BadLine):
            return [
                AgentEvent(
                    AgentEventKind.UNKNOWN,
                    f"line {line.number}: {line.reason}",
                    is_error=True,
                    line=line.number,
                    detail={"problem": line.reason, "size": line.size},
                )
            ]
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
        return [
            AgentEvent(
                AgentEventKind.UNKNOWN,
                f"{_clip(str(kind))} line",
                line=number,
                detail={"type": kind if isinstance(kind, str) else None},
            )
        ]

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
        if not isinstance(tool_input, dict):
            return name
        subject = tool_input.get(_TOOL_SUBJECT.get(name, ""))
        if subject is None:
            subject = next((v for v in tool_input.values() if isinstance(v, str)), None)
        if subject is None:
            return name
        text = str(subject)
        if self._cwd and text.startswith(self._cwd):
            text = text[len(self._cwd) :]
        return _clip(text.splitlines()[0] if text else text)

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
            return _STATUS_CLASSES.get(
                status, ErrorClass.OVERLOADED if status >= 500 else ErrorClass.INVALID_REQUEST
            )
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
            which = "whole-call" if error_class is ErrorClass.TIMEOUT else "no-output"
            return f"stopped by the {which} timeout{retries}; the process tree was killed"
        if self._result is None:
            last_stderr = ending.stderr_tail.strip().splitlines()[-1:] or ["no stderr"]
            return (
                f"exited with code {ending.exit_code} without a result line{retries}: "
                f"{_clip(last_stderr[0])}"
            )
        return _clip(_failure_text(self._result)) + retries


def _text(value: dict[str, Any], key: str) -> str | None:
    """`value[key]` when it is a string, else None."""
    field = value.get(key)
    return field if isinstance(field, str) else None


def _number(value: dict[str, Any], key: str) -> int | float | None:
    """`value[key]` when it is a number (not a bool), else None."""
    field = value.get(key)
    return field if isinstance(field, int | float) and not isinstance(field, bool) else None


def _dict(value: dict[str, Any], key: str) -> dict[str, Any]:
    """`value[key]` when it is an object, else an empty one."""
    field = value.get(key)
    return field if isinstance(field, dict) else {}


def _failure_text(result: dict[str, Any]) -> str:
    """What a failed result line says. Error subtypes carry `result: null` and `errors`."""
    errors = result.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(map(str, errors))
    text = result.get("result")
    return text if isinstance(text, str) and text else str(result.get("subtype") or "error")


def fold(text: str, lines: int = FOLDED_LINES) -> str:
    """The first `lines` lines of `text`, then how many more there were (lines as
    `str.splitlines` counts them).

    A tool's output is often long and broken only by `\n`: then the fold is found with
    `find` and the rest counted with `count`, never splitting the whole output into a
    list (which cost as much as parsing its line)."""
    if lines < 1 or not _breaks_only_at_newlines(text):
        all_lines = text.splitlines()
        if len(all_lines) <= lines:
            return text
        return "\n".join([*all_lines[:lines], f"… ({len(all_lines) - lines} more lines)"])
    end = -1
    for _ in range(lines):
        end = text.find("\n", end + 1)
        if end < 0:
            return text
    rest = len(text) - end - 1
    if not rest:
        return text
    more = text.count("\n", end + 1) + (text[-1] != "\n")
    return f"{text[:end]}\n… ({more} more lines)"


def _breaks_only_at_newlines(text: str) -> bool:
    """True when `str.splitlines` would break `text` at "\n" alone (each `in` is a C
    scan; a regex, or `any` over the characters, costs several times more)."""
    return (
        text.isascii()
        and "\r" not in text
        and "\x0b" not in text
        and "\x0c" not in text
        and "\x1c" not in text
        and "\x1d" not in text
        and "\x1e" not in text
    )


def _tool_result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content
        )
    return json.dumps(content) if content is not None else ""


def _clip(text: str, limit: int = SUMMARY_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
