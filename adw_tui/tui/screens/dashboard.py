"""The dashboard: resource gauges, the runs table and one live agent pane per running run.

It reads the store's read API for what already exists (and, every `REFRESH_S`, for runs
other processes started) and follows the orchestrator's events for what happens here.
Agent output goes straight into each pane's buffer (`AgentPane.push` is cheap; the pane
flushes itself on a timer), so a burst of agent lines costs no widget write per line.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Static

from adw_tui.domain.breakers import Breaker, BreakerState
from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import RunRecord, RunStatus
from adw_tui.runtime.events import (
    AgentActivity,
    QueueChanged,
    RunChanged,
    RuntimeEvent,
    RunWaiting,
    StepFinished,
    StepStarted,
)
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.widgets.agent_pane import AgentPane

Clock = Callable[[], datetime]

REFRESH_S = 2.0
# How long a finished run's pane stays on screen, so its last lines can be read.
PANE_LINGER_S = 8.0
# A pane needs about this many columns to be readable; the grid fits as many as it can.
PANE_MIN_WIDTH = 60

COLUMNS = ("adw_id", "issue", "workflow", "step", "status", "elapsed", "cost")
STATUS_STYLES = {
    RunStatus.QUEUED: "dim",
    RunStatus.RUNNING: "bold cyan",
    RunStatus.SUCCEEDED: "green",
    RunStatus.FAILED: "bold red",
    RunStatus.DEAD_LETTERED: "bold magenta",
    RunStatus.CANCELLED: "yellow",
    RunStatus.INTERRUPTED: "yellow",
}
BREAKER_STYLES = {BreakerState.OPEN: "bold red", BreakerState.HALF_OPEN: "yellow"}


@dataclass
class _Gauges:
    slots_used: int = 0
    slots_total: int = 0
    queued: int = 0
    memory_percent: float | None = None
    breakers: tuple[Breaker, ...] = ()


def format_elapsed(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def elapsed(run: RunRecord, now: datetime) -> timedelta:
    """How long the run has taken: to its last update when it has ended, else to `now`."""
    end = run.updated_at if run.status.is_final else now
    return end - run.created_at


class ResourceGauges(Static):
    """One line: slots used of the maximum, queued runs, system memory, breaker states."""

    def show(self, gauges: _Gauges) -> None:
        text = Text.assemble(
            ("slots ", "dim"),
            (f"{gauges.slots_used}/{gauges.slots_total}", "bold"),
            ("  queued ", "dim"),
            (str(gauges.queued), "bold"),
            ("  mem ", "dim"),
            (
                "n/a" if gauges.memory_percent is None else f"{gauges.memory_percent:.0f}%",
                "bold",
            ),
            ("  breakers ", "dim"),
        )
        troubled = [b for b in gauges.breakers if b.state is not BreakerState.CLOSED]
        if not troubled:
            text.append("all closed", "green")
        for index, breaker in enumerate(troubled):
            text.append(", " if index else "")
            text.append(f"{breaker.name} {breaker.state}", BREAKER_STYLES[breaker.state])
        self.update(text)


class Dashboard(Screen[None]):
    """Every run at a glance, and the agents of the running ones, live."""

    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("r", "refresh_runs", "Refresh", id="dashboard.refresh"),
        Binding("m", "toggle_maximize", "Maximise pane", id="dashboard.maximize"),
    ]

    def __init__(self, store: Store, orchestrator: Orchestrator, clock: Clock) -> None:
        super().__init__(id="dashboard")
        self._store = store
        self._orchestrator = orchestrator
        self._clock = clock
        self._runs: dict[str, RunRecord] = {}
        self._panes: dict[str, AgentPane] = {}
        self._pane_removals: dict[str, Timer] = {}
        self._gauges = _Gauges()

    def compose(self) -> ComposeResult:
        yield Header()
        yield ResourceGauges(id="gauges")
        table: DataTable[str | Text] = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        for column in COLUMNS:
            table.add_column(column, key=column)
        yield table
        with VerticalScroll(id="panes-scroll"):
            yield Static("No agent is running here. Press n to launch a run.", id="no-panes")
            yield Grid(id="panes")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#runs", DataTable).border_title = "runs"
        await self.refresh_runs()
        self.set_interval(REFRESH_S, self.refresh_runs, name="dashboard-refresh")

    def on_resize(self) -> None:
        columns = max(1, self.size.width // PANE_MIN_WIDTH)
        self.query_one("#panes", Grid).styles.grid_size_columns = columns

    # Reading the store

    async def refresh_runs(self) -> None:
        """Every run in the store, the gauges and the elapsed times, read again."""
        added = [self._show_run(run) for run in await self._store.list_runs()]
        if any(added):
            self._sort_rows()
        await self._refresh_gauges()

    async def _refresh_gauges(self) -> None:
        snapshot = self._orchestrator.resources.snapshot()
        self._gauges = _Gauges(
            slots_used=snapshot.slots_used,
            slots_total=snapshot.slots_total,
            queued=len(snapshot.queued),
            memory_percent=snapshot.memory_percent,
            breakers=tuple(await self._store.breakers.list()),
        )
        self.query_one(ResourceGauges).show(self._gauges)

    async def _reload_run(self, adw_id: str) -> RunRecord | None:
        try:
            run = await self._store.get_run(adw_id)
        except AdwError:
            return None
        if self._show_run(run):
            self._sort_rows()
        return run

    # Runtime events

    async def apply(self, event: RuntimeEvent) -> None:
        """Show one runtime event. Agent activity only touches a pane's buffer."""
        if isinstance(event, AgentActivity):
            pane = self._panes.get(event.adw_id)
            if pane is not None:
                pane.push(event.event)
        elif isinstance(event, StepStarted):
            pane = await self._ensure_pane(event.adw_id)
            pane.set_title(event.adw_id, event.step, event.agent or "")
            await self._reload_run(event.adw_id)
        elif isinstance(event, StepFinished):
            await self._reload_run(event.adw_id)
        elif isinstance(event, RunChanged):
            await self._run_changed(event)
        elif isinstance(event, QueueChanged):
            self._gauges.queued = len(event.queued)
            self._gauges.slots_used = len(event.running)
            self._gauges.slots_total = event.slots_total
            self.query_one(ResourceGauges).show(self._gauges)
        elif isinstance(event, RunWaiting):
            self.notify(
                f"{event.adw_id} {event.step} waits {event.wait_s:.0f}s: {event.reason}",
                title="run waiting",
                severity="warning",
            )

    async def _run_changed(self, event: RunChanged) -> None:
        run = await self._reload_run(event.adw_id)
        if event.status is RunStatus.RUNNING:
            await self._ensure_pane(event.adw_id)
        elif event.status.is_final:
            self._schedule_pane_removal(event.adw_id)
        label = event.adw_id if run is None else f"{event.adw_id} (#{run.issue} {run.workflow})"
        detail = f": {event.detail}" if event.detail else ""
        if event.status is RunStatus.SUCCEEDED:
            self.notify(f"{label} succeeded", title="run succeeded")
        elif event.status is RunStatus.FAILED:
            self.notify(f"{label} failed{detail}", title="run failed", severity="error")
        elif event.status is RunStatus.DEAD_LETTERED:
            if not event.detail:
                detail = await self._dead_letter_reason(event.adw_id)
            self.notify(
                f"{label} is a dead letter{detail}", title="run dead-lettered", severity="error"
            )

    async def _dead_letter_reason(self, adw_id: str) -> str:
        """What the run's newest pending dead letter says: error class, step, message."""
        pending = await self._store.dead_letters.list()
        letters = [letter for letter in pending if letter.adw_id == adw_id]
        if not letters:
            return ""
        letter = letters[-1]
        return f": {letter.error_class} at {letter.step}: {letter.error_message}"

    # Panes

    async def _ensure_pane(self, adw_id: str) -> AgentPane:
        removal = self._pane_removals.pop(adw_id, None)
        if removal is not None:
            removal.stop()
        pane = self._panes.get(adw_id)
        if pane is None:
            pane = AgentPane(adw_id, id=f"pane-{adw_id}")
            self._panes[adw_id] = pane
            self.query_one("#no-panes").display = False
            await self.query_one("#panes", Grid).mount(pane)
        return pane

    def _schedule_pane_removal(self, adw_id: str) -> None:
        if adw_id not in self._panes or adw_id in self._pane_removals:
            return

        async def remove() -> None:
            self._pane_removals.pop(adw_id, None)
            pane = self._panes.pop(adw_id, None)
            if pane is not None:
                if self.maximized is pane:
                    self.minimize()
                await pane.remove()
            self.query_one("#no-panes").display = not self._panes

        self._pane_removals[adw_id] = self.set_timer(PANE_LINGER_S, remove)

    @property
    def panes(self) -> dict[str, AgentPane]:
        """The panes on screen by adw_id (a copy)."""
        return dict(self._panes)

    def selected_run(self) -> str | None:
        """The adw_id of the runs table's cursor row, or None when the table is empty."""
        table: DataTable[str | Text] = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return None if row_key.value is None else str(row_key.value)

    # The table

    def _show_run(self, run: RunRecord) -> bool:
        """Add or update the run's row; True when the row is new."""
        table: DataTable[str | Text] = self.query_one("#runs", DataTable)
        cells = self._cells(run)
        if run.adw_id in self._runs:
            for column, value in zip(COLUMNS, cells, strict=True):
                table.update_cell(run.adw_id, column, value, update_width=True)
        else:
            table.add_row(*cells, key=run.adw_id)
        known = run.adw_id in self._runs
        self._runs[run.adw_id] = run
        return not known

    def _sort_rows(self) -> None:
        """Newest first: a run that shows up later (launched here or by another process)
        goes to its place by creation time."""
        self.query_one("#runs", DataTable).sort(
            "adw_id", key=lambda adw_id: self._runs[adw_id].created_at, reverse=True
        )

    def _cells(self, run: RunRecord) -> tuple[str | Text, ...]:
        return (
            run.adw_id,
            f"#{run.issue}" if run.issue else "",
            run.workflow,
            run.current_step or "",
            Text(str(run.status), STATUS_STYLES[run.status]),
            format_elapsed(elapsed(run, self._clock())),
            f"${run.cost_usd:.4f}",
        )

    # Actions

    async def action_refresh_runs(self) -> None:
        await self.refresh_runs()
        self.notify("runs reloaded", timeout=1.5)

    def action_toggle_maximize(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused
        in_focus = [focused, *focused.ancestors] if focused else []
        target = next(
            (node for node in in_focus if isinstance(node, AgentPane)),
            next(iter(self._panes.values()), None),
        )
        if target is None:
            self.notify("no agent pane to maximise", severity="warning", timeout=2)
            return
        self.maximize(target, container=False)
