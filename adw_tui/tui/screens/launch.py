"""The launch dialog: which issue, which workflow, which engine."""

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

from adw_tui.agents import ENGINE_NAMES


@dataclass(frozen=True)
class LaunchRequest:
    issue: int
    workflow: str
    engine: str


class LaunchScreen(ModalScreen[LaunchRequest | None]):
    """Asks for a run to launch; dismisses with the request, or None when cancelled."""

    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("escape", "cancel", "Cancel", id="launch.cancel"),
    ]

    def __init__(self, *, engine: str, workflow: str = "sdlc") -> None:
        super().__init__(id="launch")
        self._engine = engine
        self._workflow = workflow

    def compose(self) -> ComposeResult:
        with Vertical(id="launch-dialog"):
            yield Label("Launch a run", id="launch-title")
            yield Label("issue number")
            yield Input(placeholder="e.g. 3", type="integer", id="launch-issue")
            yield Label("workflow")
            yield Input(self._workflow, id="launch-workflow")
            yield Label("engine")
            yield Select(
                [(name, name) for name in ENGINE_NAMES],
                value=self._engine,
                allow_blank=False,
                id="launch-engine",
            )
            with Horizontal(id="launch-buttons"):
                yield Button("Launch", variant="primary", id="launch-ok")
                yield Button("Cancel", id="launch-cancel")

    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch-ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _submit(self) -> None:
        issue = self.query_one("#launch-issue", Input)
        workflow = self.query_one("#launch-workflow", Input).value.strip()
        engine = self.query_one("#launch-engine", Select).value
        if not issue.value.strip().isdigit() or int(issue.value) < 1:
            self.notify("an issue number, please", severity="warning", timeout=2)
            issue.focus()
            return
        if not workflow:
            self.notify("a workflow name, please", severity="warning", timeout=2)
            return
        self.dismiss(LaunchRequest(int(issue.value), workflow, str(engine)))
