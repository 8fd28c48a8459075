"""The dead-letter queue: every dead letter, narrowed by error class, workflow and status;
the selected letter's error, stderr tail and request; replay and drop.

It shows a window of the letters the filters select (`WindowedTable`), read through the
store's indexed listing; every `REFRESH_S` it asks the store's change marker (the newest
letter, how many are pending) and reads the window again only when that moved, as it does
when a run here becomes a dead letter. It acts through the Orchestrator, the app's own: a
replayed run streams in the dashboard like any other.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Header, Select, Static

from adw_tui.domain.clock import Clock, utc_now
from adw_tui.domain.durations import format_age
from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import DeadLetter, DeadLetterFilter, DeadLetterStatus, RunStatus
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.runtime.events import RunChanged, RuntimeEvent
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.formatting import LETTER_STATUS_STYLES, theme_style, theme_text
from adw_tui.tui.notify import notify_text
from adw_tui.tui.replay import replay_letter
from adw_tui.tui.screens.base import AdwScreen, OpenRun, says_store_errors
from adw_tui.tui.widgets.confirm import Confirmation, ConfirmScreen
from adw_tui.tui.widgets.key_footer import KeyFooter
from adw_tui.tui.widgets.windowed_table import WindowedTable

REFRESH_S = 2.0

ALL_STATUSES = "all"
"""The status filter's value that shows letters of every status."""

COLUMNS = (
    ("id", "#"),
    ("run", "run"),
    ("workflow", "workflow"),
    ("step", "step"),
    ("error", "error class"),
    ("attempts", "attempts"),
    ("age", "age"),
    ("status", "status"),
)
"""(key, label) of the letter table's columns."""
REQUEST_FIELDS = (
    ("engine", "engine"),
    ("model", "model"),
    ("cwd", "cwd"),
    ("session_id", "session"),
)
"""(key, label) of the request's fields shown on one line each; the prompt comes last."""
FAILURE_FIELDS = ("stderr_tail", "exit_code")
"""Request keys that say how the call ended: shown with the error, not the request."""
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class DeadLetterFilters(Horizontal):
    """Three drop-downs: error class, workflow and status. Posts `Changed` with the
    selection whenever one of them changes."""

    HELP = """\
## Filters

Narrow the dead letters by **error class**, **workflow** and **status** (pending by
default; `all` shows every letter). The table follows at once. Open a filter with
`enter` or a click, pick with the arrow keys and `enter`; `tab` moves between them.
The error classes and workflows offered are those of the letters in the store.
"""

    class Changed(Message):
        def __init__(self, selection: DeadLetterFilter) -> None:
            super().__init__()
            self.selection = selection

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._offered: dict[str, list[str]] = {}
        """The values each drop-down offers, by selector, to leave it alone when they stay."""

    def compose(self) -> ComposeResult:
        yield Select[str]([], prompt="error class: any", id="dlq-error-class", compact=True)
        yield Select[str]([], prompt="workflow: any", id="dlq-workflow", compact=True)
        yield Select(
            [(f"status: {status}", str(status)) for status in DeadLetterStatus]
            + [(f"status: {ALL_STATUSES}", ALL_STATUSES)],
            value=DeadLetterStatus.PENDING.value,
            allow_blank=False,
            id="dlq-status",
            compact=True,
        )

    @property
    def selection(self) -> DeadLetterFilter:
        error_class = self.query_one("#dlq-error-class", Select).value
        workflow = self.query_one("#dlq-workflow", Select).value
        status = self.query_one("#dlq-status", Select).value
        return DeadLetterFilter(
            error_class=error_class if isinstance(error_class, str) else None,
            workflow=workflow if isinstance(workflow, str) else None,
            status=None if status == ALL_STATUSES else DeadLetterStatus(str(status)),
        )

    def offer(self, *, error_classes: Iterable[str], workflows: Iterable[str]) -> None:
        """The error classes and workflows to choose from; a choice made stays if it is
        still offered."""
        self._offer("#dlq-error-class", "error class", error_classes)
        self._offer("#dlq-workflow", "workflow", workflows)

    def _offer(self, selector: str, label: str, values: Iterable[str]) -> None:
        offered = sorted(set(values))
        if offered == self._offered.get(selector):
            return
        self._offered[selector] = offered
        select: Select[str] = self.query_one(selector, Select)
        chosen = select.value
        select.set_options([(f"{label}: {value}", value) for value in offered])
        if chosen in offered:
            select.value = chosen

    @on(Select.Changed)
    def _changed(self, event: Select.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self.selection))


