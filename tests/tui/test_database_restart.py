"""The dashboard on a PostgreSQL server that goes away and comes back: the gauges say
the database is unreachable while the store reconnects, a read that gave up is a toast
and no traceback, and the runs table updates again once the server is back; every other
screen says a server that stayed away in one line too, and goes on."""

import asyncio
from collections.abc import Awaitable, Callable
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


async def test_every_screen_says_a_database_that_stayed_away_in_one_line(
    own_cluster: tuple[Cluster, Server],
    repo: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the server down past `ADW_DB_RECONNECT`, each screen opened (or asked to
    read again) says so in one line, and the app goes on; once the server is back, a
    read shows the run again."""
    cluster, server = own_cluster
    db = server.create_database()
    store = await Store.open(db, reconnect_s=0.5)
    async with store, Orchestrator(store, repo, settings) as orchestrator:
        await store.create_run({"adw_id": "0a1b2c3d"}, workflow="plan", actor="t")
        app = create_app(store, repo, settings, orchestrator=orchestrator)
        notified = record_notifications(app, monkeypatch)
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: shown(app.dashboard.query_one(RunTable)) == {"0a1b2c3d"})
            await app.open_run_detail("0a1b2c3d")
            detail = app.screen
            await asyncio.to_thread(cluster.halt)
            try:
                openers: list[Callable[[], Awaitable[object]]] = [
                    lambda: pilot.press("r"),  # the run detail, read again
                    app.action_history,
                    app.action_fleet,
                    app.action_dead_letters,
                    app.action_kpis,
                ]
                for open_screen in openers:
                    said = len(said_gone(notified))
                    await open_screen()
                    await until(pilot, lambda: len(said_gone(notified)) > said, 30)  # noqa: B023
                    assert app.is_running
            finally:
                await asyncio.to_thread(cluster.resume)
            assert all("\n" not in message for message in said_gone(notified))
            assert app.return_code is None  # no traceback, nothing ended
            await app.switch_mode("dashboard")
            await pilot.press("escape")  # the run's history, opened over its detail
            await until(pilot, lambda: app.screen is detail)
            await pilot.press("r")
            await until(pilot, lambda: "0a1b2c3d" in str(detail.query_one("#run-summary").render()))


def said_gone(notified: list[dict[str, object]]) -> list[str]:
    """The messages of the toasts that said the database stayed away."""
    return [
        str(n["message"])
        for n in notified
        if n.get("title") == "database" and "ADW_DB_RECONNECT" in str(n["message"])
    ]
