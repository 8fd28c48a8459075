"""The KPIs (`k`): what `adw kpis` prints, per workflow and model set and per issue class,
with the success rate and the spend per day and the run durations drawn as charts
(textual-plotext).

The rows are read in a worker (one grouped query over the runs and their agent calls);
`t` changes the window (7 days, 30 days, everything), `r` reads again.
"""

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Header, Static
from textual_plotext import PlotextPlot

from adw_tui.domain.clock import Clock, utc_now
from adw_tui.domain.kpis import DECIDED, FIGURE_LABELS, Day, RunOutcome, by_day, figures, summarise
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.store import Store
from adw_tui.tui.screens.base import AdwScreen, says_store_errors
from adw_tui.tui.widgets.key_footer import KeyFooter
from adw_tui.tui.widgets.row_table import RowTable

WINDOWS: tuple[tuple[str, timedelta | None], ...] = (
    ("7 days", timedelta(days=7)),
    ("30 days", timedelta(days=30)),
    ("all time", None),
)
FIGURES = tuple((label, label) for label in FIGURE_LABELS)
"""(key, label) of the figure columns both tables share."""


class KpisScreen(AdwScreen):
    """Success rates, costs and durations of the recorded runs, as tables and charts."""

    HELP = """\
## KPIs

The runs created in the window (the title says which), per workflow and model set, then
per issue class: runs; successes of the decided runs (succeeded, failed or
dead-lettered) and the rate with its 95% interval; agent calls and dollars per success;
p50 and p95 run duration; the spend. On the right: the success rate and the spend per
day, and how long the decided runs took.

- `t` changes the window: 7 days, 30 days, all time.
- `r` reads the runs again; `escape` goes back.

From a shell: `adw kpis --since 7d` (`--json` for scripts).
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="kpis.back"),
        Binding("t", "next_window", "Window", id="kpis.window"),
        Binding("r", "reload", "Reload", id="kpis.reload"),
    ]

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        super().__init__(id="kpis")
        self._store = store
        self._clock = clock
        self._window = 1  # 30 days
        self.sub_title = "KPIs"

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="kpis-body"):
            with Vertical(id="kpis-tables"):
                yield RowTable[str](
                    (("workflow", "workflow"), ("set", "set"), *FIGURES),
                    id="kpis-by-workflow",
                    classes="framed",
                )
                yield RowTable[str](
                    (("class", "issue class"), *FIGURES), id="kpis-by-class", classes="framed"
                )
            with Vertical(id="kpis-charts"):
                yield PlotextPlot(id="kpis-success", classes="framed")
                yield PlotextPlot(id="kpis-cost", classes="framed")
                yield PlotextPlot(id="kpis-durations", classes="framed")
        yield Static(id="kpis-summary", classes="bar")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#kpis-by-workflow", RowTable).border_title = "by workflow"
        self.query_one("#kpis-by-class", RowTable).border_title = "by issue class"
        self.query_one("#kpis-by-workflow", RowTable).focus()

    def on_screen_resume(self) -> None:
        self.reload()

    def action_reload(self) -> None:
        self.reload()

    def action_next_window(self) -> None:
        self._window = (self._window + 1) % len(WINDOWS)
        self.reload()

    @property
    def window(self) -> str:
        return WINDOWS[self._window][0]

    @work(exclusive=True, group="kpis")
    @says_store_errors
    async def reload(self) -> None:
        label, span = WINDOWS[self._window]
        since = self._clock() - span if span is not None else None
        outcomes = await self._store.run_outcomes(since=since)
        self._show_tables(outcomes)
        self._show_charts(outcomes)
        decided = sum(outcome.status in DECIDED for outcome in outcomes)
        self.query_one("#kpis-summary", Static).update(
            Text(f"{len(outcomes)} runs created in the last {label}, {decided} decided")
            if span is not None
            else Text(f"{len(outcomes)} runs in all, {decided} decided")
        )

    def _show_tables(self, outcomes: Sequence[RunOutcome]) -> None:
        tables = (
            ("#kpis-by-workflow", summarise(outcomes, lambda run: (run.workflow, run.model_set))),
            ("#kpis-by-class", summarise(outcomes, lambda run: (run.issue_class or "-",))),
        )
        for selector, kpis in tables:
            table = self.query_one(selector, RowTable)
            table.clear()
            for kpi in kpis:
                group = tuple(terminal_safe(part) for part in kpi.group)
                table.add_row(*group, *figures(kpi), key="/".join(kpi.group))

    def _show_charts(self, outcomes: Sequence[RunOutcome]) -> None:
        days = by_day(outcomes)
        self._bars(
            "#kpis-success",
            "success rate per day (%)",
            [day for day in days if day.success_rate is not None],
            lambda day: 100 * (day.success_rate or 0),
        )
        self._bars("#kpis-cost", "spend per day ($)", days, lambda day: day.cost_usd)
        plot = self.query_one("#kpis-durations", PlotextPlot)
        plot.plt.clear_data()
        plot.plt.title("run duration of decided runs (minutes)")
        minutes = [
            outcome.duration_s / 60
            for outcome in outcomes
            if outcome.status in DECIDED and outcome.duration_s is not None
        ]
        if minutes:
            plot.plt.hist(minutes, bins=20)
        plot.refresh()

    def _bars(
        self, selector: str, title: str, days: list[Day], value: Callable[[Day], float]
    ) -> None:
        plot = self.query_one(selector, PlotextPlot)
        plot.plt.clear_data()
        plot.plt.title(title)
        if days:
            plot.plt.bar([day.day[5:] for day in days], [value(day) for day in days])
        plot.refresh()
