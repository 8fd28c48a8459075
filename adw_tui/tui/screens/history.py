"""The state history of one run: every version, the diff between two of them, and
rollback to a selected version (optionally resetting the run's worktree to its commit).

It shows a window of the versions (`WindowedTable`: a run can have thousands), read
through the store's indexed listing, and reads it again when the run's row says it
changed (its version, status or update time: checked every `REFRESH_S`, and at once on
the run's runtime events). It rolls back through the orchestrator, which checks
everything (the run has stopped, the worktree is clean...) before it writes.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import DataTable, Header, Static

from adw_tui.domain.clock import Clock
from adw_tui.domain.diff import ChangeKind, StateChange, diff_versions
from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import RunRecord, RunState, StateVersion, VersionInfo
from adw_tui.runtime.events import RunChanged, RuntimeEvent, StepFinished
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.rollback import refuse_active
from adw_tui.store import Store
from adw_tui.tui.formatting import RUN_STATUS_STYLES, theme_text
from adw_tui.tui.notify import notify_text
from adw_tui.tui.screens.base import AdwScreen, says_store_errors
from adw_tui.tui.widgets.confirm import Confirmation, ConfirmScreen
from adw_tui.tui.widgets.key_footer import KeyFooter
from adw_tui.tui.widgets.windowed_table import WindowedTable

REFRESH_S = 2.0

COLUMNS = (
    ("version", "#"),
    ("parent", "parent"),
    ("time", "time"),
    ("head", "git head"),
    ("step", "step"),
    ("writer", "writer"),
)
"""(key, label) of the version table's columns: the long ones last, for 80 columns."""
CHANGE_STYLES = {
    ChangeKind.ADDED: "$success",
    ChangeKind.REMOVED: "$error",
    ChangeKind.CHANGED: "$warning",
}
MARK = "●"
MARKED_STYLE = "bold $accent"


class VersionListing:
    """A run's versions, newest first (a `Listing`)."""

    def __init__(self, store: Store, adw_id: str) -> None:
        self._store = store
        self._adw_id = adw_id
        self.run: RunRecord | None = None
        """The run's row at the last `marker`."""

    async def marker(self) -> tuple[object, ...]:
        """The run's version, status and update time: a new version moves them all."""
        self.run = run = await self._store.get_run(self._adw_id)
        return run.version, run.status, run.updated_at

    async def count(self) -> int:
        return await self._store.count_versions(self._adw_id)

    async def rows(self, offset: int, limit: int) -> list[VersionInfo]:
        versions = self._store.newest_versions(self._adw_id, limit=limit, offset=offset)
        return [info async for info in versions]

    def key(self, info: VersionInfo) -> str:
        return str(info.version)


class VersionTable(WindowedTable[VersionInfo]):
    """The run's state versions, newest first."""

    HELP = """\
## Versions

Every change of the run's state is a version, newest first: its number, its **parent**
(`↶ k` marks a fork: a rollback to version k), when it was written, the worktree's
**git head** then, the **step** that wrote it and the **writer** (step/agent, or who
rolled back).

- `up`/`down` or a click selects a version; the diff below follows it.
- `m` (or `space`) marks the selected version (●): the diff then compares the marked
  version with the selected one. `m` on the marked version clears the mark.
- `r` rolls the run back to the selected version.
"""


@dataclass(frozen=True)
class Comparison:
    """What the diff pane shows: its title, and what changed between the two versions."""

    title: str
    changes: tuple[StateChange, ...]


class StateDiff(VerticalScroll):
    """What changed between two versions, one key per line."""

    HELP = """\
## Diff

What changed from one version to the other (the title says which two): `+` a key
added, `-` a key removed, `~` a value changed (old → new). Values read as JSON.
Scroll with the arrow keys, `page up`/`page down` or the mouse wheel.
"""

    comparison: reactive[Comparison | None] = reactive(None)

    def compose(self) -> ComposeResult:
        yield Static(id="history-changes")

    def watch_comparison(self, comparison: Comparison | None) -> None:
        if comparison is None:
            return
        self.border_title = comparison.title
        changes = comparison.changes
        lines = [Content.styled(c.describe(), CHANGE_STYLES[c.kind]) for c in changes]
        body = (
            Content("\n").join(lines)
            if lines
            else Content.styled("no differences: both versions hold the same state", "$text-muted")
        )
        self.query_one("#history-changes", Static).update(body)


