"""The fixed data every screen's snapshot shows is what conftest says it is, and the
screens draw it alike from either engine (so the snapshots are taken on SQLite alone)."""

from pathlib import Path

import pytest

from adw_tui.config import Settings
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.store.location import PostgresDsn
from adw_tui.tui.app import create_app
from tests.tui.conftest import (
    FIXED_DEAD,
    FIXED_REPO,
    FIXED_RUNNING,
    FIXED_SUCCEEDED,
    NOW,
    seed_fixed_data,
    settle,
)
from tests.tui.test_navigation import cursor_to


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


async def screens(store: Store) -> list[str]:
    """The dashboard, a finished run's detail and history, and the dead letters, over
    `store`'s fixed data, as the fixed app draws them (SVG)."""
    settings = Settings(max_concurrent=4, engine="claude")
    orchestrator = Orchestrator(store, FIXED_REPO, settings)
    app = create_app(store, FIXED_REPO, settings, orchestrator=orchestrator, clock=lambda: NOW)
    drawn = []
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        drawn.append(app.export_screenshot())
        cursor_to(app, FIXED_SUCCEEDED)
        for key in ("enter", "h", "escape", "escape", "d"):
            await pilot.press(key)
            await settle(pilot)
            drawn.append(app.export_screenshot())
    return drawn


@pytest.mark.postgresql
async def test_the_screens_draw_the_fixed_data_alike_from_either_engine(
    fixed_store: Store, postgres_dsn: PostgresDsn, tmp_path: Path
):
    async with await Store.open(postgres_dsn) as on_postgres:
        await seed_fixed_data(on_postgres, tmp_path / "postgres")
        assert await screens(on_postgres) == await screens(fixed_store)
