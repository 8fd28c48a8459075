"""`adw poll`'s poller against the loopback GitHub: new issues and keyword comments start
runs once, even across a restart; an unchanged repository costs one conditional request."""

import asyncio
from pathlib import Path

import pytest

from adw_tui.domain.breakers import Outcome
from adw_tui.domain.clock import utc_now
from adw_tui.domain.issues import bot_comment
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.store.deliveries import DeliveryOutcome
from adw_tui.triggers.counters import TriggerCounters
from adw_tui.triggers.dispatch import Dispatcher, launcher_of
from adw_tui.triggers.poller import Poller, PollerStopped
from adw_tui.triggers.workflow_names import trigger_workflows
from tests.fake_github import FakeGitHub
from tests.runtime.test_orchestrator import fast_settings
from tests.triggers.conftest import github_orchestrator


def poller_on(
    orchestrator: Orchestrator, *, default: str | None = None, interval_s: float = 60
) -> Poller:
    store = orchestrator.store
    return Poller(
        store,
        orchestrator.tracker,
        Dispatcher(store, launcher_of(orchestrator), TriggerCounters("poll")),
        workflows=trigger_workflows(orchestrator.repo, default),
        default_workflow=default,
        interval_s=interval_s,
    )


async def run_ids(store: Store) -> list[str]:
    return [
        e.adw_id
        for e in await store.audit.entries(limit=1000)
        if e.action == "run.create" and e.adw_id
    ]


async def test_a_new_issue_starts_one_run_and_an_unchanged_poll_costs_one_304(
    orchestrator: Orchestrator, github: FakeGitHub, store: Store
) -> None:
    for n in range(3):
        github.add_issue(f"Old issue {n}", "no keyword")
    number = github.add_issue("Add a slugify helper", "Slugs. adw_plan")
    poller = poller_on(orchestrator)
    [started] = [d for d in await poller.poll() if d.outcome is DeliveryOutcome.STARTED]
    assert started.delivery_id == f"poll:{number}:opened"
    assert started.adw_id is not None
    assert (await orchestrator.wait(started.adw_id)).status is RunStatus.SUCCEEDED
    assert poller.counters.ignored == 3  # the old issues: no keyword, no default

    assert await poller.poll() == []  # the run's comments and labels: nothing to act on
    before = len(github.log)
    remaining = github.remaining
    assert await poller.poll() == []
    [call] = github.log[before:]
    assert (call.method, call.path, call.status) == ("GET", "/repos/octo/hello/issues", 304)
    assert call.query["sort"] == "updated"
    assert github.remaining == remaining  # no rate limit spent
    assert orchestrator.tracker.rate_budget is not None  # type: ignore[attr-defined]
    assert await run_ids(store) == [started.adw_id]


async def test_a_restart_does_not_start_the_same_run_again(
    github: FakeGitHub, store: Store, repo: Path
) -> None:
    number = github.add_issue("Add a slugify helper", "adw_plan")
    async with github_orchestrator(github, store, repo) as orchestrator:
        [started] = await poller_on(orchestrator).poll()
        assert started.adw_id is not None
        await orchestrator.wait(started.adw_id)
    github.add_issue("Another, with no keyword", "")
    async with github_orchestrator(github, store, repo) as orchestrator:
        restarted = poller_on(orchestrator)
        taken = await restarted.poll()
        assert [d.outcome for d in taken] == [DeliveryOutcome.IGNORED]  # only the new one
        assert await restarted.poll() == []
    assert await run_ids(store) == [started.adw_id]
    assert number == 1


async def test_a_persons_keyword_comment_starts_a_run_and_adws_own_does_not(
    orchestrator: Orchestrator, github: FakeGitHub, store: Store
) -> None:
    number = github.add_issue("Add a slugify helper", "Words only.")
    poller = poller_on(orchestrator)
    assert [d.outcome for d in await poller.poll()] == [DeliveryOutcome.IGNORED]
    github.add_comment(number, bot_comment("abcd1234", "ops", "adw_plan finished"))
    github.add_comment(number, "adw_plan", login="dependabot[bot]")
    assert await poller.poll() == []  # adw's own comment and a bot's are passed over
    github.add_comment(number, "Please adw_plan this", login="alice")
    github.add_comment(number, bot_comment("abcd1234", "ops", "a report after it"))
    [started] = await poller.poll()  # the latest comment of a person, found behind adw's
    assert started.outcome is DeliveryOutcome.STARTED
    assert started.workflow == "plan"
    audit = [e for e in await store.audit.entries() if e.action == "trigger.started"]
    assert audit[0].actor == "github:alice"
    assert started.adw_id is not None
    await orchestrator.wait(started.adw_id)


