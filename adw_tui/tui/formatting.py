"""How the dashboard's screens show statuses, times and titles, so every screen shows
them alike.

Styles are written with the theme's colour variables (`"bold $error"`), as in the
stylesheet: Textual's `Content` reads them as they are; rich `Text` (table cells, rich
tables, logs), which knows no theme, gets them through `theme_style`.
"""

import re
from collections.abc import Mapping
from datetime import timedelta

from rich.text import Text
from textual.content import Content

from adw_tui.domain.models import DeadLetterStatus, RunStatus
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.domain.steps import StepStatus

RUN_STATUS_STYLES = {
    RunStatus.QUEUED: "dim",
    RunStatus.RUNNING: "bold $accent",
    RunStatus.SUCCEEDED: "$success",
    RunStatus.FAILED: "bold $error",
    RunStatus.DEAD_LETTERED: "bold $secondary",
    RunStatus.CANCELLED: "$warning",
    RunStatus.INTERRUPTED: "$warning",
    RunStatus.PAUSED: "italic $warning",
}
STEP_STATUS_STYLES = {
    StepStatus.RUNNING: "bold $accent",
    StepStatus.SUCCEEDED: "$success",
    StepStatus.REJECTED: "$warning",
    StepStatus.FAILED: "bold $error",
    StepStatus.SKIPPED: "dim",
    StepStatus.PAUSED: "italic $warning",
}
LETTER_STATUS_STYLES = {
    DeadLetterStatus.PENDING: RUN_STATUS_STYLES[RunStatus.DEAD_LETTERED],
    DeadLetterStatus.REPLAYED: "$success",
    DeadLetterStatus.DROPPED: "dim",
}

_VARIABLE = re.compile(r"\$([a-z0-9-]+)")


def theme_style(style: str, variables: Mapping[str, str]) -> str:
    """`style` with each `$name` replaced by the theme's colour of that name (`variables`
    is `App.theme_variables`), for rich Text: `"bold $error"` -> `"bold #F06C75"`."""
    return _VARIABLE.sub(lambda match: variables[match[1]], style)


def theme_text(text: str, style: str, variables: Mapping[str, str]) -> Text:
    """`text` as rich Text in `style`, in the theme's colours (see `theme_style`).

    The style is a span over the text, not the Text's base style: `Text.__eq__` compares
    spans only, and the tables write a cell again only when it compares unequal, as it
    must once the theme changes."""
    return Text.styled(text, theme_style(style, variables))


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


def format_tokens(count: int) -> str:
    """A token count in at most five characters: `980`, `12.3k`, `4.5M`."""
    if count < 1000:
        return str(count)
    if count < 999_950:  # from there on, one decimal of k would round to 1000.0k
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"
