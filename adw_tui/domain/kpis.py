"""The agentic KPIs (`adw kpis`): how often each workflow succeeds, what a success costs
and how long a run takes, from the recorded runs.

Pure functions over one row per run; the store reads the rows (`adw_tui.store.kpis`).
A success rate is only ever shown with its 95% Wilson interval: at the handful of runs
a new workflow has, the rate alone says little.
"""

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from adw_tui.domain.durations import format_age

DECIDED = frozenset({"succeeded", "failed", "dead_lettered"})
"""The statuses that say whether a run worked; cancelled, interrupted, paused and active
runs say neither, and are counted as runs only."""
Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """One run as the KPIs see it."""

    workflow: str
    model_set: str
    issue_class: str
    status: str
    duration_s: float | None
    """From its creation to its last change, for a decided run; None otherwise."""
    cost_usd: float
    agent_calls: int
    tokens: int
    day: str = ""
    """The UTC date it was created on, `2026-12-07`."""


@dataclass(frozen=True, slots=True)
class Kpi:
    """The KPIs of one group of runs (a workflow and model set, or an issue class)."""

    group: tuple[str, ...]
    runs: int
    decided: int
    succeeded: int
    success_low: float | None
    success_high: float | None
    agent_calls_per_success: float | None
    p50_duration_s: float | None
    p95_duration_s: float | None
    cost_per_success_usd: float | None
    cost_usd: float
    tokens: int

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.decided if self.decided else None


FIGURE_LABELS = ("runs", "ok", "rate", "95%", "calls/ok", "p50", "p95", "$/ok", "$")
"""The columns of `figures`, as `adw kpis` and the KPI screen head them."""


def figures(kpi: Kpi) -> tuple[str, ...]:
    """A KPI row's figures as `adw kpis` and the KPI screen show them (`FIGURE_LABELS`);
    `-` where there is nothing to show."""

    def maybe(value: float | None, form: str) -> str:
        return "-" if value is None else form.format(value)

    def duration(seconds: float | None) -> str:
        return "-" if seconds is None else format_age(timedelta(seconds=seconds))

    interval = (
        f"{kpi.success_low:.0%}-{kpi.success_high:.0%}"
        if kpi.success_low is not None and kpi.success_high is not None
        else "-"
    )
    return (
        str(kpi.runs),
        f"{kpi.succeeded}/{kpi.decided}",
        maybe(kpi.success_rate, "{:.0%}"),
        interval,
        maybe(kpi.agent_calls_per_success, "{:.1f}"),
        duration(kpi.p50_duration_s),
        duration(kpi.p95_duration_s),
        maybe(kpi.cost_per_success_usd, "${:.2f}"),
        f"${kpi.cost_usd:.2f}",
    )


@dataclass(frozen=True, slots=True)
class StepFailures:
    """How often one step of one workflow failed, by error class."""

    workflow: str
    step: str
    error_class: str
    failures: int


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default)."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - spread), min(1.0, centre + spread)


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of sorted values; None for none."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarise(
    outcomes: Iterable[RunOutcome], group_of: Callable[[RunOutcome], tuple[str, ...]]
) -> list[Kpi]:
    """The KPIs of each group of `outcomes`, by group."""
    groups: dict[tuple[str, ...], list[RunOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(group_of(outcome), []).append(outcome)
    return [_kpi(group, groups[group]) for group in sorted(groups)]


def _kpi(group: tuple[str, ...], runs: list[RunOutcome]) -> Kpi:
    decided = [run for run in runs if run.status in DECIDED]
    succeeded = sum(run.status == "succeeded" for run in decided)
    low, high = wilson_interval(succeeded, len(decided)) if decided else (None, None)
    durations = sorted(run.duration_s for run in decided if run.duration_s is not None)
    spent = sum(run.cost_usd for run in decided)
    return Kpi(
        group=group,
        runs=len(runs),
        decided=len(decided),
        succeeded=succeeded,
        success_low=low,
        success_high=high,
        agent_calls_per_success=(
            sum(run.agent_calls for run in decided) / succeeded if succeeded else None
        ),
        p50_duration_s=percentile(durations, 0.50),
        p95_duration_s=percentile(durations, 0.95),
        cost_per_success_usd=spent / succeeded if succeeded else None,
        cost_usd=sum(run.cost_usd for run in runs),
        tokens=sum(run.tokens for run in runs),
    )


@dataclass(frozen=True, slots=True)
class Day:
    """The runs created on one day: how many, how many decided and succeeded, the spend."""

    day: str
    runs: int
    decided: int
    succeeded: int
    cost_usd: float

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.decided if self.decided else None


def by_day(outcomes: Iterable[RunOutcome]) -> list[Day]:
    """The runs' figures per day of creation, oldest first (days without runs left out)."""
    days: dict[str, list[RunOutcome]] = {}
    for outcome in outcomes:
        days.setdefault(outcome.day, []).append(outcome)
    return [
        Day(
            day=day,
            runs=len(runs),
            decided=sum(run.status in DECIDED for run in runs),
            succeeded=sum(run.status == "succeeded" for run in runs),
            cost_usd=sum(run.cost_usd for run in runs),
        )
        for day, runs in sorted(days.items())
    ]
