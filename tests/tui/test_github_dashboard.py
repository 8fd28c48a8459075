"""The dashboard on a GitHub-tracked repository (the loopback GitHub): the rate-limit
gauge, a failed report on the issue said in a notification, and the triggers' line."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adw_tui.config import Settings
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.store.deliveries import Delivery, DeliveryOutcome
from adw_tui.triggers.presence import Announcement
from adw_tui.tui.app import create_app
from adw_tui.tui.screens.dashboard import ResourceGauges
from adw_tui.tui.screens.dead_letters import DeadLettersScreen
from adw_tui.tui.widgets.trigger_line import TriggerLine
from tests.fake_github import FakeGitHub
from tests.fake_github import github_orchestrator as orchestrator_on
from tests.tui.conftest import record_notifications, until
from tests.tui.test_navigation import run_palette_command


@pytest.fixture
async def github_orchestrator(
    github: FakeGitHub, store: Store, repo: Path, settings: Settings
) -> AsyncIterator[Orchestrator]:
    async with orchestrator_on(github, store, repo, settings) as orchestrator:
        yield orchestrator


async def test_the_gauges_show_githubs_budget_and_a_failed_report_is_told(
    github: FakeGitHub,
    store: Store,
    repo: Path,
    settings: Settings,
    github_orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    number = github.add_issue("Add a slugify helper", "Slugs.")
    github.fail_next(502, "Bad Gateway", path_contains="/comments", method="POST")
    app = create_app(store, repo, settings, orchestrator=github_orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        gauges = app.dashboard.query_one(ResourceGauges)
        assert "github" not in str(gauges.render())  # no call made yet
        adw_id = await github_orchestrator.launch(number, workflow="plan")
        await github_orchestrator.wait(adw_id)
        await app.dashboard.refresh_runs(force=True)
        await pilot.pause()
        assert f"github {github.remaining:,}/5,000" in str(gauges.render())
        await until(pilot, lambda: any(n["title"] == "tracker comment failed" for n in notified))
        told = next(n for n in notified if n["title"] == "tracker comment failed")
        assert told["message"].startswith(f"{adw_id}: GitHub failed POST /repos/octo/hello/")
        assert told["severity"] == "warning"


async def test_the_trigger_line_shows_triggers_at_work_and_the_days_deliveries(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator
) -> None:
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(size=(120, 40)) as pilot:
        line = app.dashboard.query_one(TriggerLine)
        assert not line.display  # nothing to say: no trigger, no delivery
        async with Announcement(orchestrator, "webhook http://127.0.0.1:8001/gh-webhook"):
            for number, (outcome, reason, adw_id) in enumerate(
                [
                    (DeliveryOutcome.IGNORED, "no adw_<workflow> keyword", None),
                    (DeliveryOutcome.STARTED, None, "1a2b3c4d"),
                ]
            ):
                delivery = Delivery(
                    f"d-{number}", "webhook", "issues", "opened", issue=7, outcome=outcome,
                    reason=reason, adw_id=adw_id, received_at=f"2099-01-01T00:00:0{number}+00:00",
                )  # fmt: skip
                assert await store.deliveries.record_new(delivery, actor="github:octocat")
            await app.dashboard.refresh_runs(force=True)
            await pilot.pause()
            text = str(line.render())
            assert line.display
            assert text.startswith("triggers webhook http://127.0.0.1:8001/gh-webhook  last ")
            assert " issues.opened #7 started 1a2b3c4d" in text
            assert text.endswith("24h 1 started, 0 refused, 1 ignored")
        await app.dashboard.refresh_runs(force=True)
        await pilot.pause()
        assert str(line.render()).startswith("triggers none at work  last ")


async def test_the_palette_opens_without_githubs_issues_when_github_fails(
    github: FakeGitHub,
    store: Store,
    repo: Path,
    settings: Settings,
    github_orchestrator: Orchestrator,
) -> None:
    github.fail_next(500, "Server Error", times=10, path_contains="/issues", method="GET")
    app = create_app(store, repo, settings, orchestrator=github_orchestrator)
    async with app.run_test(size=(120, 40)) as pilot:
        await run_palette_command(pilot, "dead")
        assert isinstance(app.screen, DeadLettersScreen)
