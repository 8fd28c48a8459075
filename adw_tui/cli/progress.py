"""Live progress of runs on stderr: step, agent, last tool call, elapsed time, cost."""

import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape

from adw_tui.domain.agent import AgentEventKind
from adw_tui.runtime.events import (
    AgentActivity,
    QueueChanged,
    RunChanged,
    RuntimeEvent,
    StepFinished,
    StepStarted,
)

STATUS_STYLES = {"succeeded": "green", "skipped": "dim", "rejected": "yellow", "failed": "red"}


@dataclass
class _RunLine:
    started: float = field(default_factory=time.monotonic)
    step: str = ""
    agent: str = ""
    last_tool: str = ""
    cost_usd: float = 0.0


class ProgressPrinter:
    """Prints one line per step start and end, and each tool call, per run."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._runs: dict[str, _RunLine] = {}

    def handle(self, event: RuntimeEvent) -> None:
        if isinstance(event, QueueChanged):
            return
        line = self._runs.setdefault(event.adw_id, _RunLine())
        prefix = f"[dim]{_elapsed(line)}[/] [bold]{event.adw_id}[/]"
        if isinstance(event, RunChanged):
            detail = f": {escape(event.detail)}" if event.detail else ""
            self._print(f"{prefix} run {event.status}{detail}")
        elif isinstance(event, StepStarted):
            line.step, line.agent = event.step, event.agent or ""
            retry = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            self._print(f"{prefix} ▶ {escape(event.step)} [dim]{escape(line.agent)}[/]{retry}")
        elif isinstance(event, StepFinished):
            line.cost_usd += event.cost_usd
            style = STATUS_STYLES.get(event.status, "")
            detail = f" [dim]{escape(event.detail)}[/]" if event.detail else ""
            self._print(
                f"{prefix} [{style}]■ {escape(event.step)} {event.status}[/]"
                f" [dim]${line.cost_usd:.4f}[/]{detail}"
            )
        elif isinstance(event, AgentActivity) and event.event.kind is AgentEventKind.TOOL_USE:
            line.last_tool = f"{event.event.tool_name} {event.event.text}"
            self._print(f"{prefix}   [cyan]→ {escape(line.last_tool)}[/]")

    def _print(self, markup: str) -> None:
        self._console.print(markup, soft_wrap=True, highlight=False)


def _elapsed(line: _RunLine) -> str:
    seconds = int(time.monotonic() - line.started)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"
