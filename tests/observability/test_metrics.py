"""`/metrics` from what a real database records: the values, and the exposition checked
by Prometheus's own `promtool`."""

import asyncio
from asyncio.subprocess import PIPE, STDOUT
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from adw_tui.domain.agent import AgentResult, ErrorClass
from adw_tui.domain.breakers import BreakerPolicy, Outcome
from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.observability.metrics import exposition, read_snapshot
from adw_tui.runtime.resources import ResourceSnapshot
from adw_tui.store import Store
from tests.conftest import create_run
from tests.observability.prometheus_binaries import prometheus_binary


async def _call(
    store: Store, adw_id: str, step: str, engine: str | None, result: AgentResult | None
) -> None:
    attempt = await store.steps.start(
        adw_id, step, visit=1, attempt=1, agent=None if engine is None else "agent", engine=engine
    )
    ok = result is None or result.success
    await store.steps.finish(
        attempt, StepStatus.SUCCEEDED if ok else StepStatus.FAILED, result=result
    )


async def _recorded(store: Store) -> None:
    first = await create_run(store, workflow="sdlc")
    second = await create_run(store, workflow="sdlc")
    await create_run(store, workflow="plan")
    await store.set_status(first.adw_id, RunStatus.SUCCEEDED, actor="test")
    spent = AgentResult(
        success=True, input_tokens=1000, output_tokens=200, cost_usd=0.25, duration_ms=42_000
    )
    await _call(store, first.adw_id, "plan", "claude", spent)
    await _call(store, first.adw_id, "plan", "codex", spent)
    failed = AgentResult(
        success=False, error_class=ErrorClass.RATE_LIMIT, duration_ms=2_000, input_tokens=10
    )
    await _call(store, second.adw_id, "build", "claude", failed)
    await _call(store, second.adw_id, "worktree", None, None)  # a built-in step
    policy = BreakerPolicy(
        failure_threshold=1, success_threshold=1, cooldown_s=60, probe_timeout_s=60
    )
    await store.breakers.record(
        "claude", Outcome.FAILURE, now=datetime.now(UTC), policy=policy, actor="test"
    )


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_the_metrics_add_up_what_the_database_recorded(store: Store) -> None:
    await _recorded(store)
    resources = ResourceSnapshot(
        slots_total=4,
        slots_used=1,
        running=["a"],
        queued=["b", "c"],
        waiting_for_memory=["b"],
        memory_percent=50.0,
        rate_limit_waits={"claude": 3},
    )
    text = exposition(await read_snapshot(store, resources)).decode()
    samples = _samples(text)
    assert samples[("adw_runs_created_total", (("workflow", "sdlc"),))] == 2
    assert samples[("adw_runs", (("status", "succeeded"), ("workflow", "sdlc")))] == 1
    assert samples[("adw_runs", (("status", "queued"), ("workflow", "plan")))] == 1
    finished = "adw_runs_finished_total"
    assert samples[(finished, (("status", "succeeded"), ("workflow", "sdlc")))] == 1
    assert samples[("adw_rate_limit_waits_total", (("service", "claude"),))] == 3
    calls = "adw_agent_calls_total"
    assert samples[(calls, (("engine", "claude"), ("error_class", "none")))] == 1
    assert samples[(calls, (("engine", "claude"), ("error_class", "rate_limit")))] == 1
    assert samples[(calls, (("engine", "codex"), ("error_class", "none")))] == 1
    # The built-in step is no agent call: three calls in all.
    assert sum(value for (name, _), value in samples.items() if name == calls) == 3
    assert samples[("adw_agent_tokens_total", (("direction", "input"), ("engine", "claude")))] == (
        1010
    )
    assert samples[("adw_agent_cost_usd_total", (("engine", "codex"),))] == 0.25
    plan = (("step", "plan"),)
    duration = "adw_step_attempt_duration_seconds"
    assert samples[(f"{duration}_count", plan)] == 2
    # Wall time, from the attempt's start to its end (these took well under a second),
    # not the agents' own 42 s each.
    assert samples[(f"{duration}_sum", plan)] < 5
    assert samples[(f"{duration}_bucket", (("le", "1"), *plan))] == 2
    assert samples[(f"{duration}_bucket", (("le", "+Inf"), *plan))] == 2
    assert samples[(f"{duration}_count", (("step", "worktree"),))] == 1
    assert samples[("adw_breaker_state", (("name", "claude"),))] == 2  # open
    assert samples[("adw_queue_depth", (("reason", "memory"),))] == 1
    assert samples[("adw_queue_depth", (("reason", "slot"),))] == 1
    assert samples[("adw_slots_used", ())] == 1
    assert 0 < samples[("adw_memory_used_percent", ())] <= 100


async def test_a_process_that_runs_no_workflows_reports_no_queue(store: Store) -> None:
    text = exposition(await read_snapshot(store, None)).decode()
    assert "adw_queue_depth" not in text
    assert "adw_runs_created" in text  # the families are there, empty


async def test_promtool_finds_the_exposition_well_formed(store: Store) -> None:
    promtool = prometheus_binary("promtool")
    await _recorded(store)
    text = exposition(await read_snapshot(store, None))
    checked = await asyncio.create_subprocess_exec(
        promtool, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=STDOUT
    )
    output, _ = await asyncio.wait_for(checked.communicate(text), timeout=30)
    assert checked.returncode == 0, output
    # Lint findings (naming, units) are printed without failing: none are expected.
    assert output.strip() == b""
