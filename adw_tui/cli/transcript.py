"""A live, readable transcript of an agent call for the terminal.

The rendering itself lives in `adw_tui.agents.transcript`, shared with the TUI.
"""

from rich.console import Console

from adw_tui.agents.transcript import event_markup, result_markup
from adw_tui.domain.agent import AgentEvent, AgentResult

__all__ = ["TranscriptPrinter", "event_markup", "result_markup"]


class TranscriptPrinter:
    """Prints events as they arrive on `console`."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def event(self, event: AgentEvent) -> None:
        markup = event_markup(event)
        if markup is not None:
            self._console.print(markup, soft_wrap=True)

    def result(self, result: AgentResult, run_dir: str) -> None:
        self._console.print(result_markup(result, run_dir), soft_wrap=True)
