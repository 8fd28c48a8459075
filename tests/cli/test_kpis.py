"""`adw kpis` over a real database: the groups, the filters, the failing steps."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from adw_tui.domain.agent import AgentResult, ErrorClass
from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.store import Store
from tests.conftest import db_argument

ADW = Path(sys.executable).parent / "adw"


def adw(db: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ADW), "--db", db, "kpis", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "160"},
    )


async def _run(
    store: Store, adw_id: str, workflow: str, status: RunStatus, issue_class: str, **extra: Any
) -> None:
    await store.create_run(
        {"adw_id": adw_id, "issue_class": issue_class, **extra},
        workflow=workflow,
        actor="test",
        status=status,
    )
    spent = AgentResult(success=True, cost_usd=0.5, input_tokens=100, output_tokens=20)
    attempt = await store.steps.start(adw_id, "plan", visit=1, attempt=1, agent="planner")
    await store.steps.finish(attempt, StepStatus.SUCCEEDED, result=spent)
    if status is not RunStatus.SUCCEEDED:
        failed = AgentResult(success=False, error_class=ErrorClass.RATE_LIMIT)
        attempt = await store.steps.start(adw_id, "build", visit=1, attempt=1, agent="builder")
        await store.steps.finish(attempt, StepStatus.FAILED, result=failed)


async def test_kpis_group_runs_by_workflow_model_set_and_issue_class(store: Store) -> None:
    await _run(store, "a0000001", "sdlc", RunStatus.SUCCEEDED, "/feature")
    await _run(store, "a0000002", "sdlc", RunStatus.SUCCEEDED, "/bug", model_set="heavy")
    await _run(store, "a0000003", "sdlc", RunStatus.DEAD_LETTERED, "/bug")
    await _run(store, "a0000004", "plan", RunStatus.RUNNING, "/chore")
    db = db_argument(store)
    done = adw(db, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["runs"] == 4
    rows = {(row["workflow"], row["model_set"]): row for row in report["by_workflow"]}
    base = rows[("sdlc", "base")]
    assert (base["runs"], base["decided"], base["succeeded"]) == (2, 2, 1)
    assert base["success_rate"] == 0.5
    assert base["cost_per_success_usd"] == 1.0  # two plans of $0.50, one success
    assert base["agent_calls_per_success"] == 3  # plan, plan, build
    assert rows[("sdlc", "heavy")]["success_rate"] == 1.0
    assert rows[("plan", "base")]["success_rate"] is None  # still running
    classes = {row["issue_class"]: row for row in report["by_issue_class"]}
    assert set(classes) == {"feature", "bug", "chore"}  # the `/` of the original ADW gone
    assert classes["bug"]["succeeded"] == 1
    assert report["failing_steps"] == [
        {"workflow": "plan", "step": "build", "error_class": "rate_limit", "failures": 1},
        {"workflow": "sdlc", "step": "build", "error_class": "rate_limit", "failures": 1},
    ]
    only_plan = json.loads(adw(db, "--json", "--workflow", "plan").stdout)
    assert only_plan["runs"] == 1
    assert json.loads(adw(db, "--json", "--since", "2999-01-01").stdout)["runs"] == 0
    table = adw(db)
    assert table.returncode == 0, table.stderr
    assert "By workflow" in table.stdout
    assert "50%" in table.stdout
    assert "Steps failing most" in table.stdout


def test_kpis_without_a_database_say_there_are_no_runs(tmp_path: Path) -> None:
    done = adw(str(tmp_path / "agents" / "adw_state.db"))
    assert done.returncode == 0, done.stderr
    assert "No runs recorded yet." in done.stdout
