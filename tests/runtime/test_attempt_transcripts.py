"""Each step attempt keeps its own agent transcript, with the real simulated agent: a
retried call does not lose the stream of the call before it."""

import os
import stat
from pathlib import Path

from adw_tui.agents.runner import RAW_OUTPUT_FILE
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.runtime.test_orchestrator import fast_settings, faulty_plan_run


async def test_a_retried_call_keeps_the_transcript_of_the_failed_one(repo: Path, store: Store):
    orchestrator = Orchestrator(store, repo, fast_settings(repo))
    run = await faulty_plan_run(orchestrator, store, "fail_once")
    await orchestrator.aclose()
    assert run.status is RunStatus.SUCCEEDED
    adw_id = run.adw_id

    [plan] = [visit for visit in await store.steps.timeline(adw_id) if visit.step == "plan"]
    assert plan.agent is not None
    assert len(plan.attempt_ids) == 2
    failed, succeeded = (
        orchestrator.attempt_transcript_path(adw_id, plan.agent, attempt_id)
        for attempt_id in plan.attempt_ids
    )
    assert failed is not None
    assert succeeded is not None
    failed_lines = failed.read_text().splitlines()
    succeeded_lines = succeeded.read_text().splitlines()
    assert failed_lines
    assert succeeded_lines
    assert '"is_error":true' in failed_lines[-1].replace(" ", "")
    assert '"is_error":false' in succeeded_lines[-1].replace(" ", "")
    # The agent's raw_output.jsonl is its latest call: the same file as the last attempt's.
    latest = orchestrator.transcript_path(adw_id, plan.agent)
    assert latest.name == RAW_OUTPUT_FILE
    assert os.path.samefile(latest, succeeded)
    assert not os.path.samefile(latest, failed)
    # Raw streams are not redacted: only their owner may read them.
    assert {stat.S_IMODE(path.stat().st_mode) for path in (latest, failed, succeeded)} == {0o600}
