"""The fixed data every screen's snapshot shows is what conftest says it is."""

from adw_tui.domain.models import RunStatus
from adw_tui.store import Store
from tests.tui.conftest import FIXED_DEAD, FIXED_RUNNING, FIXED_SUCCEEDED, NOW


async def test_fixed_store_holds_three_runs_at_fixed_times(fixed_store: Store):
    runs = {run.adw_id: run for run in await fixed_store.list_runs()}
    assert runs[FIXED_SUCCEEDED].status is RunStatus.SUCCEEDED
    assert runs[FIXED_SUCCEEDED].version == 4
    assert runs[FIXED_DEAD].status is RunStatus.DEAD_LETTERED
    assert runs[FIXED_RUNNING].status is RunStatus.RUNNING
    assert all(run.updated_at < NOW for run in runs.values())
    history = await fixed_store.history(FIXED_SUCCEEDED)
    assert {entry.git_head for entry in history} == {"9f3c2a1", "4b7d0e2", "c81e5f9"}
    (letter,) = await fixed_store.dead_letters.list()
    assert letter.request["stderr_tail"].startswith("Error: 401")
    timeline = await fixed_store.steps.timeline(FIXED_SUCCEEDED)
    assert [line.step for line in timeline] == ["classify", "plan", "build"]