class LetterListing:
    """The letters `selection` lets through, newest first (a `Listing`)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.selection = DeadLetterFilter(status=DeadLetterStatus.PENDING)
        self.pending = 0
        """How many letters were pending at the last `marker`."""

    async def marker(self) -> tuple[int, int]:
        marker = await self._store.dead_letters.marker()
        self.pending = marker[1]
        return marker

    async def count(self) -> int:
        return await self._store.dead_letters.count(self.selection)

    async def rows(self, offset: int, limit: int) -> list[DeadLetter]:
        letters = self._store.dead_letters.newest(self.selection, limit=limit, offset=offset)
        return [listed.letter async for listed in letters]

    def key(self, letter: DeadLetter) -> str:
        return str(letter.id)


class LetterTable(WindowedTable[DeadLetter]):
    """The dead letters the filters let through, newest first."""

    HELP = """\
## Dead letters

One row per dead letter, newest first: its number, the **run** it stopped, the
**workflow** and **step** that failed, the **error class**, how many **attempts** the
step made, its **age** and its **status** (pending letters can be replayed or dropped).
Select one with the arrow keys or a click: its detail shows below. `enter`, or a click
on the selected letter, opens its run.
"""


class LetterDetail(VerticalScroll):
    """Everything about one dead letter: its error, how the call ended, the request and
    its replays."""

    HELP = """\
## Detail

