"""The dashboard: resource gauges, the runs table and one live agent pane per running run.

It reads the store's read API for what already exists, follows the runtime's events (the
app's `runtime_events` signal) for what happens here, and the store's change notices
(`Store.changes`: NOTIFY on PostgreSQL) for what other processes and hosts commit: a
burst of notices collects for `base.CHANGES_SETTLE_S`, then the runs named are read
again, a row each (or the window, for a new run), the panes following them are woken,
and the fleet's gauge reads the workers named (`FleetWatch`: a worker's heartbeat
notifies nobody; the gauge's clock marks a worker silent). Every `REFRESH_S` it also
reads what changed, in case a notice was missed. Agent output goes straight into each
pane's buffer (`AgentPane.push` is cheap; the panes are flushed on a timer), so a burst
of agent lines costs no widget write, and no message, per line.

A run another process executes (an `adw run` in another terminal, a worker on another
host) gets a pane too: its transcript file, or its chunks in the database, is followed
(`TranscriptFollower`) when a notice says the run moved, and every `TAIL_POLL_S`.

A PostgreSQL server that went away (a restart) stops no timer: the store waits for it
and reconnects (`store.reconnect`), the gauges say "database unreachable, reconnecting"
meanwhile (looked at every `DATABASE_CHECK_S`, without a query), a read that gave up is
one toast, and the next refresh reads again.

The table holds a window of the runs, newest first (`WindowedTable`: the rows around
the cursor, read by a paged query), not all of them: with ten thousand runs the first
frame took two seconds more (bench/tui_startup.py). Every `REFRESH_S` it asks the store
for the newest update time of any run and reads the window again only when that moved;
a run's runtime event rewrites its row alone. A refresh writes only the cells that
changed: a cell written narrower than before makes the DataTable measure its whole
column again, and rewriting every cell of a few thousand rows every `REFRESH_S` froze
the screen for seconds.
"""

import asyncio
import contextlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.theme import Theme
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import DataTable, Header, Static

from adw_tui.domain.breakers import Breaker, BreakerState
from adw_tui.domain.clock import Clock, start_of_day
from adw_tui.domain.errors import AdwError, StoreError
from adw_tui.domain.models import RunRecord, RunStatus
from adw_tui.runtime.budgets import budget_usd
from adw_tui.runtime.events import (
    AgentActivity,
    QueueChanged,
    RunChanged,
    RuntimeEvent,
    RunWaiting,
    ScoutChanged,
    StepFinished,
    StepStarted,
    TrackerFailed,
    WaitKind,
)
from adw_tui.store import Store
from adw_tui.store.changes import Change, ChangeKind
from adw_tui.store.leases import LeaseKind
from adw_tui.trackers.base import IssueTracker, RateLimited
from adw_tui.tui import heap
from adw_tui.tui.alerts import AlertKind
from adw_tui.tui.fleet_watch import FleetWatch
from adw_tui.tui.formatting import RUN_STATUS_STYLES, format_elapsed, theme_text
from adw_tui.tui.notify import notify_text
from adw_tui.tui.scout_panes import ScoutPanes
from adw_tui.tui.screens.base import AdwScreen, OpenRun, says_store_errors
from adw_tui.tui.waits import RunWaits
from adw_tui.tui.widgets.agent_pane import AgentPane
from adw_tui.tui.widgets.key_footer import KeyFooter
from adw_tui.tui.widgets.scout_pane import ScoutPane
from adw_tui.tui.widgets.trigger_line import TriggerActivity, TriggerLine
from adw_tui.tui.widgets.windowed_table import WindowedTable

# The runtime, and the agents' parsers a transcript is read with, are imported when first
# needed: the first frame shows the store's runs and waits for neither (tui.app).
if TYPE_CHECKING:
    from adw_tui.runtime.transcript_tail import TranscriptFollower
    from adw_tui.tui.app import AdwApp

Cells = tuple[str | Text, ...]

REFRESH_S = 2.0
DATABASE_CHECK_S = 0.5
TAIL_POLL_S = 0.25
RELOADS_AT_MOST = 20
"""Runs read again one by one after a batch of notices; more, and the window is read."""
# How long a finished run's pane stays on screen, so its last lines can be read.
PANE_LINGER_S = 8.0
# A pane needs about this many columns to be readable; the grid fits as many as it can.
PANE_MIN_WIDTH = 60
# The trigger line counts the deliveries of this long.
TRIGGER_WINDOW = timedelta(days=1)