async def test_a_strangers_issue_or_comment_starts_nothing(
    orchestrator: Orchestrator, github: FakeGitHub, store: Store
) -> None:
    number = github.add_issue("Add a slugify helper", "adw_plan", association="NONE")
    poller = poller_on(orchestrator)
    [ignored] = await poller.poll()
    assert ignored.outcome is DeliveryOutcome.IGNORED
    assert ignored.reason is not None
    assert ignored.reason.startswith("octocat is NONE of the repository")
    github.add_comment(number, "adw_plan please", login="mallory", association="CONTRIBUTOR")
    [again] = await poller.poll()
    assert again.reason is not None
    assert again.reason.startswith("mallory is CONTRIBUTOR of the repository")
    github.add_comment(number, "adw_plan", login="alice", association="COLLABORATOR")
    [started] = await poller.poll()
    assert started.outcome is DeliveryOutcome.STARTED
    assert started.adw_id is not None
    await orchestrator.wait(started.adw_id)
    assert await run_ids(store) == [started.adw_id]


async def test_a_second_keyword_while_a_run_is_active_is_refused(
    orchestrator: Orchestrator, github: FakeGitHub, store: Store
) -> None:
    number = github.add_issue("Add a slugify helper", "adw_plan")
    poller = poller_on(orchestrator)
    [first] = await poller.poll()
    github.add_comment(number, "adw_plan again", login="alice")
    [second] = await poller.poll()
    assert second.outcome is DeliveryOutcome.REFUSED
    assert second.reason is not None
    assert "already has an active plan run" in second.reason
    assert first.adw_id is not None
    await orchestrator.wait(first.adw_id)


async def test_github_failing_is_retried_and_a_bad_token_stops_the_poller(
    orchestrator: Orchestrator, github: FakeGitHub
) -> None:
    github.add_issue("Add a slugify helper", "no keyword")
    poller = poller_on(orchestrator, interval_s=0.01)
    github.fail_next(502, "Server Error", times=2)
    github.fail_next(401, "Bad credentials", path_contains="/issues")
    with pytest.raises(PollerStopped) as stopped:
        await asyncio.wait_for(poller.run(), 5)
    assert poller.counters.errors == 2
    message = str(stopped.value)
    assert message.startswith("adw poll stopped: GitHub refused the token")
    assert "GITHUB_PAT" in message


async def test_the_poller_stops_when_asked(orchestrator: Orchestrator, github: FakeGitHub) -> None:
    poller = poller_on(orchestrator, interval_s=30)
    running = asyncio.create_task(poller.run())
    await asyncio.sleep(0.2)
    poller.stop()
    await asyncio.wait_for(running, 2)
    assert poller.counters.last_event_kind == "poll"


async def test_an_issue_that_fails_mid_poll_is_looked_at_again_the_rest_are_not_held_up(
    orchestrator: Orchestrator, github: FakeGitHub, store: Store
) -> None:
    numbers = [github.add_issue(f"Issue {n}", "no keyword") for n in range(3)]
    github.fail_next(502, "Bad Gateway", path_contains=f"/issues/{numbers[1]}", method="GET")
    poller = poller_on(orchestrator)
    first = await poller.poll()
    assert sorted(d.issue for d in first if d.issue is not None) == [numbers[0], numbers[2]]
    assert poller.counters.errors == 1
    # Issue 2 is newer than nothing it missed: the next poll reads on to it anyway.
    [again] = await poller.poll()
    assert again.issue == numbers[1]
    assert await poller.poll() == []


async def test_a_launch_that_may_pass_is_tried_again_by_the_next_poll(
    github: FakeGitHub, store: Store, repo: Path, origin: Path
) -> None:
    """GitHub's breaker open when the run would start: the delivery is forgotten, not
    recorded as refused, and the poll after the breaker closes starts the run."""
    number = github.add_issue("Add a slugify helper", "adw_plan")
    policy = fast_settings(repo).breaker_policy()
    for _ in range(policy.failure_threshold):
        await store.breakers.record(
            "github", Outcome.FAILURE, now=utc_now(), policy=policy, actor="test"
        )
    async with github_orchestrator(
        github, store, repo, breaker_open_action="dead_letter"
    ) as orchestrator:
        poller = poller_on(orchestrator)
        [released] = await poller.poll()
        assert released.outcome is DeliveryOutcome.PENDING
        assert released.reason is not None
        assert "adw breakers reset github" in released.reason
        assert await store.deliveries.get(f"poll:{number}:opened") is None
        await store.breakers.reset("github", now=utc_now(), actor="test")
        [started] = await poller.poll()
        assert started.outcome is DeliveryOutcome.STARTED
        assert started.adw_id is not None
        await orchestrator.wait(started.adw_id)
    actions = [e.action for e in await store.audit.entries(limit=100)]
    assert "trigger.released" in actions


async def test_with_the_fleet_setting_a_trigger_queues_the_run_for_workers(
    github: FakeGitHub, store: Store, repo: Path
) -> None:
    github.add_issue("Add a slugify helper", "adw_plan")
    async with github_orchestrator(github, store, repo, fleet=True) as orchestrator:
        [queued] = await poller_on(orchestrator).poll()
        assert queued.outcome is DeliveryOutcome.STARTED
        assert queued.adw_id is not None
        assert orchestrator.running() == []  # not run here
    run = await store.get_run(queued.adw_id)
    assert (run.status, run.owner) == (RunStatus.QUEUED, None)
    assert run.fleet is not None
    assert await store.fleet.queued() == 1
