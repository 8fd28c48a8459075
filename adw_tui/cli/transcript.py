"""A live, readable transcript of an agent call for the terminal.

The rendering itself lives in `adw_tui.agents.transcript`, shared with the TUI; its
markup names `Tone`s, which a terminal shows in the fixed colours of `PALETTE`.
"""

from rich.console import Console
from rich.theme import Theme

from adw_tui.agents.transcript import Tone, event_markup, result_markup
from adw_tui.domain.agent import AgentEvent, AgentResult

__all__ = ["PALETTE", "TranscriptPrinter", "event_markup", "result_markup"]

PALETTE = Theme(
    {
        Tone.MUTED: "dim",
        Tone.THINKING: "dim italic",
        Tone.TOOL: "cyan",
        Tone.WARNING: "yellow",
        Tone.FAILURE: "red",
        Tone.ERROR: "bold red",
        Tone.SUCCESS: "bold green",
    }
)


class TranscriptPrinter:
    """Prints events as they arrive on `console` (which learns the `PALETTE`'s tones)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        console.push_theme(PALETTE)

    def event(self, event: AgentEvent) -> None:
        markup = event_markup(event)
        if markup is not None:
            self._console.print(markup, soft_wrap=True)

    def result(self, result: AgentResult, run_dir: str) -> None:
        self._console.print(result_markup(result, run_dir), soft_wrap=True)
