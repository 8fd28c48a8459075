"""The launch dialog: an issue (picked from the tracker or written anew), a workflow, a
model set and an engine."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from adw_tui.agents.registry import ENGINE_NAMES
from adw_tui.domain.issues import IssueSummary
from adw_tui.domain.model_sets import MODEL_SETS
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.tui.notify import notify_text

NEW_ISSUE = "new"
"""The option id of "write a new issue" in the issue list."""


@dataclass(frozen=True)
class NewIssue:
    title: str
    body: str = ""


@dataclass(frozen=True)
class LaunchRequest:
    """What to launch. `issue` is an existing issue's number, or a `NewIssue` for the
    tracker to create first."""

    issue: int | NewIssue
    workflow: str
    engine: str
    model_set: str = "base"
    best_of: int = 1
    """More than 1: that many runs side by side, a best-of group (`b` compares them)."""


MAX_BEST_OF = 5


@dataclass(frozen=True)
class WorkflowChoice:
    name: str
    description: str


class LaunchScreen(ModalScreen[LaunchRequest | None]):
    """Asks for a run to launch; dismisses with the request, or None when cancelled.

    The filter box narrows the tracker's open issues by number or title; "write a new
    issue" turns it into the new issue's title.
    """

    HELP = """\
## Launch a run

- Type in **issue** to filter the tracker's issues by number or title; pick one with
  the arrow keys and `enter`, or with the mouse.
- Pick **write a new issue** to create one: what is typed becomes its title.
- Choose the **workflow** (its description is shown under it), the **model set** and
  the **engine**, then press **Launch** (or `ctrl+l`).
