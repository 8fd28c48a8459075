"""What the dashboard's screens share, so that the app need not know them.

A screen says which run it is about (`selected_run`: what the app's `h` opens the history
of), asks for a run to be opened (`OpenRun`), and follows the signals it shows (the app's
`runtime_events`, the theme) and the store's change notices (`follow_changes`: what any
process, on any host, committed) while it is mounted. A read that failed because the
database stayed away past `ADW_DB_RECONNECT` (or is otherwise unusable) is one toast
(`says_store_errors`), never a traceback: the screen's next read tries again. The
top-level sections (dashboard, dead letters, workflows) are the app's modes; a
section's own screen goes back to the dashboard, a screen opened within a section back
to where it was opened from.
"""

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from textual import on
from textual.events import Unmount
from textual.message import Message
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerError

from adw_tui.domain.errors import StoreError
from adw_tui.runtime.events import RuntimeEvent
from adw_tui.store import Store
from adw_tui.store.changes import Change
from adw_tui.tui.notify import notify_text

if TYPE_CHECKING:
    from adw_tui.tui.alerts import TerminalAlerts
    from adw_tui.tui.app import AdwApp

DASHBOARD_MODE = "dashboard"
"""The mode the dashboard opens in, and that `escape` on a section returns to."""

CHANGES_SETTLE_S = 0.05
"""Notices that come this soon after a batch wait for the next: a burst is one read."""
STORE_ERROR_TITLE = "database"
"""The title of the toast that says a read failed."""

T = TypeVar("T")
S = TypeVar("S", bound="AdwScreen")
P = ParamSpec("P")


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
        self._changes: Worker[None] | None = None
        """Follows the store's change notices (`follow_changes`), once asked to."""

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

    def follow_changes(
        self, store: Store, changed: Callable[[list[Change]], Awaitable[None]]
    ) -> None:
        """Call `changed` with the store's change notices, a settled batch at a time,
        until this screen goes; a failed call is said (`store_failed`), and the next
        batch handled."""
        self._changes = self.run_worker(
            self._follow_changes(store, changed), name="store-changes", exit_on_error=False
        )

    async def _follow_changes(
        self, store: Store, changed: Callable[[list[Change]], Awaitable[None]]
    ) -> None:
        async with store.changes() as changes:
            async for batch in changes:
                try:
                    await changed(batch)
                except StoreError as error:
                    self.store_failed(error)
                await asyncio.sleep(CHANGES_SETTLE_S)

    @on(Unmount)
    async def _stop_following_changes(self) -> None:
        """Textual cancels a screen's workers without waiting for them; the store's
        listener has a connection of its own, to close before the app's loop ends."""
        if self._changes is None:
            return
        self._changes.cancel()
        with contextlib.suppress(WorkerError):
            await self._changes.wait()

    def store_failed(self, error: StoreError) -> None:
        """A read or write the store gave up on, as one line; the screen stays."""
        notify_text(self, str(error), title=STORE_ERROR_TITLE, severity="error")

    def action_back(self) -> None:
        """Back where this screen was opened from; from a section, to the dashboard."""
        if self.app.screen_stack[0] is self:
            self.app.switch_mode(DASHBOARD_MODE)
        else:
            self.dismiss()


def says_store_errors(
    read: Callable[Concatenate[S, P], Awaitable[None]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, None]]:
    """`read` (a screen's method) with a failure of the store said in one line
    (`AdwScreen.store_failed`) instead of ending the app with a traceback."""

    @functools.wraps(read)
    async def reading(screen: S, /, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await read(screen, *args, **kwargs)
        except StoreError as error:
            screen.store_failed(error)

    return reading
