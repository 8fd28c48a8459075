"""The run worktrees on disk, as `adw worktrees ls` lists them, and removing one.

The listing comes first without sizes (git and the store answer at once), then each
worktree's size on disk fills in, its files walked in a thread. Removal goes through
the same code as `adw worktrees rm` (`worktree_lifecycle`): never the worktree of a run
in use, uncommitted work only when the operator confirms losing it, the run and its
history kept, the removal audited.
"""

import asyncio
from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.widgets import DataTable, Header, Static

from adw_tui.domain.clock import Clock, utc_now
from adw_tui.domain.durations import format_age
from adw_tui.domain.errors import AdwError
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.domain.sizes import format_size
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.worktree_lifecycle import (
    RunWorktree,
    remove_worktree,
    run_worktrees,
    size_on_disk,
)
from adw_tui.store import Store
from adw_tui.tui.formatting import RUN_STATUS_STYLES, theme_text
from adw_tui.tui.notify import notify_text
from adw_tui.tui.screens.base import AdwScreen, OpenRun
from adw_tui.tui.widgets.confirm import Confirmation, ConfirmScreen
from adw_tui.tui.widgets.key_footer import KeyFooter
from adw_tui.tui.widgets.row_table import RowTable

ACTOR = "tui"
COLUMNS = (
    ("run", "run"),
    ("status", "status"),
    ("branch", "branch"),
    ("size", "size"),
    ("age", "age"),
    ("dirty", "dirty"),
    ("path", "path"),
)
"""(key, label) of the table's columns."""


class WorktreesScreen(AdwScreen):
    """Every run worktree: its run, status, branch, size, age and uncommitted work."""

    HELP = """\
## Worktrees

The git worktrees of the runs (under `trees/`, or where `ADW_TREES_DIR` says), oldest
first, with the run's status, the branch, the size on disk, the age (since the run last
changed) and whether it holds uncommitted work.

- `x` removes the highlighted worktree: the run, its history and (unless you tick it)
  its branch stay, and a replay makes the worktree again. A queued or running run's
  worktree is never removed; uncommitted work is lost only once you confirm it.
- `enter` opens the run; `r` reads the list again; `escape` goes back.

From a shell: `adw worktrees ls`, `adw worktrees prune --older-than 7d`.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="worktrees.back"),
        Binding("x", "remove", "Remove", id="worktrees.remove"),
        Binding("r", "reload", "Reload", id="worktrees.reload"),
    ]

    def __init__(self, store: Store, orchestrator: Orchestrator, clock: Clock = utc_now) -> None:
        super().__init__(id="worktrees")
        self._store = store
        self._orchestrator = orchestrator
        self._clock = clock
        self._worktrees: dict[str, RunWorktree] = {}
        self.sub_title = "worktrees"

    def compose(self) -> ComposeResult:
        yield Header()
        yield RowTable[Text | str](COLUMNS, id="worktrees-table", classes="framed")
        yield Static(id="worktrees-summary", classes="bar")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(RowTable).border_title = "worktrees"
        self.query_one(RowTable).focus()

    def on_screen_resume(self) -> None:
        self.reload()

    @property
    def selected_run(self) -> str | None:
        return self.query_one(RowTable).cursor_key

    def action_reload(self) -> None:
        self.reload()

    @work(exclusive=True, group="worktrees-listing")
    async def reload(self) -> None:
        """List the worktrees, then measure each one's size on disk (in a thread)."""
        try:
            found = await run_worktrees(
                self._store, self._orchestrator.worktrees, now=self._clock(), measure=False
            )
        except AdwError as error:
            notify_text(self, str(error), title="worktrees not listed", severity="error")
            return
        self._show(found, measured=False)
        measured = [
            replace(worktree, size_bytes=await asyncio.to_thread(size_on_disk, worktree.path))
            if worktree.path.exists()
            else worktree
            for worktree in found
        ]
        self._show(measured, measured=True)

    def _show(self, found: list[RunWorktree], *, measured: bool) -> None:
        self._worktrees = {worktree.adw_id: worktree for worktree in found}
        self.query_one(RowTable).replace_rows(
            (worktree.adw_id, self._cells(worktree)) for worktree in found
        )
        where = terminal_safe(str(self._orchestrator.worktrees.trees_dir))
        total = sum(worktree.size_bytes or 0 for worktree in found)
        size = f", {format_size(total)}" if measured else ", measuring sizes…"
        self.query_one("#worktrees-summary", Static).update(
            Text(f"{len(found)} worktrees under {where}{size}")
        )

    def _cells(self, worktree: RunWorktree) -> tuple[Text | str, ...]:
        variables = self.app.theme_variables
        status = (
            theme_text(worktree.status, RUN_STATUS_STYLES[worktree.status], variables)
            if worktree.status is not None
            else Text("no run", style="dim")
        )
        return (
            worktree.adw_id,
            status,
            Text(terminal_safe(worktree.branch or "(detached)")),
            format_size(worktree.size_bytes),
            format_age(worktree.age),
            theme_text("dirty", "$warning", variables) if worktree.dirty else "",
            Text(terminal_safe(str(worktree.path))),
        )

    @on(DataTable.RowSelected, "#worktrees-table")
    def open_run(self, event: DataTable.RowSelected) -> None:
        worktree = self._worktrees.get(event.row_key.value or "")
        if worktree is not None and worktree.run is not None:
            self.post_message(OpenRun(worktree.adw_id))

    def action_remove(self) -> None:
        worktree = self._worktrees.get(self.selected_run or "")
        if worktree is None:
            notify_text(self, "no worktree is selected", severity="warning")
            return
        what = f"the worktree of run {worktree.adw_id}"
        question = (
            f"Remove {what} ({escape(terminal_safe(str(worktree.path)))})? The run and its "
            "history stay; a replay makes the worktree again from its branch."
        )
        if worktree.dirty:
            question += " [b]It holds uncommitted work, which will be lost.[/b]"
        branch = escape(terminal_safe(worktree.branch)) if worktree.branch else None

        async def remove(confirmation: Confirmation | None) -> None:
            if confirmation is not None:
                await self._remove(worktree, delete_branch=confirmation.option)

        self.app.push_screen(
            ConfirmScreen(
                "Remove a worktree",
                question,
                confirm_label="Remove",
                option=f"also delete branch {branch} (when merged)" if branch else None,
            ),
            remove,
        )

    async def _remove(self, worktree: RunWorktree, *, delete_branch: bool) -> None:
        try:
            removed = await remove_worktree(
                self._store,
                self._orchestrator.worktrees,
                worktree,
                force=worktree.dirty,
                delete_branch=delete_branch,
                discard_commits=False,
                actor=ACTOR,
            )
        except AdwError as error:
            notify_text(self, str(error), title="worktree kept", severity="error", timeout=8)
        else:
            branch = "deleted" if removed.branch_deleted else "kept"
            notify_text(
                self,
                f"run {worktree.adw_id} and its history kept; branch {branch}",
                title="worktree removed",
            )
        self.reload()