"""

    writing_new = reactive(False, toggle_class="-writing-new")
    """True once "write a new issue" is picked: its body's field shows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="launch.cancel"),
        Binding("ctrl+l", "submit", "Launch", id="launch.submit"),
    ]

    def __init__(
        self,
        *,
        issues: Sequence[IssueSummary],
        workflows: Sequence[WorkflowChoice],
        engine: str,
        workflow: str = "sdlc",
        issue: int | None = None,
    ) -> None:
        super().__init__(id="launch")
        self._issues = list(issues)
        self._workflows = list(workflows)
        self._engine = engine
        names = [choice.name for choice in self._workflows]
        self._workflow = workflow if workflow in names else (names[0] if names else "")
        self._chosen: int | None = issue if any(i.number == issue for i in issues) else None

    def compose(self) -> ComposeResult:
        with Vertical(id="launch-dialog"):
            yield Label("Launch a run", id="launch-title")
            with VerticalScroll(id="launch-fields"):
                yield Label("issue", classes="launch-label")
                yield Input(
                    placeholder="filter by number or title", id="launch-filter", compact=True
                )
                yield OptionList(id="launch-issues", compact=True)
                yield Static("", id="launch-chosen")
                yield Input(
                    placeholder="new issue's body (optional)", id="launch-body", compact=True
                )
                yield Label("workflow", classes="launch-label")
                yield Select(
                    [(choice.name, choice.name) for choice in self._workflows],
                    value=self._workflow or Select.BLANK,
                    allow_blank=not self._workflows,
                    id="launch-workflow",
                    compact=True,
                )
                yield Static("", id="launch-description")
                with Horizontal(id="launch-choices"):
                    with Vertical():
                        yield Label("model set", classes="launch-label")
                        yield Select(
                            [(name, name) for name in MODEL_SETS],
                            value=MODEL_SETS[0],
                            allow_blank=False,
                            id="launch-model-set",
                            compact=True,
                        )
                    with Vertical():
                        yield Label("engine", classes="launch-label")
                        yield Select(
                            [(name, name) for name in ENGINE_NAMES],
                            value=self._engine,
                            allow_blank=False,
                            id="launch-engine",
                            compact=True,
                        )
                    with Vertical():
                        yield Label("runs", classes="launch-label")
                        yield Select(
                            [("1", 1), *((f"best of {n}", n) for n in range(2, MAX_BEST_OF + 1))],
                            value=1,
                            allow_blank=False,
                            id="launch-best-of",
                            compact=True,
                        )
            with Horizontal(id="launch-buttons"):
                yield Button("Launch", variant="primary", id="launch-ok", compact=True)
                yield Button("Cancel", id="launch-cancel", compact=True)

    def on_mount(self) -> None:
        if self._chosen is not None:
            self.query_one("#launch-filter", Input).value = str(self._chosen)
        self._show_issues("")
        self._show_chosen()
        self._show_description()
        self.query_one("#launch-filter", Input).focus()

    # The issue

    @on(Input.Changed, "#launch-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._show_issues(event.value)
        if self.writing_new:
            self._show_chosen()

    def _show_issues(self, query: str) -> None:
        query = query.strip().lower().lstrip("#")
        matches = [
            issue
            for issue in self._issues
            if not query or query in str(issue.number) or query in issue.title.lower()
        ]
        options = [
            Option(Text(terminal_safe(f"#{issue.number}  {issue.title}")), id=str(issue.number))
            for issue in matches
        ]
        options.append(Option("+ write a new issue", id=NEW_ISSUE))
        issue_list = self.query_one("#launch-issues", OptionList)
        issue_list.set_options(options)
        issue_list.highlighted = 0

    @on(OptionList.OptionSelected, "#launch-issues")
    def _issue_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_id == NEW_ISSUE:
            self._chosen = None
            self.writing_new = True
        else:
            self._chosen = int(event.option_id or 0)
            self.writing_new = False
        self._show_chosen()

    @on(Input.Submitted, "#launch-filter")
    def _filter_submitted(self) -> None:
        """`enter` in the filter takes the highlighted issue; a second one launches."""
        issue_list = self.query_one("#launch-issues", OptionList)
        if self._chosen is None and not self.writing_new and issue_list.highlighted is not None:
            issue_list.action_select()
            return
        self.action_submit()

    def _show_chosen(self) -> None:
        chosen = self.query_one("#launch-chosen", Static)
        if self.writing_new:
            title = self.query_one("#launch-filter", Input).value.strip()
            chosen.update(Text(terminal_safe(f"new issue: {title or '(type its title above)'}")))
        elif self._chosen is not None:
            title = next(i.title for i in self._issues if i.number == self._chosen)
            chosen.update(Text(terminal_safe(f"issue #{self._chosen}: {title}")))
        else:
            chosen.update("no issue chosen yet")

    # The workflow

    @on(Select.Changed, "#launch-workflow")
    def _show_description(self) -> None:
        value = self.query_one("#launch-workflow", Select).value
        description = next(
            (choice.description for choice in self._workflows if choice.name == value), ""
        )
        self.query_one("#launch-description", Static).update(description)

    # Submitting

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "launch-ok":
            self.action_submit()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        issue: int | NewIssue
        if self.writing_new:
            title = self.query_one("#launch-filter", Input).value.strip()
            if not title:
                notify_text(self, "type the new issue's title first", severity="warning", timeout=3)
                self.query_one("#launch-filter", Input).focus()
                return
            issue = NewIssue(title, self.query_one("#launch-body", Input).value.strip())
        elif self._chosen is not None:
            issue = self._chosen
        else:
            notify_text(self, "choose an issue, or write a new one", severity="warning", timeout=3)
            self.query_one("#launch-filter", Input).focus()
            return
        workflow = self.query_one("#launch-workflow", Select).value
        if not isinstance(workflow, str):
            notify_text(self, "choose a workflow", severity="warning", timeout=3)
            return
        self.dismiss(
            LaunchRequest(
                issue,
                workflow,
                str(self.query_one("#launch-engine", Select).value),
                str(self.query_one("#launch-model-set", Select).value),
                int(str(self.query_one("#launch-best-of", Select).value)),
            )
        )