class HistoryScreen(AdwScreen):
    """The versions of one run's state, their differences, and rollback."""

    HELP = """\
## State history

Every version of the run's state, newest first, and what changed between two of them.
By default the diff compares the selected version with its parent; mark a version
(`m`) to compare it with any other.

`r` rolls the run back to the selected version: a new version equal to it is written
(nothing is deleted). When the version recorded a commit and the run has a worktree,
the confirmation also offers to reset the worktree to that commit (`git reset --hard`,
refused while the worktree has uncommitted changes). A queued or running run is not
rolled back. `escape` goes back.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="history.back"),
        Binding("m,space", "mark", "Mark", id="history.mark"),
        Binding("r", "rollback", "Rollback", id="history.rollback"),
    ]

    def __init__(self, store: Store, orchestrator: Orchestrator, adw_id: str, clock: Clock) -> None:
        super().__init__(id="history")
        self._store = store
        self._orchestrator = orchestrator
        self._adw_id = adw_id
        self._clock = clock
        self._listing = VersionListing(store, adw_id)
        self._versions_read: dict[int, StateVersion] = {}
        """Versions read so far: a version never changes once written."""
        self._marked: int | None = None
        self.sub_title = f"state history of run {adw_id}"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="history-run", classes="bar")
        yield VersionTable(
            COLUMNS, self._listing, self._cells, id="history-versions", classes="framed"
        )
        yield StateDiff(id="history-diff", classes="detail")
        yield KeyFooter()

    async def on_mount(self) -> None:
        # The rows again in a new theme's colours (a rich Text holds colours).
        self.follow(self.app.theme_changed_signal, lambda _theme: self._table.redraw())
        self.follow(self.runtime_events, self._runtime_event, immediate=True)
        await self.reload(restart=True)
        self._table.focus()
        self.set_interval(REFRESH_S, self.reload, name="history-refresh")

    @property
    def _table(self) -> VersionTable:
        return self.query_one(VersionTable)

    @property
    def selected(self) -> int | None:
        """The version under the table's cursor."""
        key = self._table.cursor_key
        return int(key) if key is not None else None

    @property
    def marked(self) -> int | None:
        return self._marked

    def _version(self, version: int) -> VersionInfo | None:
        return self._table.row_of(str(version))

    @says_store_errors
    async def reload(self, *, restart: bool = False, select: int | None = None) -> None:
        """Read the window of versions again if the run changed (`restart`: from the top,
        whatever changed); put the cursor on `select` (a version in the window), else it
        stays on its row."""
        table = self._table
        if not await table.refresh_rows(restart=restart):
            return
        loaded = await self._store.load(self._adw_id)
        self._show_run(loaded.run, loaded.state)
        table.border_title = f"versions ({table.total:,})"
        if select is not None and self._version(select) is not None:
            table.move_cursor_to(str(select))
        self._show_diff()

    def _runtime_event(self, event: RuntimeEvent) -> None:
        """This run's changes, read at once (the marker would find them on the next tick)."""
        if isinstance(event, RunChanged | StepFinished) and event.adw_id == self._adw_id:
            self.call_next(self.reload)

    def _show_run(self, run: RunRecord, state: RunState) -> None:
        text = Content.assemble(
            (f"run {run.adw_id}", "bold"),
            f"  {run.workflow}",
            f"  issue #{run.issue}" if run.issue else "",
            "  ",
            (str(run.status), RUN_STATUS_STYLES[run.status]),
            f"  at version {run.version}",
            (f"  worktree {state.worktree_path or 'none'}", "dim"),
        )
        self.query_one("#history-run", Static).update(text)

    def _cells(self, info: VersionInfo) -> tuple[Text, ...]:
        colours = self.app.theme_variables
        if info.parent is None:
            parent = Text("")
        elif info.parent == info.version - 1:
            parent = Text(str(info.parent))
        else:
            parent = theme_text(f"↶ {info.parent}", "bold $warning", colours)
        marked = info.version == self._marked
        return (
            theme_text(
                f"{MARK if marked else ' '}{info.version}", MARKED_STYLE if marked else "", colours
            ),
            parent,
            Text(self._time(info.created_at)),
            Text((info.git_head or "")[:7]),
            Text(info.reason),
            Text(info.actor),
        )

    def _time(self, at: datetime) -> str:
        """The time of day for today's versions; older ones with their date."""
        same_day = at.date() == self._clock().astimezone(at.tzinfo).date()
        return at.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M")

    # The diff

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_diff()

    @work(exclusive=True, group="history-diff")
    @says_store_errors
    async def _show_diff(self) -> None:
        """Compare the selected version with the marked one, else with its parent."""
        selected = self.selected
        if selected is None:
            return
        marked = self._marked
        if marked is not None and marked != selected:
            base: int | None = marked
            title = f"diff: v{marked} (marked) → v{selected} (selected)"
        else:
            info = self._version(selected)
            base = info.parent if info is not None else None
            role = "marked: select another version to compare" if marked == selected else "selected"
            origin = "nothing" if base is None else f"v{base} (parent)"
            title = f"diff: {origin} → v{selected} ({role})"
        old = None if base is None else await self._stored(base)
        changes = diff_versions(old, await self._stored(selected))
        self.query_one(StateDiff).comparison = Comparison(title, tuple(changes))

    async def _stored(self, version: int) -> StateVersion:
        stored = self._versions_read.get(version)
        if stored is None:
            stored = await self._store.get_version(self._adw_id, version)
            self._versions_read[version] = stored
        return stored

    # Actions

    def action_mark(self) -> None:
        selected = self.selected
        if selected is None:
            return
        self._marked = None if self._marked == selected else selected
        self._table.redraw()
        self._show_diff()

    async def action_rollback(self) -> None:
        version = self.selected
        if version is None:
            return
        try:
            loaded = await self._store.load(self._adw_id)
            refuse_active(loaded.run)
        except AdwError as error:
            notify_text(self, str(error), title="not rolled back", severity="error", timeout=10)
            return
        run = loaded.run
        info = self._version(version)
        head = info.git_head if info is not None else None
        option = None
        if head and loaded.state.worktree_path:
            option = f"also reset the worktree to {head[:12]} (git reset --hard)"
        question = (
            f"Roll run {run.adw_id} back to version {version} (now at {run.version})? "
            f"This writes version {run.version + 1} equal to version {version}; "
            "nothing is deleted."
        )

        async def roll_back(confirmation: Confirmation | None) -> None:
            if confirmation is not None:
                await self._roll_back(version, reset_worktree=confirmation.option)

        self.app.push_screen(
            ConfirmScreen("Roll back", question, confirm_label="Roll back", option=option),
            roll_back,
        )

    async def _roll_back(self, version: int, *, reset_worktree: bool) -> None:
        try:
            new_version = await self._orchestrator.rollback(
                self._adw_id, version, reset_worktree=reset_worktree, actor="tui"
            )
        except AdwError as error:
            notify_text(self, str(error), title="not rolled back", severity="error", timeout=10)
            return
        reset = ""
        if reset_worktree:
            info = self._version(version)
            reset = f"; worktree reset to {((info and info.git_head) or '')[:12]}"
        notify_text(
            self,
            f"run {self._adw_id} rolled back to version {version}: new version "
            f"{new_version}{reset}",
            title="rolled back",
        )
        await self.reload(restart=True, select=new_version)