COLUMNS = ("adw_id", "issue", "workflow", "step", "status", "waiting", "elapsed", "cost", "pr")
BREAKER_STYLES = {BreakerState.OPEN: "bold $error", BreakerState.HALF_OPEN: "$warning"}


@dataclass(frozen=True)
class Gauges:
    """What the gauges line shows."""

    slots_used: int = 0
    slots_total: int = 0
    queued: int = 0
    held_elsewhere: int = 0
    memory_percent: float | None = None
    breakers: tuple[Breaker, ...] = ()
    tracker_budget: tuple[str, str] | None = None
    """The tracker's name and its rate-limit gauge, for a tracker whose calls are metered."""
    spent_today: float = 0.0
    """US dollars the agent calls started today (UTC) cost, every run's."""
    daily_budget: float | None = None
    held_by_budget: bool = False
    fleet: tuple[int, int, int] | None = None
    """Workers working and gone silent, and runs waiting for one; None without a fleet."""


def elapsed(run: RunRecord, now: datetime) -> timedelta:
    """How long the run has taken: to its last update when it has ended, else to `now`."""
    end = run.updated_at if run.status.is_final else now
    return end - run.created_at


class ResourceGauges(Widget):
    """One line: slots used of the maximum, queued runs, system memory, breaker states."""

    gauges: reactive[Gauges] = reactive(Gauges)
    unreachable_since: reactive[datetime | None] = reactive(None)
    """Since when the database server has been away (None while it answers)."""

    def render(self) -> Content:
        if self.unreachable_since is not None:
            since = self.unreachable_since.astimezone()
            return Content.assemble(
                (f"database unreachable since {since:%H:%M:%S}, reconnecting", "bold $error")
            )
        gauges = self.gauges
        troubled = [b for b in gauges.breakers if b.state is not BreakerState.CLOSED]
        breakers = [
            Content.styled(f"{breaker.name} {breaker.state}", BREAKER_STYLES[breaker.state])
            for breaker in troubled
        ]
        return Content.assemble(
            ("slots ", "dim"),
            (f"{gauges.slots_used}/{gauges.slots_total}", "bold"),
            ("  queued ", "dim"),
            (str(gauges.queued), "bold"),
            (" (slots held by other processes)" if gauges.held_elsewhere else "", "$warning"),
            ("  mem ", "dim"),
            (
                "n/a" if gauges.memory_percent is None else f"{gauges.memory_percent:.0f}%",
                "bold",
            ),
            ("  breakers ", "dim"),
            Content(", ").join(breakers) if breakers else ("all closed", "$success"),
            *self._spend(),
            *self._budget(),
            *self._fleet(),
        )

    def _fleet(self) -> tuple[tuple[str, str], ...]:
        if self.gauges.fleet is None:
            return ()
        working, silent, waiting = self.gauges.fleet
        return (
            ("  fleet ", "dim"),
            (f"{working} worker{'s' if working != 1 else ''}", "bold"),
            (f", {silent} silent" if silent else "", "$error"),
            (f", {waiting} waiting", "bold"),
        )

    def _spend(self) -> tuple[tuple[str, str], ...]:
        """Today's spend, against the daily budget when there is one."""
        gauges = self.gauges
        if gauges.daily_budget is None:
            return (("  today ", "dim"), (f"${gauges.spent_today:.2f}", "bold"))
        style = "$error" if gauges.spent_today >= gauges.daily_budget else "bold"
        return (
            ("  today ", "dim"),
            (f"${gauges.spent_today:.2f} of ${gauges.daily_budget:.2f}", style),
            (" (new runs wait)" if gauges.held_by_budget else "", "$warning"),
        )

    def _budget(self) -> tuple[tuple[str, str], ...]:
        if self.gauges.tracker_budget is None:
            return ()
        name, gauge = self.gauges.tracker_budget
        return ((f"  {name} ", "dim"), (gauge, "$warning" if "waiting" in gauge else "bold"))


def _tracker_budget(tracker: IssueTracker) -> tuple[str, str] | None:
    if not isinstance(tracker, RateLimited):
        return None
    gauge = tracker.rate_limit_gauge()
    return None if gauge is None else (tracker.name, gauge)


