"""A workflow's graph (`adw_tui.workflows.graph`) in a scrollable view, drawn for the
width it is given and again when that width changes, in the theme's colours."""

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from adw_tui.domain.workflow import WorkflowDef
from adw_tui.workflows.graph import GraphLine, Role, render_graph

ROLE_STYLES = {
    Role.SPACE: "",
    Role.BOX: "$primary",
    Role.TERMINAL: "$secondary",
    Role.NAME: "bold",
    Role.TAG: "$accent",
    Role.UNREACHABLE: "bold $warning",
    Role.RUNS: "$text",
    Role.NOTE: "italic $text-muted",
    Role.DETAIL: "$text-muted",
    Role.ON_SUCCESS: "$success",
    Role.ON_REJECT: "$warning",
    Role.ON_FAILURE: "$error",
    Role.ON_EXHAUSTED: "$error",
    Role.LANE: "$primary",
    Role.LOOP: "bold $warning",
}


def graph_content(lines: list[GraphLine]) -> Content:
    return Content("\n").join(
        Content.assemble(*((span.text, ROLE_STYLES[span.role]) for span in line)) for line in lines
    )


class GraphDrawing(Widget):
    """The graph itself: as tall as its lines at the width the layout gives it."""

    DEFAULT_CSS = """
    GraphDrawing {
        height: auto;
    }
    """

    workflow: reactive[WorkflowDef | None] = reactive(None, layout=True)

    def __init__(self) -> None:
        super().__init__()
        self._drawn: tuple[int, list[GraphLine]] | None = None
        """The lines last drawn and their width: the layout asks for the height at a
        width, then `render` for the lines at the same width."""

    def watch_workflow(self) -> None:
        self._drawn = None

    def lines(self, width: int) -> list[GraphLine]:
        if self.workflow is None:
            return []
        if self._drawn is None or self._drawn[0] != width:
            self._drawn = (width, render_graph(self.workflow, width))
        return self._drawn[1]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width))

    def render(self) -> Content:
        return graph_content(self.lines(self.size.width))


class WorkflowGraph(VerticalScroll):
    """A workflow's states and transitions; scrolls when taller than its space."""

    HELP = """\
## Workflow graph

The states top to bottom in the order a run goes through them, each a box: what it
runs (a prompt template like `/implement`, or a built-in action), its description and
settings (agent, promised output, retries...).

- `▼` under a box: the transition to the box below (`on_success`, or `on_reject` for a
  branch such as a failing test's fix).
- A line on the right leaves a box at `├` and arrives at `◀`: a transition to a box
  further away. `↺` marks a loop back to an earlier state (fix, then test again).
- `■` and the double boxes are terminal states: the run ends there, succeeded or as a
  dead letter. A failure with no declared target goes to the dead-letter state.

Scroll with the arrow keys, `page up`/`page down` or the mouse wheel.
"""

    workflow: reactive[WorkflowDef | None] = reactive(None)
    """The workflow drawn: another one is drawn from its top."""

    def compose(self) -> ComposeResult:
        yield GraphDrawing().data_bind(WorkflowGraph.workflow)

    def watch_workflow(self) -> None:
        self.scroll_home(animate=False)
