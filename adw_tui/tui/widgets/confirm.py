"""A yes/no question in a modal, with an optional checkbox (e.g. "also reset the
worktree"). Dismisses with a `Confirmation`, or None when declined."""

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Static


@dataclass(frozen=True)
class Confirmation:
    option: bool = False
    """The checkbox's value (False when there is none)."""


class ConfirmScreen(ModalScreen[Confirmation | None]):
    """Asks `question`; `y`/enter on Confirm says yes, `n`/escape says no."""

    DEFAULT_CSS = """
    ConfirmScreen {
        align: center middle;
    }
    ConfirmScreen > #confirm-dialog {
        width: 60;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        padding: 0 1;
        border: thick $warning;
        background: $surface;
    }
    ConfirmScreen #confirm-title {
        text-style: bold;
        color: $warning;
        margin-bottom: 1;
    }
    ConfirmScreen #confirm-buttons {
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    ConfirmScreen #confirm-buttons Button {
        margin-left: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "decline", "No", id="confirm.no"),
        Binding("y", "accept", "Yes", id="confirm.yes"),
    ]

    def __init__(
        self,
        title: str,
        question: str,
        *,
        confirm_label: str = "Confirm",
        option: str | None = None,
        option_default: bool = False,
    ) -> None:
        super().__init__(classes="confirm")
        self._title = title
        self._question = question
        self._confirm_label = confirm_label
        self._option = option
        self._option_default = option_default

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Label(self._title, id="confirm-title")
            yield Static(self._question, id="confirm-question")
            if self._option is not None:
                yield Checkbox(self._option, self._option_default, id="confirm-option")
            with Horizontal(id="confirm-buttons"):
                yield Button(self._confirm_label, variant="warning", id="confirm-yes")
                yield Button("Cancel", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm-yes":
            self.action_accept()
        else:
            self.action_decline()

    def action_accept(self) -> None:
        checked = self._option is not None and self.query_one("#confirm-option", Checkbox).value
        self.dismiss(Confirmation(option=checked))

    def action_decline(self) -> None:
        self.dismiss(None)