class RunListing:
    """Every run, newest first (a `Listing`)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def marker(self) -> str | None:
        return await self._store.runs_marker()

    async def count(self) -> int:
        return await self._store.count_runs()

    async def rows(self, offset: int, limit: int) -> list[RunRecord]:
        return await self._store.runs_window(offset=offset, limit=limit)

    def key(self, run: RunRecord) -> str:
        return run.adw_id


class RunTable(WindowedTable[RunRecord]):
    """The runs, newest first."""


class Dashboard(AdwScreen):
    """Every run at a glance, and the agents of the running ones, live."""

    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("r", "refresh_runs", "Refresh", id="dashboard.refresh"),
        Binding("m", "toggle_maximize", "Maximise pane", id="dashboard.maximize"),
    ]

    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(id="dashboard")
        self._store = store
        self._clock = clock
        self._listing = RunListing(store)
        self._panes: dict[str, AgentPane] = {}
        self._followers: dict[str, TranscriptFollower] = {}
        """Runs other processes execute, followed through their transcript files."""
        self._ended: list[TranscriptFollower] = []
        """Followed runs that ended: polled once more for their last lines."""
        self._tails_due = asyncio.Event()
        """Set when a notice says a followed run moved: its tail is read at once."""
        self._fleet = FleetWatch(store, clock)
        """The workers and the runs waiting for one, for the fleet's gauge."""
        self._pane_removals: dict[str, Timer] = {}
        self._waits = RunWaits(clock)
        """Why this process's runs wait, from the runtime's events."""
        self._scouts = ScoutPanes(lambda: self.query_one("#panes", Grid))
        """A pane per scout of the runs' scout steps, beside the run's own."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield ResourceGauges(id="gauges", classes="bar")
        yield TriggerLine(id="triggers", classes="bar")
        yield RunTable(
            ((column, column) for column in COLUMNS),
            self._listing,
            self._cells_of,
            id="runs",
            classes="framed",
        )
        with VerticalScroll(id="panes-scroll"):
            yield Static("No agent is running here. Press n to launch a run.", id="no-panes")
            yield Grid(id="panes")
        yield KeyFooter()

    async def on_mount(self) -> None:
        self._table.border_title = "runs"
        self.follow(self.runtime_events, self._runtime_event, immediate=True)
        self.follow(self.app.theme_changed_signal, self._restyle)
        await self.refresh_runs()
        self.set_interval(REFRESH_S, self.refresh_runs, name="dashboard-refresh")
        self.set_interval(DATABASE_CHECK_S, self._show_database, name="dashboard-database")
        self.run_worker(
            self._follow_other_processes(), name="transcript-tails", exit_on_error=False
        )
        self.follow_changes(self._store, self._changed)
        # Once the dashboard is up, start-up's objects are there for good (heap.py).
        self.set_timer(heap.FREEZE_AFTER_S, heap.freeze)

    def on_unmount(self) -> None:
        heap.thaw()

    def on_resize(self) -> None:
        columns = max(1, self.size.width // PANE_MIN_WIDTH)
        self.query_one("#panes", Grid).styles.grid_size_columns = columns

    @property
    def _app(self) -> "AdwApp":
        return cast("AdwApp", self.app)

    # Reading the store

    @says_store_errors
    async def refresh_runs(self, *, force: bool = False) -> None:
        """The window of runs read again when a run changed (or with `force`), and the
        runs other processes execute followed; else the elapsed times move on. The gauges
        are read again either way. A database that stayed away is said in a toast; the
        next refresh tries again."""
        table = self._table
        if await table.refresh_rows(force=force):
            running = self._store.newest_runs(status=RunStatus.RUNNING)
            await self._follow_elsewhere([run async for run in running])
        else:
            table.redraw()
        await self._refresh_gauges(read_fleet=force)

    def _show_database(self) -> None:
        self.query_one(ResourceGauges).unreachable_since = self._store.unreachable_since

    async def _refresh_gauges(self, *, read_fleet: bool = False) -> None:
        """The gauges read again; the fleet's only when due (`FleetWatch.due`) or
        `read_fleet` (a RESYNC, `r`): else its notices keep it current."""
        if read_fleet or self._fleet.due(self._clock()):
            await self._fleet.read()
        self.query_one(ResourceGauges).gauges = replace(
            self._runtime_gauges(),
            breakers=tuple(await self._store.breakers.list()),
            spent_today=await self._store.spent_since(start_of_day(self._clock())),
            daily_budget=await budget_usd(self._store, self._app.settings, "daily"),
            fleet=self._fleet.gauge(self._clock()),
        )
        since = (self._clock() - TRIGGER_WINDOW).isoformat()
        self.query_one(TriggerLine).activity = TriggerActivity(
            tuple(lease.adw_id for lease in await self._store.leases.live(LeaseKind.TRIGGER)),
            await self._store.deliveries.summary(since),
        )

    def _runtime_gauges(self) -> Gauges:
        """What this process's runtime says: its slots, queue, memory and tracker; before
        the orchestrator is made (the first frame), a runtime that holds no slot."""
        runtime = self._app.orchestrator_made
        if runtime is None:
            return Gauges(slots_total=self._app.settings.max_concurrent)
        snapshot = runtime.resources.snapshot()
        return Gauges(
            slots_used=snapshot.slots_used,
            slots_total=snapshot.slots_total,
            queued=len(snapshot.queued),
            held_elsewhere=len(snapshot.waiting_for_other_processes),
            memory_percent=snapshot.memory_percent,
            tracker_budget=_tracker_budget(runtime.tracker),
            held_by_budget=bool(snapshot.waiting_for_budget),
        )

    async def _changed(self, batch: list[Change]) -> None:
        """The runs a batch of notices names read again (their rows, their following),
        and the tails of followed runs woken; too many runs to read one by one, and
        they are read as on a refresh; after a RESYNC, as on `r`."""
        runs = list(dict.fromkeys(c.adw_id for c in batch if c.kind is ChangeKind.RUN and c.adw_id))
        resync = any(c.kind is ChangeKind.RESYNC for c in batch)
        if resync or len(runs) > RELOADS_AT_MOST:
            await self.refresh_runs(force=resync)
        else:
            for adw_id in runs:
                run = await self._reload_run(adw_id)
                if run is not None:
                    self._follow_run(run)
        if any(change.adw_id in self._followers for change in batch):
            self._tails_due.set()
        if not resync and await self._fleet.changed(batch):
            self._show_fleet()

    def _show_fleet(self) -> None:
        """The fleet's gauge alone, as last read."""
        gauges = self.query_one(ResourceGauges)
        gauges.gauges = replace(gauges.gauges, fleet=self._fleet.gauge(self._clock()))

    async def _reload_run(self, adw_id: str) -> RunRecord | None:
        """The run's row written again; a run the window does not hold (a new one, at
        the top) reads the window."""
        try:
            run = await self._store.get_run(adw_id)
        except AdwError:
            return None
        if not self._table.update_row(run):
            await self._table.refresh_rows()
        return run

    # Runtime events

    def _runtime_event(self, event: RuntimeEvent) -> None:
        """One runtime event, as it is published (subscribed `immediate`: agent lines come
        by the thousand, too many for a message each). What shows at once is done here: a
        pane's buffer, a pane's title, the gauges; what the store has to say is read next,
        in the order the events came."""
        for adw_id in self._waits.handle(event):
            self._show_wait(adw_id)
        if isinstance(event, AgentActivity):
            pane = self._scouts.get(event.adw_id, event.agent) or self._panes.get(event.adw_id)
            if pane is not None:
                pane.push(event.event)
        elif isinstance(event, ScoutChanged):
            run_pane = self._ensure_pane(event.adw_id)
            run_pane.set_title(event.adw_id, event.step, "scouts")
            self._scouts.changed(event, run_pane)
        elif isinstance(event, StepStarted):
            if self._scouts.get(event.adw_id, event.agent) is None:  # not a scout's start
                self._scouts.remove_run(event.adw_id)
                self._ensure_pane(event.adw_id).set_title(event.adw_id, event.step, event.agent)
            self.call_next(self._reload_run, event.adw_id)
        elif isinstance(event, StepFinished):
            self.call_next(self._reload_run, event.adw_id)
        elif isinstance(event, RunChanged):
            if event.status is RunStatus.RUNNING:
                self._ensure_pane(event.adw_id)
            elif event.status.is_final:
                self._schedule_pane_removal(event.adw_id)
            elif event.status is RunStatus.PAUSED and event.adw_id in self._panes:
                self._panes[event.adw_id].border_subtitle = "paused: p resumes it"
            self.call_next(self._run_changed, event)
        elif isinstance(event, QueueChanged):
            gauges = self.query_one(ResourceGauges)
            gauges.gauges = replace(
                gauges.gauges,
                queued=len(event.queued),
                slots_used=len(event.running),
                slots_total=event.slots_total,
                held_elsewhere=len(event.held_elsewhere),
            )
        elif isinstance(event, RunWaiting) and event.kind is WaitKind.BREAKER:
            message = f"{event.adw_id} {event.step} waits {event.wait_s:.0f}s: {event.reason}"
            notify_text(self, message, title="run waiting", severity="warning")
            self.alerts.waiting(event.adw_id, event.step, "run waiting", message)
        elif isinstance(event, TrackerFailed):
            notify_text(
                self,
                f"{event.adw_id}: {event.message}",
                title=f"tracker {event.action} failed",
                severity="warning",
            )

    async def _run_changed(self, event: RunChanged) -> None:
        """The run's row read again; an ending said in a notification."""
        run = await self._reload_run(event.adw_id)
        label = event.adw_id if run is None else f"{event.adw_id} (#{run.issue} {run.workflow})"
        detail = f": {event.detail}" if event.detail else ""
        if event.status is RunStatus.SUCCEEDED:
            self._tell(AlertKind.SUCCEEDED, "run succeeded", f"{label} succeeded")
        elif event.status is RunStatus.FAILED:
            self._tell(AlertKind.FAILED, "run failed", f"{label} failed{detail}")
        elif event.status is RunStatus.DEAD_LETTERED:
            if not event.detail:
                detail = await self._dead_letter_reason(event.adw_id)
            message = f"{label} is a dead letter{detail}"
            self._tell(AlertKind.DEAD_LETTER, "run dead-lettered", message)
        elif event.status is RunStatus.PAUSED:
            # No toast: `p` says so already; a pause from elsewhere shows in the table.
            step = run.current_step if run is not None else None
            message = f"{label} paused in step {step or '?'}: p resumes it"
            self.alerts.alert(AlertKind.WAITING, "run paused", message)

    def _tell(self, kind: AlertKind, title: str, message: str) -> None:
        """A run's ending: a toast, and the terminal's alerts."""
        severity: SeverityLevel = "information" if kind is AlertKind.SUCCEEDED else "error"
        notify_text(self, message, title=title, severity=severity)
        self.alerts.alert(kind, title, message)

    async def _dead_letter_reason(self, adw_id: str) -> str:
        """What the run's newest pending dead letter says: error class, step, message."""
        letter = await self._store.dead_letters.pending_for(adw_id)
        if letter is None:
            return ""
        return f": {letter.error_class} at {letter.step}: {letter.error_message}"

    def _show_wait(self, adw_id: str) -> None:
        """The run's row and pane say what it waits for now (or that it no longer does)."""
        row = self._table.row_of(adw_id)
        if row is not None:
            self._table.update_row(row)
        pane = self._panes.get(adw_id)
        wait = self._waits.get(adw_id)
        if pane is not None and wait is None:
            pane.border_subtitle = ""
        elif pane is not None and wait is not None:
            since = wait.since.astimezone()
            pane.border_subtitle = f"waits since {since:%H:%M:%S}: {wait.reason}"

    # Runs other processes execute

    async def _follow_elsewhere(self, running: list[RunRecord]) -> None:
        """Follow the `running` runs another process is executing; stop following those
        that no longer run."""
        elsewhere = {run.adw_id for run in running if self._runs_elsewhere(run)}
        for adw_id in elsewhere - set(self._followers):
            self._start_following(adw_id)
        for adw_id in set(self._followers) - elsewhere:
            self._stop_following(adw_id)

    def _follow_run(self, run: RunRecord) -> None:
        """Follow `run` if it runs elsewhere now; stop when it no longer does."""
        elsewhere = run.status is RunStatus.RUNNING and self._runs_elsewhere(run)
        if elsewhere and run.adw_id not in self._followers:
            self._start_following(run.adw_id)
        elif not elsewhere and run.adw_id in self._followers:
            self._stop_following(run.adw_id)

    def _runs_elsewhere(self, run: RunRecord) -> bool:
        """Whether another process executes `run` (before this one's orchestrator is
        made, this process executes none)."""
        runtime = self._app.orchestrator_made
        return run.owner is not None and (runtime is None or run.owner != runtime.owner)

    def _start_following(self, adw_id: str) -> None:
        from adw_tui.runtime.transcript_tail import TranscriptFollower

        self._followers[adw_id] = TranscriptFollower(self._store, adw_id, self._transcript_path)
        self._ensure_pane(adw_id)

    def _transcript_path(self, adw_id: str, agent: str) -> Path:
        return self._app.orchestrator.transcript_path(adw_id, agent)

    def _stop_following(self, adw_id: str) -> None:
        self._ended.append(self._followers.pop(adw_id))
        self._tails_due.set()

    async def _follow_other_processes(self) -> None:
        """Read the followed transcripts into their panes when a notice wakes it, and
        every `TAIL_POLL_S`, for as long as the screen lives."""
        while True:
            self._tails_due.clear()
            ended, self._ended = self._ended, []
            for follower in [*self._followers.values(), *ended]:
                try:
                    events = await follower.poll()
                except StoreError:  # the database stayed away: the gauges say so
                    continue
                pane = self._panes.get(follower.adw_id)
                if pane is None:
                    continue
                for event in events:
                    pane.push(event)
                attempt = follower.attempt
                if attempt is not None:
                    pane.set_title(follower.adw_id, attempt.step, attempt.agent)
            for follower in ended:
                self._schedule_pane_removal(follower.adw_id)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TAIL_POLL_S):
                    await self._tails_due.wait()

    # Panes

    def _ensure_pane(self, adw_id: str) -> AgentPane:
        """The run's pane, added if there is none (it takes agent lines before it is
        mounted), kept if it was about to go."""
        removal = self._pane_removals.pop(adw_id, None)
        if removal is not None:
            removal.stop()
        pane = self._panes.get(adw_id)
        if pane is None:
            pane = AgentPane(adw_id, id=f"pane-{adw_id}")
            self._panes[adw_id] = pane
            self.query_one("#panes", Grid).mount(pane)
            self.set_class(True, "-with-panes")
        return pane

    def _schedule_pane_removal(self, adw_id: str) -> None:
        if adw_id not in self._panes or adw_id in self._pane_removals:
            return

        async def remove() -> None:
            self._pane_removals.pop(adw_id, None)
            self._scouts.remove_run(adw_id)
            pane = self._panes.pop(adw_id, None)
            if pane is not None:
                if self.maximized is pane:
                    self.minimize()
                await pane.remove()
            self.set_class(bool(self._panes), "-with-panes")

        self._pane_removals[adw_id] = self.set_timer(PANE_LINGER_S, remove)

    @property
    def panes(self) -> dict[str, AgentPane]:
        """The panes on screen by adw_id (a copy)."""
        return dict(self._panes)

    def scout_panes(self, adw_id: str) -> list[ScoutPane]:
        """The scout panes of run `adw_id`, in the order its scouts started."""
        return self._scouts.of_run(adw_id)

    @property
    def selected_run(self) -> str | None:
        """The adw_id of the runs table's cursor row, or None when the table is empty."""
        return self._table.cursor_key

    @on(DataTable.RowSelected, "#runs")
    def _open_run(self, event: DataTable.RowSelected) -> None:
        """`enter` or a click on a row opens that run."""
        if event.row_key.value is not None:
            self.post_message(OpenRun(event.row_key.value))

    # The table

    @property
    def _table(self) -> RunTable:
        return self.query_one("#runs", RunTable)

    def _restyle(self, _theme: Theme) -> None:
        """The statuses in the new theme's colours (a rich Text holds colours, not the
        theme's variables)."""
        self._table.redraw()

    def _cells_of(self, run: RunRecord) -> Cells:
        return (
            run.adw_id,
            f"#{run.issue}" if run.issue else "",
            run.workflow,
            run.current_step or "",
            theme_text(str(run.status), RUN_STATUS_STYLES[run.status], self.app.theme_variables),
            self._waits.cell(run, self._clock()),
            format_elapsed(elapsed(run, self._clock())),
            f"${run.cost_usd:.4f}",
            f"#{run.pr_number}" if run.pr_number else "",
        )

    # Actions

    async def action_refresh_runs(self) -> None:
        await self.refresh_runs(force=True)
        notify_text(self, "runs reloaded", timeout=1.5)

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
            notify_text(self, "no agent pane to maximise", severity="warning", timeout=2)
            return
        self.maximize(target, container=False)
