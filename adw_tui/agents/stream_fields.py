"""Reading the fields of agent stream lines, shared by the engines' stream parsers.

A line's fields are read through `text_of`, `dict_of` and `number_of`, which check the
type of just the fields an event uses: a field of an unexpected type reads as missing, so
an odd line still becomes its event (or an `unknown` one) and never raises.
"""

from typing import Any

from adw_tui.agents.jsonl import BadLine
from adw_tui.domain.agent import AgentEvent, AgentEventKind, ErrorClass

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


def http_status_class(status: int) -> ErrorClass:
    """The error class of a model API's HTTP error status: 5xx is an overload (transient),
    an unlisted 4xx a request the API refuses (permanent)."""
    return _STATUS_CLASSES.get(
        status, ErrorClass.OVERLOADED if status >= 500 else ErrorClass.INVALID_REQUEST
    )


def text_of(value: dict[str, Any], key: str) -> str | None:
    """`value[key]` when it is a string, else None."""
    field = value.get(key)
    return field if isinstance(field, str) else None


def number_of(value: dict[str, Any], key: str) -> int | float | None:
    """`value[key]` when it is a number (not a bool), else None."""
    field = value.get(key)
    return field if isinstance(field, int | float) and not isinstance(field, bool) else None


def dict_of(value: dict[str, Any], key: str) -> dict[str, Any]:
    """`value[key]` when it is an object, else an empty one."""
    field = value.get(key)
    return field if isinstance(field, dict) else {}


def fold(text: str, lines: int = FOLDED_LINES) -> str:
    """The first `lines` lines of `text`, then how many more there were."""
    all_lines = text.splitlines()
    if len(all_lines) <= lines:
        return text
    return "\n".join([*all_lines[:lines], f"… ({len(all_lines) - lines} more lines)"])


def clip(text: str, limit: int = SUMMARY_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def limit_message(limit: ErrorClass) -> str:
    """Why adw stopped a call: TIMEOUT or IDLE_TIMEOUT."""
    which = "whole-call" if limit is ErrorClass.TIMEOUT else "no-output"
    return f"stopped by the {which} timeout"


def bad_line_event(line: BadLine) -> AgentEvent:
    """A line that is not a JSON object, shown as a warning (the stream goes on)."""
    return AgentEvent(
        AgentEventKind.UNKNOWN,
        f"line {line.number}: {line.reason}",
        is_error=True,
        line=line.number,
        detail={"problem": line.reason, "size": line.size},
    )


def cwd_prefix(cwd: str | None) -> str | None:
    """`cwd` ending in one `/`, to cut from the paths a tool call names."""
    return cwd.rstrip("/") + "/" if cwd else None


def tool_subject(tool_input: Any, key: str | None, cwd: str | None) -> str | None:
    """What a tool call works on, as one clipped line: `tool_input[key]`, else its first
    string field, a path under `cwd` (a `cwd_prefix`) made relative; None when the input
    names nothing."""
    if not isinstance(tool_input, dict):
        return None
    subject = tool_input.get(key) if key is not None else None
    if subject is None:
        subject = next((v for v in tool_input.values() if isinstance(v, str)), None)
    if subject is None:
        return None
    text = str(subject)
    if cwd and text.startswith(cwd):
        text = text[len(cwd) :]
    return clip(text.splitlines()[0] if text else text)
