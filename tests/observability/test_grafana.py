"""contrib/grafana-adw.json asks only for metrics `/metrics` serves: every metric a panel
queries is in the exposition of a store with a run and an agent call recorded."""

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from adw_tui.domain.agent import AgentResult
from adw_tui.domain.steps import StepStatus
from adw_tui.observability.metrics import exposition, read_snapshot
from adw_tui.runtime.resources import ResourceSnapshot
from adw_tui.store import Store
from tests.conftest import create_run

DASHBOARD = Path(__file__).resolve().parents[2] / "contrib" / "grafana-adw.json"
METRIC = re.compile(r"\badw_[a-z_]+")


async def test_every_panel_queries_a_metric_adw_serves(store: Store) -> None:
    run = await create_run(store, workflow="sdlc")
    attempt = await store.steps.start(run.adw_id, "plan", visit=1, attempt=1, agent="a")
    await store.steps.finish(attempt, StepStatus.SUCCEEDED, result=AgentResult(success=True))
    resources = ResourceSnapshot(
        slots_total=2,
        slots_used=0,
        running=[],
        queued=[],
        waiting_for_memory=[],
        memory_percent=1.0,
    )
    text = exposition(await read_snapshot(store, resources)).decode()
    families = list(text_string_to_metric_families(text))
    # A family with no sample yet (no breaker has recorded anything) is served all the same.
    served = {family.name for family in families} | {
        sample.name for family in families for sample in family.samples
    }
    served |= {f"{family.name}_total" for family in families if family.type == "counter"}
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in METRIC.findall(target["expr"])
    }
    assert queried
    assert queried <= served, queried - served
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
