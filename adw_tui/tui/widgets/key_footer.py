"""The footer of every screen: Textual's `Footer`, rebuilt only when what it shows changes.

Textual's footer throws its keys away and composes them anew each time the screen says
its bindings may have changed, which at start-up is several times in a row (focus set,
screen stack updated, focus styles refreshed) with the very same keys each time: every
rebuild mounts and styles a widget per key, and the dashboard's first frame waited for
three of them (bench/tui_startup.py). This footer compares the keys it would show (key,
label, action, enabled, tooltip) with those it shows and rebuilds only when they differ.
"""

from collections.abc import Hashable

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """A `Footer` that recomposes only when the keys it would show change."""

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[Hashable, ...] | None = None
        """What the last rebuild showed (`_keys`); None before the first."""

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached:  # its screen went before the refresh came
            return
        keys = self._keys()
        if keys == self._shown:
            return
        self._shown = keys
        await self.recompose()

    def _keys(self) -> tuple[Hashable, ...]:
        """Everything of the screen's active bindings that `Footer.compose` shows."""
        return tuple(
            (
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                binding.show,
                binding.group,
                binding.tooltip,
                enabled,
                tooltip,
            )
            for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
        )
