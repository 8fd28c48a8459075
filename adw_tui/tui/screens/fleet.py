"""The fleet (`F`): the workers on the database, as `adw workers` lists them, and the
runs waiting for one; live on any host: the store's change notices say which worker
registered, stopped or moved, and which runs moved (`FleetWatch`).

A worker's heartbeat age is drawn by this screen's clock from the heartbeat last read
(a heartbeat notifies nobody; the workers are read whole every `FALLBACK_S`): every
`TICK_S` the ages and states alone are drawn again, without a read, and a worker is
marked silent as soon as its age passes half a minute (see `FleetWatch`). Its runs are
taken over by another worker once six heartbeats are missed (see
`adw_tui.runtime.worker`).
"""

from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Header, Static

from adw_tui.domain.clock import Clock, utc_now
from adw_tui.domain.fleet import WORKER_COLUMNS, WorkerRecord, worker_figures
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.store import Store
from adw_tui.store.changes import Change
from adw_tui.tui.fleet_watch import FALLBACK_S, FleetWatch
from adw_tui.tui.screens.base import AdwScreen, says_store_errors
from adw_tui.tui.widgets.key_footer import KeyFooter
from adw_tui.tui.widgets.row_table import RowTable

TICK_S = 1.0
"""How often the heartbeats' ages and the silent marks move on (no read)."""
AGE_COLUMNS = ("heartbeat", "state")
"""The cells a tick draws again: the ones that move with the clock alone."""
STATE_STYLES = {"working": "green", "silent": "bold red", "stopped": "dim"}


class FleetScreen(AdwScreen):
    """Every worker that registered on the database, newest heartbeat first."""

    HELP = """\
## Fleet

The workers (`adw worker`) on this database, on any host: name, host, slots, runs in
hand, the engines and labels they take, their last heartbeat, their host's memory, and
whether they are working, silent (no heartbeat for 30 s: a worker that died; its runs
are taken over after six missed heartbeats) or stopped. Below: how many runs queued for
the fleet (`adw run --enqueue`, or `ADW_FLEET`) wait for a worker.

- `r` reads them again (they follow the database live anyway); `escape` goes back.

From a shell: `adw workers` (`--json` for scripts).
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="fleet.back"),
        Binding("r", "reload", "Reload", id="fleet.reload"),
    ]

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        super().__init__(id="fleet")
        self._store = store
        self._clock = clock
        self._fleet = FleetWatch(store, clock)
        self.sub_title = "fleet"

    def compose(self) -> ComposeResult:
        yield Header()
        yield RowTable[Text](
            tuple((column, column) for column in WORKER_COLUMNS),
            id="fleet-workers",
            classes="framed",
        )
        yield Static(id="fleet-summary", classes="bar")
        yield KeyFooter()

    async def on_mount(self) -> None:
        table = self.query_one(RowTable)
        table.border_title = "workers"
        table.focus()
        await self._read()
        self.follow_changes(self._store, self._changed)
        self.set_interval(TICK_S, self._tick, name="fleet-tick")
        self.set_interval(FALLBACK_S, self.reload, name="fleet-fallback")

    def action_reload(self) -> None:
        self.reload()

    @work(exclusive=True, group="fleet")
    async def reload(self) -> None:
        await self._read()

    @says_store_errors
    async def _read(self) -> None:
        """The workers and the runs waiting, read whole."""
        await self._fleet.read()
        self._show()

    def _tick(self) -> None:
        """The heartbeats' ages and the workers' states drawn again by the clock, from
        what was read: no read, no other cell."""
        now = self._clock()
        table = self.query_one(RowTable)
        for worker in self._fleet.workers:
            if worker.name not in table.rows:
                continue
            cells = dict(zip(WORKER_COLUMNS, _cells(worker, now), strict=True))
            for column in AGE_COLUMNS:
                table.update_cell(worker.name, column, cells[column], update_width=True)
        self._show_summary(now)

    async def _changed(self, batch: list[Change]) -> None:
        if await self._fleet.changed(batch):
            self._show()

    def _show(self) -> None:
        now = self._clock()
        self.query_one(RowTable).replace_rows(
            (worker.name, _cells(worker, now)) for worker in self._fleet.workers
        )
        self._show_summary(now)

    def _show_summary(self, now: datetime) -> None:
        workers = self._fleet.workers
        silent = sum(worker.state(now) == "silent" for worker in workers)
        waiting = self._fleet.waiting
        said = f"{len(workers)} workers, {silent} silent; {waiting} runs waiting for a worker"
        self.query_one("#fleet-summary", Static).update(Text(said))


def _cells(worker: WorkerRecord, now: datetime) -> tuple[Text, ...]:
    """The worker's figures made safe for the terminal, its state in its colour."""
    *cells, state = worker_figures(worker, now)
    return (*(Text(terminal_safe(cell)) for cell in cells), Text(state, style=STATE_STYLES[state]))
