"""The dashboard's scout panes: one per scout of a running scout step, beside its run's
pane, by run and agent name."""

from collections.abc import Callable

from textual.containers import Grid
from textual.widget import Widget

from adw_tui.domain.scouts import ScoutStatus
from adw_tui.runtime.events import ScoutChanged
from adw_tui.tui.widgets.scout_pane import ScoutPane


class ScoutPanes:
    def __init__(self, grid: Callable[[], Grid]) -> None:
        self._grid = grid
        self._panes: dict[str, dict[str, ScoutPane]] = {}
        """adw_id -> agent -> pane, in the order the scouts started."""

    def get(self, adw_id: str, agent: str | None) -> ScoutPane | None:
        return self._panes.get(adw_id, {}).get(agent or "")

    def of_run(self, adw_id: str) -> list[ScoutPane]:
        return list(self._panes.get(adw_id, {}).values())

    def changed(self, event: ScoutChanged, run_pane: Widget) -> None:
        """A scout started (its pane is added after the run's others) or ended."""
        pane = self.get(event.adw_id, event.agent)
        if pane is None:
            if event.status is not ScoutStatus.RUNNING:
                return  # its pane was removed already (the run moved on)
            scouts = self._panes.setdefault(event.adw_id, {})
            after = list(scouts.values())[-1] if scouts else run_pane
            pane = ScoutPane(
                event.adw_id, event.agent, event.engine, id=f"scout-{event.adw_id}-{event.agent}"
            )
            scouts[event.agent] = pane
            self._grid().mount(pane, after=after)
        pane.show_status(event.status, event.detail)

    def remove_run(self, adw_id: str) -> None:
        """The run's scout panes go: its next step started, or its pane went."""
        for pane in self._panes.pop(adw_id, {}).values():
            pane.remove()
