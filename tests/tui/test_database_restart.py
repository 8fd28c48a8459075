"""The dashboard on a PostgreSQL server that goes away and comes back: the gauges say
the database is unreachable while the store reconnects, a read that gave up is a toast
and no traceback, and the runs table updates again once the server is back."""

import asyncio
from pathlib import Path

import pytest

from adw_tui.config import Settings
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import create_app
from adw_tui.tui.screens import dashboard
from adw_tui.tui.screens.dashboard import ResourceGauges, RunTable
from tests.postgres import Cluster, Server
from tests.tui.conftest import notice, record_notifications, until

pytestmark = pytest.mark.postgresql


def shown(table: RunTable) -> set[str]:
    return {str(key.value) for key in table.rows}


async def test_the_dashboard_keeps_working_across_a_database_restart(
    own_cluster: tuple[Cluster, Server],
    repo: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dashboard, "REFRESH_S", 0.2)
    cluster, server = own_cluster
    db = server.create_database()
    store = await Store.open(db, reconnect_s=1.0)  # reads give up while it is down
    async with store, Orchestrator(store, repo, settings) as orchestrator:
        await store.create_run({"adw_id": "0a1b2c3d"}, workflow="plan", actor="t")
        app = create_app(store, repo, settings, orchestrator=orchestrator)
        notified = record_notifications(app, monkeypatch)
        async with app.run_test(size=(160, 40)) as pilot:
            table = app.dashboard.query_one("#runs", RunTable)
            gauges = app.dashboard.query_one(ResourceGauges)
            await until(pilot, lambda: shown(table) == {"0a1b2c3d"})

            await asyncio.to_thread(cluster.halt)
            await until(pilot, lambda: "database unreachable" in str(gauges.render()), 30)
            assert "reconnecting" in str(gauges.render())
            gave_up = await notice(pilot, notified, "database", 30)
            assert "ADW_DB_RECONNECT" in gave_up["message"]
            await asyncio.to_thread(cluster.resume)

            async with await Store.open(db) as elsewhere:  # another process's new run
                await elsewhere.create_run({"adw_id": "1b2c3d4e"}, workflow="plan", actor="t")
            await until(pilot, lambda: shown(table) == {"0a1b2c3d", "1b2c3d4e"}, 30)
            await until(pilot, lambda: "database unreachable" not in str(gauges.render()), 30)
            assert "slots" in str(gauges.render())
            assert app.is_running
