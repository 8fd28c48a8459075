"""How the dashboard's screens show statuses, times and titles, so every screen shows
them alike."""

from datetime import timedelta

from textual.content import Content

from adw_tui.domain.models import RunStatus
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.domain.steps import StepStatus

RUN_STATUS_STYLES = {
    RunStatus.QUEUED: "dim",
    RunStatus.RUNNING: "bold cyan",
    RunStatus.SUCCEEDED: "green",
    RunStatus.FAILED: "bold red",
    RunStatus.DEAD_LETTERED: "bold magenta",
    RunStatus.CANCELLED: "yellow",
    RunStatus.INTERRUPTED: "yellow",
}
STEP_STATUS_STYLES = {
    StepStatus.RUNNING: "bold cyan",
    StepStatus.SUCCEEDED: "green",
    StepStatus.REJECTED: "yellow",
    StepStatus.FAILED: "bold red",
    StepStatus.SKIPPED: "dim",
}


def plain_title(*parts: str | None) -> Content:
    """A border title of the parts that are set, joined by ` · `, as plain text: a step or
    agent name from a repository's workflow file, or a session id an agent printed, is
    shown as written, never read as markup (a `[@click=...]` in it is no action)."""
    return Content(terminal_safe(" · ".join(part for part in parts if part)))


def format_elapsed(delta: timedelta) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on."""
    seconds = max(int(delta.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def format_age(delta: timedelta) -> str:
    """How old something is, in its largest whole unit: `40s`, `52m`, `5h`, `3d`."""
    seconds = max(int(delta.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_tokens(count: int) -> str:
    """A token count in at most five characters: `980`, `12.3k`, `4.5M`."""
    if count < 1000:
        return str(count)
    if count < 999_950:  # from there on, one decimal of k would round to 1000.0k
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"