The selected dead letter: the **error** (class and message), the failed call's
**exit code** and **stderr tail**, the **request** that was sent (engine, model, working
directory, session id, prompt) and every **replay** of the letter. Scroll with the arrow
keys, `page up`/`page down` or the mouse wheel.
"""

    letter: reactive[DeadLetter | None] = reactive(None, always_update=True)
    """The letter shown; set again to draw it again (in a new theme's colours, say)."""

    def compose(self) -> ComposeResult:
        yield Static(id="dlq-detail-body")

    def watch_letter(self, letter: DeadLetter | None) -> None:
        body = self.query_one("#dlq-detail-body", Static)
        if letter is None:
            self.border_title = "detail"
            body.update(Text("No dead letter matches the filters.", "dim"))
            return
        self.border_title = f"dead letter {letter.id}"
        body.update(describe(letter, self.app.theme_variables))


def describe(letter: DeadLetter, variables: Mapping[str, str]) -> RenderableType:
    """The letter as label/value lines, in the order an operator reads them, in the
    theme's colours (`variables`: `App.theme_variables`)."""
    request = letter.request
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")

    def section(title: str) -> None:
        grid.add_row(Text(title, "bold underline"), "")

    def value(raw: Any) -> Text:
        if raw is None or raw == "":
            return Text("not recorded", "dim")
        shown = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
        return Text(terminal_safe(shown))

    section("failure")
    grid.add_row(
        "error",
        Text.assemble(
            theme_text(terminal_safe(letter.error_class), "bold $error", variables),
            f": {terminal_safe(letter.error_message)}",
        ),
    )
    where = f"{letter.adw_id} · {letter.workflow} · step {letter.step or '?'}"
    grid.add_row("run", Text(terminal_safe(where)))
    grid.add_row(
        "status", Text(letter.status, theme_style(LETTER_STATUS_STYLES[letter.status], variables))
    )
    grid.add_row("failed at", letter.created_at.strftime(TIME_FORMAT))
    grid.add_row("attempts", str(letter.attempts))
    grid.add_row("state", f"version {letter.state_version}")
    grid.add_row("exit code", value(request.get("exit_code")))
    grid.add_row("stderr tail", value(str(request.get("stderr_tail") or "").rstrip()))
    section("request")
    for key, label in REQUEST_FIELDS:
        grid.add_row(label, value(request.get(key)))
    shown = {key for key, _ in REQUEST_FIELDS} | {"prompt", *FAILURE_FIELDS}
    for key in sorted(set(request) - shown):
        grid.add_row(key, value(request[key]))
    grid.add_row("prompt", value(request.get("prompt")))
    section("replays")
    if not letter.replays:
        grid.add_row("", Text("none", "dim"))
    for replay in letter.replays:
        grid.add_row(
            f"replay {replay.id}",
            f"{replay.replayed_at.strftime(TIME_FORMAT)} from {replay.from_step} "
            f"(state version {replay.state_version}) by {replay.actor}",
        )
    return grid


class DeadLettersScreen(AdwScreen):
    """The dead-letter queue, its filters, and replay and drop."""

    HELP = """\
## Dead letters

Runs that failed for good (retries exhausted, a permanent error, a refused call), kept
with what is needed to run them again.

- `r` replays the selected letter from the step that failed, with the state it failed
  with; `R` replays it from the start, with the run's first state. Either way the run
  keeps its id, branch and worktree, starts a new attempt and streams in the dashboard.
- `A` replays every **pending** letter the filters show (it asks first).
- `x` drops the selected letter (it asks first): it leaves the queue but is kept, with
  status dropped.
- `enter` (or a click on the selected letter) opens its run: the steps, and the
  transcript of the try that failed; `h` its state history.
- `escape` goes back.
"""

    AUTO_FOCUS = "#dlq-letters"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="dlq.back"),
        Binding("r", "replay", "Replay", id="dlq.replay"),
        Binding("R", "replay_from_start", "From start", id="dlq.replay_from_start"),
        Binding("A", "replay_all", "Replay all", id="dlq.replay_all"),
        Binding("x", "drop", "Drop", id="dlq.drop"),
    ]

    def __init__(
        self,
        store: Store,
        orchestrator: Orchestrator,
        *,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(id="dead-letters")
        self._store = store
        self._orchestrator = orchestrator
        self._clock = clock
        self._listing = LetterListing(store)
        self.sub_title = "dead letters"

    def compose(self) -> ComposeResult:
        yield Header()
        yield DeadLetterFilters(id="dlq-filters", classes="bar")
        yield LetterTable(COLUMNS, self._listing, self._cells, id="dlq-letters", classes="framed")
        yield LetterDetail(id="dlq-detail", classes="detail")
        yield KeyFooter()

    async def on_mount(self) -> None:
        # The rows again in a new theme's colours (a rich Text holds colours).
        self.follow(self.app.theme_changed_signal, lambda _theme: self._table.redraw())
        self.follow(self.runtime_events, self._runtime_event, immediate=True)
        await self.reload(restart=True)
        self.set_interval(REFRESH_S, self.reload, name="dlq-refresh")

    @property
    def _table(self) -> LetterTable:
        return self.query_one(LetterTable)

    @property
    def selected(self) -> DeadLetter | None:
        """The letter under the table's cursor."""
        return self._table.cursor_item

    @property
    def selected_run(self) -> str | None:
        """The selected letter's run."""
        letter = self.selected
        return letter.adw_id if letter is not None else None

    @property
    def shown(self) -> list[DeadLetter]:
        """The letters of the table's window, in its order."""
        return self._table.shown

    @says_store_errors
    async def reload(self, *, restart: bool = False) -> None:
        """Read the window of letters again if the store's letters changed (`restart`:
        from the top, whatever changed), and the filters' choices with it; else only
        the ages move on."""
        table = self._table
        if not await table.refresh_rows(restart=restart):
            table.redraw()
            return
        error_classes, workflows = await self._store.dead_letters.offered()
        self.query_one(DeadLetterFilters).offer(error_classes=error_classes, workflows=workflows)
        table.border_title = (
            f"dead letters: {table.total:,} shown, {self._listing.pending:,} pending"
        )
        self._show_detail()

    def _runtime_event(self, event: RuntimeEvent) -> None:
        """A run of this dashboard that became a dead letter shows at once."""
        if isinstance(event, RunChanged) and event.status is RunStatus.DEAD_LETTERED:
            self.call_next(self.reload)

    # The table and the detail

    @on(DeadLetterFilters.Changed)
    async def _filters_changed(self, event: DeadLetterFilters.Changed) -> None:
        self._listing.selection = event.selection
        await self.reload(restart=True)

    def _cells(self, letter: DeadLetter) -> tuple[Text, ...]:
        return (
            Text(str(letter.id)),
            Text(letter.adw_id),
            Text(terminal_safe(letter.workflow)),
            Text(terminal_safe(letter.step or "")),
            Text(terminal_safe(letter.error_class), "bold"),
            Text(str(letter.attempts)),
            Text(format_age(self._clock() - letter.created_at)),
            theme_text(
                letter.status, LETTER_STATUS_STYLES[letter.status], self.app.theme_variables
            ),
        )

    @on(DataTable.RowHighlighted)
    def _show_detail(self) -> None:
        self.query_one(LetterDetail).letter = self.selected

    @on(DataTable.RowSelected)
    def _open_run(self) -> None:
        """`enter` (or a click on the selected row): the letter's run in detail, with the
        transcript of the try that failed."""
        letter = self.selected
        if letter is not None:
            self.post_message(OpenRun(letter.adw_id))

    # Actions

    async def action_replay(self) -> None:
        await self._replay(from_start=False)

    async def action_replay_from_start(self) -> None:
        await self._replay(from_start=True)

    async def _replay(self, *, from_start: bool) -> None:
        letter = self._selected_or_say()
        if letter is not None:
            await replay_letter(self.app, self._orchestrator, letter.id, from_start=from_start)
            await self.reload()

    @says_store_errors
    async def action_replay_all(self) -> None:
        selection = self._listing.selection
        pending = 0
        if selection.status in (None, DeadLetterStatus.PENDING):
            pending = await self._store.dead_letters.count(
                selection.model_copy(update={"status": DeadLetterStatus.PENDING})
            )
        if not pending:
            notify_text(
                self, "no pending dead letter is shown: nothing to replay", severity="warning"
            )
            return
        question = (
            f"Replay {_count(pending, 'pending dead letter')} "
            f"({_describe_selection(selection)}) from the steps that failed? "
            "Each run starts a new attempt."
        )

        async def replay_all(confirmation: Confirmation | None) -> None:
            if confirmation is not None:
                await self._replay_all(selection)

        self.app.push_screen(
            ConfirmScreen("Replay dead letters", question, confirm_label="Replay all"), replay_all
        )

    async def _replay_all(self, selection: DeadLetterFilter) -> None:
        try:
            letters = await self._orchestrator.replay_all(selection)
        except AdwError as error:
            await self.reload()
            notify_text(self, str(error), title="replay all stopped", severity="error", timeout=8)
            return
        await self.reload()
        if not letters:
            notify_text(self, "no pending dead letter matched any more", severity="warning")
            return
        runs = ", ".join(letter.adw_id for letter in letters)
        notify_text(
            self,
            f"{_count(len(letters), 'new attempt')} started: {runs}",
            title=f"{_count(len(letters), 'dead letter')} replayed",
        )

    def action_drop(self) -> None:
        letter = self._selected_or_say()
        if letter is None:
            return
        if letter.status is not DeadLetterStatus.PENDING:
            notify_text(
                self,
                f"dead letter {letter.id} is already {letter.status}: only a pending one is "
                "dropped",
                severity="warning",
            )
            return
        question = (
            f"Drop dead letter {letter.id} (run {letter.adw_id}, {letter.error_class} at "
            f"{letter.step or '?'})? It leaves the queue and can no longer be replayed; it is "
            "kept with status dropped."
        )

        async def drop(confirmation: Confirmation | None) -> None:
            if confirmation is not None:
                await self._drop(letter.id)

        self.app.push_screen(
            ConfirmScreen("Drop a dead letter", question, confirm_label="Drop"), drop
        )

    async def _drop(self, letter_id: int) -> None:
        try:
            letter = await self._orchestrator.drop_dead_letter(letter_id, actor="tui")
        except AdwError as error:
            notify_text(self, str(error), title="not dropped", severity="error", timeout=8)
            return
        await self.reload()
        notify_text(
            self,
            f"run {letter.adw_id} stays dead-lettered",
            title=f"dead letter {letter_id} dropped",
        )

    def _selected_or_say(self) -> DeadLetter | None:
        letter = self.selected
        if letter is None:
            notify_text(self, "no dead letter is selected", severity="warning", timeout=3)
        return letter


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _describe_selection(selection: DeadLetterFilter) -> str:
    narrowed = [
        f"{label} {value}"
        for label, value in (
            ("error class", selection.error_class),
            ("workflow", selection.workflow),
        )
        if value is not None
    ]
    return ", ".join(narrowed) or "every error class and workflow"
