"""A best-of group side by side (`b` on one of its runs): what `adw compare` prints, and
`c` to choose the run whose branch goes on (as `adw choose`, after a confirmation)."""

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Header, Static

from adw_tui.domain.errors import AdwError
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.runtime.best_of import COLUMNS as FIGURE_COLUMNS
from adw_tui.runtime.best_of import Candidate, compare, figures, group_members
from adw_tui.tui.notify import notify_text
from adw_tui.tui.screens.base import AdwScreen, OpenRun, says_store_errors
from adw_tui.tui.widgets.confirm import Confirmation, ConfirmScreen
from adw_tui.tui.widgets.key_footer import KeyFooter
from adw_tui.tui.widgets.row_table import RowTable

if TYPE_CHECKING:
    from adw_tui.runtime.orchestrator import Orchestrator

ACTOR = "tui"
COLUMNS = tuple((label, label) for label in (*FIGURE_COLUMNS, "chosen"))
CHOSEN: dict[bool | None, Text | str] = {
    True: Text("chosen", style="bold green"),
    False: Text("not chosen"),
    None: "",
}


def candidate_cells(candidate: Candidate) -> tuple[Text | str, ...]:
    return (
        *(Text(terminal_safe(cell)) for cell in figures(candidate)),
        CHOSEN[candidate.chosen],
    )


class CompareScreen(AdwScreen):
    """The runs of one best-of group, and choosing among them."""

    HELP = """\
## Best of N

The runs of one best-of group (`adw run ISSUE --best-of N`) side by side: status,
engine, model set, tests passed, the review's verdict, what the branch changed, cost
and time.

- `c` chooses the highlighted run: its branch is the one that goes on (on GitHub it is
  pushed and its pull request opened now, or at its own push step if it is still
  running); the others are kept, marked not chosen and never pushed. With an
  experiment on the workflow, the choice is what it learns.
- `enter` opens a run; `r` reads them again; `escape` goes back.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="compare.back"),
        Binding("c", "choose", "Choose", id="compare.choose"),
        Binding("r", "reload", "Reload", id="compare.reload"),
    ]

    def __init__(self, orchestrator: "Orchestrator", adw_id: str) -> None:
        super().__init__(id="compare")
        self._orchestrator = orchestrator
        self._store = orchestrator.store
        self._repo = orchestrator.repo
        self._adw_id = adw_id
        self.sub_title = f"best of: {adw_id}"

    def compose(self) -> ComposeResult:
        yield Header()
        yield RowTable[Text | str](COLUMNS, id="compare-table", classes="framed")
        yield Static(id="compare-summary", classes="bar")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(RowTable).border_title = "side by side"
        self.query_one(RowTable).focus()
        self.reload()

    @property
    def selected_run(self) -> str | None:
        return self.query_one(RowTable).cursor_key

    def action_reload(self) -> None:
        self.reload()

    @work(exclusive=True, group="compare")
    @says_store_errors
    async def reload(self) -> None:
        members = await group_members(self._store, self._adw_id)
        candidates = await compare(self._store, self._repo, members)
        self.query_one(RowTable).replace_rows(
            (candidate.adw_id, candidate_cells(candidate)) for candidate in candidates
        )
        decided = next((c.adw_id for c in candidates if c.chosen), None)
        said = f"{decided} chosen" if decided else "none chosen yet"
        self.query_one("#compare-summary", Static).update(Text(f"{len(candidates)} runs; {said}"))

    def action_choose(self) -> None:
        adw_id = self.selected_run
        if adw_id is None:
            return

        def chosen(answer: Confirmation | None) -> None:
            if answer is not None:
                self._choose(adw_id)

        self.app.push_screen(
            ConfirmScreen(
                "Choose a run",
                f"{adw_id}'s branch goes on; the other runs of the group are kept, marked "
                "not chosen.",
                confirm_label="Choose",
            ),
            chosen,
        )

    @work(group="compare-choose")
    async def _choose(self, adw_id: str) -> None:
        try:
            chosen = await self._orchestrator.choose(adw_id, actor=ACTOR)
        except AdwError as error:
            notify_text(self, str(error), title="not chosen", severity="error")
            self.reload()  # it may be chosen, and only its push or pull request failed
            return
        if chosen.published is not None:
            said = f"pull request #{chosen.published.pr_number}: {chosen.published.pr_url}"
        else:
            said = f"not pushed yet: {chosen.held}"
        notify_text(self, f"{adw_id} chosen; {said}", title="best of")
        self.reload()

    @on(DataTable.RowSelected, "#compare-table")
    def open_run(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(OpenRun(event.row_key.value))
