"""One scout of a running scout step: its engine, its status and its output.

The dashboard mounts one beside its run's pane for each scout the step starts (the
runtime's `ScoutChanged` events), routes each scout's agent lines to its own pane, and
removes them when the run's next step starts.
"""

from adw_tui.domain.scouts import ScoutStatus
from adw_tui.tui.formatting import plain_title
from adw_tui.tui.widgets.agent_pane import AgentPane

SCOUT_PANE_LINES = 500
"""A scout says little: its pane keeps fewer lines than a run's."""
DETAIL_CHARS = 60


class ScoutPane(AgentPane):
    """An AgentPane titled "run · agent · engine", its status on the bottom border."""

    DEFAULT_CSS = """
    ScoutPane {
        border: round $secondary 50%;
        &.-done { border: round $success 60%; }
        &.-skipped { border: round $warning 60%; }
    }
    """

    def __init__(self, adw_id: str, agent: str, engine: str, *, id: str | None = None) -> None:
        super().__init__(adw_id, max_lines=SCOUT_PANE_LINES, id=id)
        self.agent = agent
        self.engine = engine
        self.status = ScoutStatus.RUNNING
        self.border_title = plain_title(adw_id, agent, engine)
        self.show_status(ScoutStatus.RUNNING)

    def show_status(self, status: ScoutStatus, detail: str = "") -> None:
        """`status` (and why, cut short) on the bottom border; the border's colour says
        whether the scout answered."""
        self.status = status
        short = detail if len(detail) <= DETAIL_CHARS else detail[: DETAIL_CHARS - 1] + "…"
        self.border_subtitle = plain_title(str(status), short or None)
        self.set_class(status is ScoutStatus.DONE, "-done")
        self.set_class(status not in (ScoutStatus.RUNNING, ScoutStatus.DONE), "-skipped")
