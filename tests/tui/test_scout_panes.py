"""The dashboard's scout panes: a real scout step of the simulated agent (one scout hangs
until its timeout, one answers off format, one answers), each scout in a pane of its
own with its engine, its status and its output."""

from pathlib import Path

from adw_tui.config import Settings
from adw_tui.domain.scouts import ScoutStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import create_app
from tests.runtime.test_scouts import FAULTS, scouting_workflow

# One engine: the scouts' panes show their agents' output, not the store's data.
from tests.tui.conftest import sqlite_alone as engine  # noqa: F401
from tests.tui.conftest import until

# The hung scout's timeout leaves the other two time to end first, even on a loaded
# machine (with 2 s, under a full parallel run, it timed out before they ended).
SCOUTS = [
    {"engine": "sim", "model": "hangs", "timeout": 8},
    {"engine": "sim", "model": "garbled"},
    {"engine": "sim", "model": "sonnet"},
]


async def test_each_scout_has_a_pane_with_its_engine_status_and_output(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
) -> None:
    scouting_workflow(repo, SCOUTS)
    issue = await store.issues.create("Count words in the words helper", "x")
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(160, 50)) as pilot:
        adw_id = await orchestrator.launch(
            issue.number, workflow="scouting", engine_env={"ADW_SIM_FAULTS": FAULTS}
        )
        dashboard = app.dashboard

        def statuses() -> list[ScoutStatus]:
            return [pane.status for pane in dashboard.scout_panes(adw_id)]

        # The quick scouts end while the hung one still runs.
        await until(
            pilot,
            lambda: statuses() == [ScoutStatus.RUNNING, ScoutStatus.MALFORMED, ScoutStatus.DONE],
        )
        hung, garbled, answered = dashboard.scout_panes(adw_id)
        assert [pane.agent for pane in (hung, garbled, answered)] == [
            "scout_sim_1",
            "scout_sim_2",
            "scout_sim_3",
        ]
        assert str(hung.border_title) == f"{adw_id} · scout_sim_1 · sim"
        assert str(hung.border_subtitle) == "running"
        assert str(garbled.border_subtitle).startswith("skipped: malformed · no `<path>")
        assert garbled.has_class("-skipped")
        assert answered.has_class("-done")
        # Each scout's lines went to its own pane, none to the run's.
        await until(
            pilot,
            lambda: any("textkit/words.py" in line for line in answered.log_widget.plain_lines()),
        )
        assert any("I had a look around" in line for line in garbled.log_widget.plain_lines())
        assert not any("I had a look around" in line for line in answered.log_widget.plain_lines())

        await until(pilot, lambda: statuses()[0] is ScoutStatus.TIMEOUT)
        assert str(hung.border_subtitle).startswith("skipped: timeout · no answer within 8s")
        await orchestrator.wait(adw_id)
