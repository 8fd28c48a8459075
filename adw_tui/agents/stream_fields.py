"""What every stream parser needs: a line's fields read without trusting their types, and
the few texts and error classes the parsers of all engines make the same way."""

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


def text(value: dict[str, Any], key: str) -> str | None:
    """`value[key]` when it is a string, else None."""
    field = value.get(key)
    return field if isinstance(field, str) else None


def number(value: dict[str, Any], key: str) -> int | float | None:
    """`value[key]` when it is a number (not a bool), else None."""
    field = value.get(key)
    return field if isinstance(field, int | float) and not isinstance(field, bool) else None


def obj(value: dict[str, Any], key: str) -> dict[str, Any]:
    """`value[key]` when it is an object, else an empty one."""
    field = value.get(key)
    return field if isinstance(field, dict) else {}


def clip(line: str, limit: int = SUMMARY_CHARS) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


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


def bad_line_event(line: BadLine) -> AgentEvent:
    """A line that could not be read, shown as such (the raw file keeps it)."""
    return AgentEvent(
        AgentEventKind.UNKNOWN,
        f"line {line.number}: {line.reason}",
        is_error=True,
        line=line.number,
        detail={"problem": line.reason, "size": line.size},
    )


def unknown_event(kind: Any, line: int) -> AgentEvent:
    """A line of a type the parser does not know: skipped, never a failure."""
    return AgentEvent(
        AgentEventKind.UNKNOWN,
        f"{clip(str(kind))} line",
        line=line,
        detail={"type": kind if isinstance(kind, str) else None},
    )


def cwd_prefix(cwd: str | None) -> str | None:
    """`cwd` ending in one `/`, to cut from the paths a tool call names."""
    return cwd.rstrip("/") + "/" if cwd else None


def tool_summary(tool_input: Any, subject_key: str | None, cwd_prefix: str | None) -> str | None:
    """What a tool call works on, in one clipped line: the input field `subject_key` (else
    the first string field), with the agent's working directory (`cwd_prefix`, ending in
    `/`) left out; None when the input names nothing."""
    if not isinstance(tool_input, dict):
        return None
    subject = tool_input.get(subject_key) if subject_key else None
    if subject is None:
        subject = next((v for v in tool_input.values() if isinstance(v, str)), None)
    if subject is None:
        return None
    shown = str(subject)
    if cwd_prefix and shown.startswith(cwd_prefix):
        shown = shown[len(cwd_prefix) :]
    return clip(shown.splitlines()[0] if shown else shown)


def http_status_class(status: int) -> ErrorClass:
    """The error class of a model API's HTTP status."""
    fallback = ErrorClass.OVERLOADED if status >= 500 else ErrorClass.INVALID_REQUEST
    return _STATUS_CLASSES.get(status, fallback)


def stopped_message(limit: ErrorClass, note: str = "") -> str:
    """Why a call adw stopped (TIMEOUT or IDLE_TIMEOUT) ended; `note` follows the cause."""
    which = "whole-call" if limit is ErrorClass.TIMEOUT else "no-output"
    return f"stopped by the {which} timeout{note}; the process tree was killed"
