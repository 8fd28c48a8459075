"""The KPI arithmetic: Wilson intervals, nearest-rank percentiles, and the grouping."""

import pytest

from adw_tui.domain.kpis import RunOutcome, percentile, summarise, wilson_interval


def test_the_wilson_interval_matches_the_published_values() -> None:
    # 1 of 2: the textbook example; 0 of 10 and 10 of 10 stay inside [0, 1].
    assert wilson_interval(1, 2) == pytest.approx((0.0945, 0.9055), abs=1e-4)
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 21)]
    assert percentile(values, 0.5) == 10
    assert percentile(values, 0.95) == 19
    assert percentile([7.0], 0.95) == 7
    assert percentile([], 0.5) is None


def _run(status: str, *, workflow: str = "sdlc", cost: float = 1.0, calls: int = 4) -> RunOutcome:
    decided = status in {"succeeded", "failed", "dead_lettered"}
    return RunOutcome(
        workflow=workflow,
        model_set="base",
        issue_class="feature",
        status=status,
        duration_s=60.0 if decided else None,
        cost_usd=cost,
        agent_calls=calls,
        tokens=100,
    )


def test_only_decided_runs_count_toward_the_rate_and_the_cost_of_a_success() -> None:
    runs = [
        _run("succeeded"),
        _run("succeeded"),
        _run("failed", cost=2.0, calls=8),
        _run("running", cost=5.0),  # active: a run, not yet a success or a failure
        _run("cancelled"),
        _run("succeeded", workflow="plan"),
    ]
    plan, sdlc = summarise(runs, lambda run: (run.workflow,))  # by group
    assert sdlc.group == ("sdlc",)
    assert (sdlc.runs, sdlc.decided, sdlc.succeeded) == (5, 3, 2)
    assert sdlc.success_rate == pytest.approx(2 / 3)
    assert sdlc.success_low is not None
    assert sdlc.success_high is not None
    assert sdlc.success_low < 2 / 3 < sdlc.success_high
    assert sdlc.agent_calls_per_success == 8  # (4 + 4 + 8) / 2
    assert sdlc.cost_per_success_usd == 2.0  # (1 + 1 + 2) / 2
    assert sdlc.cost_usd == 10.0  # every run's spend
    assert sdlc.p50_duration_s == 60.0
    assert plan.success_rate == 1.0


def test_a_group_without_a_success_has_no_cost_per_success() -> None:
    [kpi] = summarise([_run("failed"), _run("running")], lambda run: (run.workflow,))
    assert kpi.success_rate == 0.0
    assert kpi.cost_per_success_usd is None
    assert kpi.agent_calls_per_success is None
    [active] = summarise([_run("queued")], lambda run: (run.workflow,))
    assert active.success_rate is None
    assert active.success_low is None
