"""What the dashboard's screens share, so that the app need not know them.

A screen says which run it is about (`selected_run`: what the app's `h` opens the history
of), asks for a run to be opened (`OpenRun`), and follows the signals it shows (the app's
`runtime_events`, the theme) while it is mounted. The top-level sections (dashboard, dead
letters, workflows) are the app's modes; a section's own screen goes back to the
dashboard, a screen opened within a section back to where it was opened from.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from textual.message import Message
from textual.screen import Screen
from textual.signal import Signal

from adw_tui.runtime.events import RuntimeEvent

if TYPE_CHECKING:
    from adw_tui.tui.alerts import TerminalAlerts
    from adw_tui.tui.app import AdwApp

DASHBOARD_MODE = "dashboard"
"""The mode the dashboard opens in, and that `escape` on a section returns to."""

T = TypeVar("T")


class OpenRun(Message):
    """Open run `adw_id` in detail: its timeline, transcripts and diff."""

    def __init__(self, adw_id: str) -> None:
        super().__init__()
        self.adw_id = adw_id


class AdwScreen(Screen[None]):
    """A screen of the dashboard (not a dialog)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._followed: list[Signal[Any]] = []

    @property
    def selected_run(self) -> str | None:
        """The run this screen is about or has selected; None where there is none."""
        return None

    @property
    def runtime_events(self) -> Signal[RuntimeEvent]:
        """The app's signal of runtime events."""
        return cast("AdwApp", self.app).runtime_events

    @property
    def alerts(self) -> "TerminalAlerts":
        """The app's terminal alerts (bell, desktop notifications)."""
        return cast("AdwApp", self.app).alerts

    def follow(
        self, signal: Signal[T], callback: Callable[[T], object], *, immediate: bool = False
    ) -> None:
        """Call `callback` with what `signal` publishes until this screen goes (see
        `Signal.subscribe` for `immediate`)."""
        signal.subscribe(self, callback, immediate)
        self._followed.append(signal)

    def on_unmount(self) -> None:
        for signal in self._followed:
            signal.unsubscribe(self)

    def action_back(self) -> None:
        """Back where this screen was opened from; from a section, to the dashboard."""
        if self.app.screen_stack[0] is self:
            self.app.switch_mode(DASHBOARD_MODE)
        else:
            self.dismiss()
