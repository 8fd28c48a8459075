"""How the dashboard's screens show statuses and times, so every screen shows them alike."""

from datetime import timedelta

from adw_tui.domain.models import RunStatus
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


def format_elapsed(delta: timedelta) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on."""
    seconds = max(int(delta.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def format_tokens(count: int) -> str:
    """A token count in at most five characters: `980`, `12.3k`, `4.5M`."""
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"
