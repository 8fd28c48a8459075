"""Terminal alerts, besides the toasts: the bell, and the terminal's own desktop
notification (OSC 9, or OSC 777 `notify;title;body`, which many terminals show as a
system notification) when a run succeeds, fails, becomes a dead letter or waits for a
person. Each kind and each channel can be switched off in `tui.toml`'s
`[notifications]` (`preferences.Notifications`).

The text of an escape quotes what adw did not write (issue titles, errors quoting agent
output): `escape_text` leaves nothing in it a terminal would act on (no control
character, so no ESC, BEL or ST can end the sequence early or start another) and
bounds its length. The sequences go out through the app's driver, between frames, as
`App.bell()` writes its BEL: a terminal shows nothing for them on screen. While the
dashboard is suspended (attach, shell) they wait, and are written on its return.
"""

from enum import StrEnum
from typing import Literal

from textual.app import App

from adw_tui.domain.sanitize import terminal_safe
from adw_tui.tui.preferences import Notifications

MAX_TITLE = 60
MAX_BODY = 200
ST = "\x1b\\"
DesktopEscape = Literal["osc9", "osc777", "off"]  # as `Notifications.desktop`


class AlertKind(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD_LETTER = "dead_letter"
    WAITING = "waiting"


def escape_text(text: str, limit: int) -> str:
    """`text` on one line, with no control character and at most `limit` characters."""
    flat = " ".join(terminal_safe(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def desktop_notification(style: DesktopEscape, title: str, body: str) -> str:
    """The escape asking the terminal for a desktop notification ("" for "off").

    OSC 9's one text starts with "adw": ConEmu reads `9;<digits>;` as other commands.
    OSC 777's fields are split on ";", so the title has none."""
    if style == "osc9":
        return f"\x1b]9;{escape_text(f'adw: {title}: {body}', MAX_TITLE + MAX_BODY)}{ST}"
    if style == "osc777":
        safe_title = escape_text(title, MAX_TITLE).replace(";", ",")
        return f"\x1b]777;notify;adw: {safe_title};{escape_text(body, MAX_BODY)}{ST}"
    return ""


class TerminalAlerts:
    """Writes the alerts the preferences ask for to the app's terminal."""

    def __init__(
        self,
        app: App[None],
        *,
        bell: bool,
        desktop: DesktopEscape,
        kinds: frozenset[AlertKind],
    ) -> None:
        self._app = app
        self._bell = bell
        self._desktop = desktop
        self._kinds = kinds
        self._suspended = False
        self._held: list[str] = []
        self._told_waiting: set[tuple[str, str]] = set()

    @classmethod
    def of(cls, app: App[None], preferences: Notifications) -> "TerminalAlerts":
        """The alerts `preferences` (tui.toml's `[notifications]`) ask for."""
        wanted = {
            AlertKind.SUCCEEDED: preferences.succeeded,
            AlertKind.FAILED: preferences.failed,
            AlertKind.DEAD_LETTER: preferences.dead_letter,
            AlertKind.WAITING: preferences.waiting,
        }
        return cls(
            app,
            bell=preferences.bell,
            desktop=preferences.desktop,
            kinds=frozenset(kind for kind, on in wanted.items() if on),
        )

    def follow_suspension(self) -> None:
        """Hold the alerts while the app is suspended (once the app is running)."""
        # immediate: while suspended, the app's own queue waits for the handover to end
        self._app.app_suspend_signal.subscribe(self._app, self._on_suspend, immediate=True)
        self._app.app_resume_signal.subscribe(self._app, self._on_resume, immediate=True)

    def alert(self, kind: AlertKind, title: str, body: str) -> None:
        """Ring and notify for one event of `kind`, if wanted."""
        if kind not in self._kinds:
            return
        sequence = ("\x07" if self._bell else "") + desktop_notification(self._desktop, title, body)
        if sequence:
            self._write(sequence)

    def waiting(self, adw_id: str, step: str, title: str, body: str) -> None:
        """A run waiting for a person: alerted once per step, not at every cool-down."""
        if (adw_id, step) in self._told_waiting:
            return
        self._told_waiting.add((adw_id, step))
        self.alert(AlertKind.WAITING, title, body)

    def _write(self, sequence: str) -> None:
        if self._suspended:
            self._held.append(sequence)
            return
        driver = self._app._driver  # what App.bell() writes through; no public writer
        if driver is None or self._app.is_headless:
            return
        driver.write(sequence)
        driver.flush()

    def _on_suspend(self, _app: App[None]) -> None:
        self._suspended = True

    def _on_resume(self, _app: App[None]) -> None:
        self._suspended = False
        held, self._held = self._held, []
        for sequence in held:
            self._write(sequence)
