"""Live progress of runs on stderr: step, agent, last tool call, elapsed time, cost."""

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from adw_tui.cli.output import error_console
from adw_tui.config import Settings
from adw_tui.domain.agent import AgentEventKind
from adw_tui.domain.sanitize import safe_markup
from adw_tui.runtime.events import (
    AgentActivity,
    QueueChanged,
    RunChanged,
    RuntimeEvent,
    RunWaiting,
    StepFinished,
    StepStarted,
    TrackerFailed,
)
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store

STATUS_STYLES = {"succeeded": "green", "skipped": "dim", "rejected": "yellow", "failed": "red"}


@dataclass
class _RunLine:
    started: float = field(default_factory=time.monotonic)
    step: str = ""
    agent: str = ""
    last_tool: str = ""
    cost_usd: float = 0.0
    told_held_elsewhere: bool = False


class ProgressPrinter:
    """Prints one line per step start and end, and each tool call, per run."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._runs: dict[str, _RunLine] = {}

    def handle(self, event: RuntimeEvent) -> None:
        if isinstance(event, QueueChanged):
            self._report_held_elsewhere(event)
            return
        line = self._runs.setdefault(event.adw_id, _RunLine())
        prefix = f"[dim]{_elapsed(line)}[/] [bold]{event.adw_id}[/]"
        if isinstance(event, RunChanged):
            detail = f": {safe_markup(event.detail)}" if event.detail else ""
            self._print(f"{prefix} run {event.status}{detail}")
        elif isinstance(event, StepStarted):
            line.step, line.agent = event.step, event.agent or ""
            retry = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            agent = safe_markup(line.agent)
            self._print(f"{prefix} ▶ {safe_markup(event.step)} [dim]{agent}[/]{retry}")
        elif isinstance(event, StepFinished):
            line.cost_usd += event.cost_usd
            style = STATUS_STYLES.get(event.status, "")
            detail = f" [dim]{safe_markup(event.detail)}[/]" if event.detail else ""
            self._print(
                f"{prefix} [{style}]■ {safe_markup(event.step)} {event.status}[/]"
                f" [dim]${line.cost_usd:.4f}[/]{detail}"
            )
        elif isinstance(event, RunWaiting):
            self._print(
                f"{prefix} [yellow]⏸ {safe_markup(event.step)} waits {event.wait_s:.0f}s:[/]"
                f" [dim]{safe_markup(event.reason)}[/]"
            )
        elif isinstance(event, TrackerFailed):
            self._print(
                f"{prefix} [yellow]! the tracker's {safe_markup(event.action)} failed:[/]"
                f" [dim]{safe_markup(event.message)}[/]"
            )
        elif isinstance(event, AgentActivity) and event.event.kind is AgentEventKind.TOOL_USE:
            line.last_tool = f"{event.event.tool_name} {event.event.text}"
            self._print(f"{prefix}   [cyan]→ {safe_markup(line.last_tool)}[/]")

    def _report_held_elsewhere(self, event: QueueChanged) -> None:
        """One line when a run starts waiting for a slot other processes hold."""
        for adw_id in event.held_elsewhere:
            line = self._runs.setdefault(adw_id, _RunLine())
            if not line.told_held_elsewhere:
                line.told_held_elsewhere = True
                self._print(
                    f"[dim]{_elapsed(line)}[/] [bold]{adw_id}[/] [yellow]waits for a slot:[/] "
                    f"[dim]all {event.slots_total} (ADW_MAX_CONCURRENT) are taken, by other "
                    "adw processes on this database too[/]"
                )

    def _print(self, markup: str) -> None:
        self._console.print(markup, soft_wrap=True, highlight=False)


def _elapsed(line: _RunLine) -> str:
    seconds = int(time.monotonic() - line.started)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


@asynccontextmanager
async def live_orchestrator(
    store: Store,
    repo: Path,
    settings: Settings,
    *,
    before_close: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[Orchestrator]:
    """An orchestrator whose events are printed on stderr as they happen. SIGINT and
    SIGTERM let the running steps finish (up to the shutdown grace); on exit every run
    still going is stopped as `interrupted` and the printer stops with it. A signal
    first awaits `before_close` (a trigger closes its listener there), then closes.

    (Not a TaskGroup: it would wrap the caller's own errors in an ExceptionGroup.)"""
    printer = ProgressPrinter(error_console)
    async with Orchestrator(store, repo, settings) as orchestrator:

        async def print_events() -> None:
            async for event in orchestrator.subscribe():
                printer.handle(event)

        watcher = asyncio.create_task(print_events())
        closing: list[asyncio.Task[None]] = []

        def stop(name: str) -> None:
            if closing:
                return
            error_console.print(
                f"[yellow]{name}: finishing the running steps (up to "
                f"{settings.shutdown_grace:g}s), then stopping; interrupted runs resume with "
                "`adw recover`[/]"
            )
            closing.append(asyncio.create_task(close()))

        async def close() -> None:
            if before_close is not None:
                await before_close()
            await orchestrator.aclose(settings.shutdown_grace)

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop, sig.name)
        try:
            yield orchestrator
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            await orchestrator.aclose()  # the signalled close, if any, is this one
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def recover_and_report(orchestrator: Orchestrator, settings: Settings) -> list[str]:
    """Settle the runs a dead process left running, saying so on stderr, and resume them
    (or dead-letter them, per the settings), as every command that runs workflows does
    first; the adw_ids resumed."""
    from adw_tui.runtime.recovery import recover_at_start

    orphans, resumed = await recover_at_start(orchestrator, settings.recover_action)
    for orphan in orphans:
        error_console.print(
            f"[yellow]run {orphan.adw_id} was left running ({safe_markup(orphan.reason)}): "
            f"{settings.recover_action.replace('_', '-')}[/]"
        )
    return resumed
