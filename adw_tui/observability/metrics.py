"""`/metrics`: the recorded runs and agent calls, the breakers and the machine's memory,
and, from a process that runs workflows, its queue and slots, in Prometheus's text
format.

Each scrape reads a fresh snapshot (`read_snapshot`) and renders it through a registry
of its own: nothing is counted in memory, so every process serving `/metrics` on the
same database reports the same totals (see `adw_tui.store.tallies`).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from adw_tui.domain.breakers import Breaker, BreakerState
from adw_tui.runtime.memory import system_memory_percent
from adw_tui.runtime.resources import ResourceSnapshot
from adw_tui.store import Store
from adw_tui.store.tallies import DURATION_BUCKETS_S, Tallies

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BREAKER_STATE_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    tallies: Tallies
    breakers: list[Breaker]
    memory_percent: float
    resources: ResourceSnapshot | None
    """The serving process's queue and slots; None where it runs no workflows (`adw
    serve`)."""


async def read_snapshot(store: Store, resources: ResourceSnapshot | None) -> MetricsSnapshot:
    return MetricsSnapshot(
        tallies=await store.tallies(),
        breakers=await store.breakers.list(),
        memory_percent=system_memory_percent(),
        resources=resources,
    )


def exposition(snapshot: MetricsSnapshot) -> bytes:
    """The snapshot in Prometheus's text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(list(families(snapshot))))
    return generate_latest(registry)


def families(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    yield from _run_families(snapshot.tallies)
    yield from _call_families(snapshot.tallies)
    yield _durations(snapshot.tallies)
    breakers = GaugeMetricFamily(
        "adw_breaker_state",
        "Circuit breaker state: 0 closed, 1 half-open, 2 open",
        labels=["name"],
    )
    for breaker in snapshot.breakers:
        breakers.add_metric([breaker.name], BREAKER_STATE_VALUES[breaker.state])
    yield breakers
    yield GaugeMetricFamily(
        "adw_memory_used_percent", "System memory in use", value=snapshot.memory_percent
    )
    if snapshot.resources is not None:
        yield from _resource_families(snapshot.resources)


def _run_families(tallies: Tallies) -> Iterator[Metric]:
    created = CounterMetricFamily(
        "adw_runs_created", "Runs ever created, by workflow", labels=["workflow"]
    )
    by_status = GaugeMetricFamily(
        "adw_runs", "Runs in each status now, by workflow", labels=["workflow", "status"]
    )
    per_workflow: dict[str, int] = {}
    for count in tallies.runs:
        by_status.add_metric([count.workflow, count.status], count.runs)
        per_workflow[count.workflow] = per_workflow.get(count.workflow, 0) + count.runs
    for workflow, runs in per_workflow.items():
        created.add_metric([workflow], runs)
    finished = CounterMetricFamily(
        "adw_runs_finished",
        "Runs that ended, by workflow and final status (a replayed run can end again)",
        labels=["workflow", "status"],
    )
    for count in tallies.finished:
        finished.add_metric([count.workflow, count.status], count.runs)
    yield created
    yield by_status
    yield finished


def _call_families(tallies: Tallies) -> Iterator[Metric]:
    labels = ["engine", "error_class"]
    calls = CounterMetricFamily(
        "adw_agent_calls", "Finished agent calls, by engine and error class", labels=labels
    )
    tokens = CounterMetricFamily(
        "adw_agent_tokens", "Tokens of finished agent calls", labels=["engine", "direction"]
    )
    cost = CounterMetricFamily(
        "adw_agent_cost_usd", "US dollars spent by finished agent calls", labels=["engine"]
    )
    spent: dict[str, tuple[int, int, float]] = {}
    for tally in tallies.calls:
        calls.add_metric([tally.engine, tally.error_class], tally.calls)
        before = spent.get(tally.engine, (0, 0, 0.0))
        spent[tally.engine] = (
            before[0] + tally.input_tokens,
            before[1] + tally.output_tokens,
            before[2] + tally.cost_usd,
        )
    for engine, (tokens_in, tokens_out, dollars) in spent.items():
        tokens.add_metric([engine, "input"], tokens_in)
        tokens.add_metric([engine, "output"], tokens_out)
        cost.add_metric([engine], dollars)
    yield from (calls, tokens, cost)


def _durations(tallies: Tallies) -> Metric:
    histogram = HistogramMetricFamily(
        "adw_step_attempt_duration_seconds",
        "Wall time of finished step attempts (agent calls and built-in steps), by step",
        labels=["step"],
    )
    for step in tallies.durations:
        buckets = [
            (f"{bound:g}", float(count))
            for bound, count in zip(DURATION_BUCKETS_S, step.buckets, strict=True)
        ]
        buckets.append(("+Inf", float(step.count)))
        histogram.add_metric([step.step], buckets, step.sum_s)
    return histogram


def _resource_families(resources: ResourceSnapshot) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "adw_slots", "Concurrency slots of this process", value=resources.slots_total
    )
    yield GaugeMetricFamily(
        "adw_slots_used", "Concurrency slots in use in this process", value=resources.slots_used
    )
    waiting = GaugeMetricFamily(
        "adw_queue_depth", "Runs of this process waiting for a slot, by reason", labels=["reason"]
    )
    held_lists = {
        "memory": resources.waiting_for_memory,
        "other_processes": resources.waiting_for_other_processes,
        "budget": resources.waiting_for_budget,
    }
    for reason, held_runs in held_lists.items():
        waiting.add_metric([reason], len(held_runs))
    held = sum(len(held_runs) for held_runs in held_lists.values())
    waiting.add_metric(["slot"], len(resources.queued) - held)
    yield waiting
    waits = CounterMetricFamily(
        "adw_rate_limit_waits",
        "Times a call of this process waited for a service's rate limit, by service",
        labels=["service"],
    )
    for service, count in sorted(resources.rate_limit_waits.items()):
        waits.add_metric([service], count)
    yield waits


class _Families(Collector):
    """A collector of families made beforehand."""

    def __init__(self, made: Iterable[Metric]) -> None:
        self._made = list(made)

    def collect(self) -> Iterable[Metric]:
        return self._made
