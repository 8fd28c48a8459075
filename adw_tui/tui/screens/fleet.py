"""The fleet (`F`): the workers on the database, as `adw workers` lists them, and the
runs waiting for one; read again every two seconds.

A worker gone silent (no heartbeat for half a minute) is marked: its runs are taken over
by another worker once six heartbeats are missed (see `adw_tui.runtime.worker`).
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
from adw_tui.tui.screens.base import AdwScreen
from adw_tui.tui.widgets.key_footer import KeyFooter
from adw_tui.tui.widgets.row_table import RowTable

REFRESH_S = 2.0
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

- `r` reads them again (they are read every two seconds anyway); `escape` goes back.

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

    def on_mount(self) -> None:
        table = self.query_one(RowTable)
        table.border_title = "workers"
        table.focus()
        self.set_interval(REFRESH_S, self.reload)
        self.reload()

    def action_reload(self) -> None:
        self.reload()

    @work(exclusive=True, group="fleet")
    async def reload(self) -> None:
        workers = await self._store.fleet.workers()
        waiting = await self._store.fleet.queued()
        now = self._clock()
        self.query_one(RowTable).replace_rows(
            (worker.name, _cells(worker, now)) for worker in workers
        )
        silent = sum(worker.state(now) == "silent" for worker in workers)
        said = f"{len(workers)} workers, {silent} silent; {waiting} runs waiting for a worker"
        self.query_one("#fleet-summary", Static).update(Text(said))


def _cells(worker: WorkerRecord, now: datetime) -> tuple[Text, ...]:
    """The worker's figures made safe for the terminal, its state in its colour."""
    *cells, state = worker_figures(worker, now)
    return (*(Text(terminal_safe(cell)) for cell in cells), Text(state, style=STATE_STYLES[state]))
