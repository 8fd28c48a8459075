"""Runs whose issue is on GitHub (the loopback one), with the simulated agent: the issue is
read from GitHub, progress is posted there as `[ADW-AGENTS]` comments in order, the label
moves from running to the outcome, the branch is pushed to a real bare `origin` and the
pull request opened through the API; a failing GitHub does not stop the run."""

import asyncio
from pathlib import Path

import pytest

from adw_tui.domain.errors import IssueNotFoundError, TrackerError
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.best_of import launch_group
from adw_tui.runtime.breakers import BreakerOpenError
from adw_tui.runtime.events import RuntimeEvent, TrackerFailed
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.fake_github import TOKEN, FakeGitHub, github_orchestrator
from tests.runtime import sh as git
from tests.runtime.test_orchestrator import fast_settings

CLASSIFY_ONLY = """\
name: classify
states:
  classify:
    command: /classify_issue
    agent: issue_classifier
    args: ["${issue_json}"]
    output: classification
    on_success: again
  again:
    command: /classify_issue
    agent: issue_classifier
    args: ["${issue_json}"]
    output: classification
    on_success: complete
  complete:
    terminal: true
"""


def orchestrator_on(
    github: FakeGitHub, store: Store, repo: Path, **overrides: object
) -> Orchestrator:
    return github_orchestrator(github, store, repo, fast_settings(repo, **overrides))


async def test_a_run_reports_on_its_github_issue(
    github: FakeGitHub, store: Store, repo: Path, origin: Path
) -> None:
    number = github.add_issue("Add a slugify helper", "Slugs for titles.")
    async with orchestrator_on(github, store, repo) as orchestrator:
        adw_id = await orchestrator.launch(number, workflow="plan")
        run = await orchestrator.wait(adw_id)
        with pytest.raises(IssueNotFoundError):
            await orchestrator.launch(99, workflow="plan")
    assert run.status is RunStatus.SUCCEEDED
    state = (await store.load(adw_id)).state.as_data()
    assert state["issue_number"] == str(number)
    assert "Slugs for titles." in state["issue_json"]
    bodies = [comment["body"] for comment in github.comments[number]]
    assert bodies[0] == f"[ADW-AGENTS] {adw_id}_ops: running workflow plan from classify"
    assert bodies[-1] == f"[ADW-AGENTS] {adw_id}_ops: workflow plan ended: succeeded"
    assert all(body.startswith(f"[ADW-AGENTS] {adw_id}_") for body in bodies)
    assert github.labels(number) == ["adw:succeeded"]
    label_calls = [(e.method, e.path.rsplit("/", 1)[-1]) for e in github.log if "/labels" in e.path]
    assert label_calls == [("POST", "labels"), ("DELETE", "adw%3Arunning"), ("POST", "labels")]
    if isinstance(store.path, Path):  # (PostgreSQL: tests/store/test_postgres.py)
        assert TOKEN not in store.path.read_bytes().decode("latin-1")
    # The branch is on origin, as the run left it, and its pull request says it closes.
    branch = state["branch_name"]
    assert git(origin, "rev-parse", branch) == git(repo, "rev-parse", branch)
    [pull] = github.pulls.values()
    assert (pull["head"]["ref"], pull["base"]["ref"]) == (branch, "main")
    assert pull["title"] == f"feature: #{number} - Add a slugify helper"
    assert f"Closes #{number}" in pull["body"]
    assert pull["body"].startswith("## Summary")
    assert (state["pr_number"], state["pr_url"]) == (pull["number"], pull["html_url"])


async def test_a_rejected_push_keeps_the_state_says_why_and_never_forces(
    github: FakeGitHub, store: Store, repo: Path, origin: Path, tmp_path: Path
) -> None:
    """Scenario 4 of the original ADW: the remote branch moved after the build. The push
    is refused, the run is dead-lettered with the reason, the issue is told, origin's
    branch is left as it was."""
    number = github.add_issue("Add a slugify helper", "Slugs.")
    async with orchestrator_on(github, store, repo) as orchestrator:
        adw_id = await orchestrator.launch(number, workflow="plan")
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
        state = (await store.load(adw_id)).state.as_data()
        branch = state["branch_name"]
        # Someone pushes to the run's branch; the run is taken back to before its push.
        other = tmp_path / "other"
        git(tmp_path, "clone", "--quiet", "--branch", branch, str(origin), str(other))
        git(other, "commit", "--quiet", "--allow-empty", "-m", "a reviewer's fix")
        git(other, "push", "--quiet", "origin", branch)
        moved = git(other, "rev-parse", "HEAD")
        git(Path(state["worktree_path"]), "commit", "--quiet", "--allow-empty", "-m", "more")
        before_push = next(v for v in await store.history(adw_id) if v.reason.startswith("pull_"))
        await store.rollback(adw_id, before_push.version, actor="test")
        await orchestrator.launch(number, workflow="plan", adw_id=adw_id)
        run = await orchestrator.wait(adw_id)
    assert run.status is RunStatus.DEAD_LETTERED
    assert git(origin, "rev-parse", branch) == moved  # not forced
    [letter] = await store.dead_letters.list()
    assert letter.step == "push"
    assert "rejected the push" in letter.error_message
    assert "never forces" in letter.error_message
    comments = [comment["body"] for comment in github.comments[number]]
    assert any("push: failed" in body and "rejected the push" in body for body in comments)
    assert len(github.pulls) == 1  # opened by the first run, nothing since


async def run_watched(
    github: FakeGitHub, store: Store, repo: Path, number: int, workflow: str = "plan"
) -> tuple[str, RunStatus, list[TrackerFailed]]:
    """Run `workflow` on issue `number` to its end; the tracker failures it told live
    views."""
    events: list[RuntimeEvent] = []
    async with orchestrator_on(github, store, repo) as orchestrator:

        async def watch() -> None:
            async for event in orchestrator.subscribe():
                events.append(event)

        watcher = asyncio.create_task(watch())
        adw_id = await orchestrator.launch(number, workflow=workflow)
        run = await orchestrator.wait(adw_id)
        await asyncio.sleep(0)
        watcher.cancel()
    return adw_id, run.status, [event for event in events if isinstance(event, TrackerFailed)]


async def test_a_failing_github_is_reported_and_the_run_goes_on(
    github: FakeGitHub, store: Store, repo: Path, origin: Path
) -> None:
    number = github.add_issue("Add a slugify helper", "Slugs.")
    github.fail_next(502, "Bad Gateway", times=2, path_contains="/comments", method="POST")
    adw_id, status, failures = await run_watched(github, store, repo, number)
    assert status is RunStatus.SUCCEEDED
    assert [(event.adw_id, event.action) for event in failures] == [(adw_id, "comment")] * 2
    assert "GitHub failed POST /repos/octo/hello/issues/1/comments (502 Bad Gateway)" in (
        failures[0].message
    )
    assert github.labels(number) == ["adw:succeeded"]  # labels were not failing
    bodies = [comment["body"] for comment in github.comments[number]]
    assert bodies[-1] == f"[ADW-AGENTS] {adw_id}_ops: workflow plan ended: succeeded"


async def test_once_githubs_breaker_opens_reports_are_skipped_not_waited_for(
    github: FakeGitHub, store: Store, repo: Path
) -> None:
    """GitHub failing every change: the `github` breaker opens after its threshold of
    failures, and the run's later reports are skipped at once (the breaker's cool-down is
    a minute) instead of holding the run."""
    number = github.add_issue("Add a slugify helper", "Slugs.")
    github.fail_next(502, "Bad Gateway", times=100, method="POST")
    (repo / ".adw" / "workflows").mkdir(parents=True, exist_ok=True)
    (repo / ".adw" / "workflows" / "classify.yaml").write_text(CLASSIFY_ONLY)
    started = asyncio.get_running_loop().time()
    _, status, failures = await run_watched(github, store, repo, number, "classify")
    assert status is RunStatus.SUCCEEDED
    assert asyncio.get_running_loop().time() - started < 30
    threshold = fast_settings(repo).breaker_failure_threshold
    # Two labels and four comments were due: the last one found the breaker open.
    assert threshold == 5
    assert len(failures) == threshold
    assert len([e for e in github.log if e.status == 502]) == threshold
    assert (await store.breakers.get("github")).state.value == "open"


async def test_a_launch_reads_its_issue_through_githubs_breaker(
    github: FakeGitHub, store: Store, repo: Path
) -> None:
    """GitHub failing: each launch says why; once the `github` breaker opens, a launch is
    refused at once, saying how to close it, and sends nothing."""
    number = github.add_issue("Add a slugify helper", "Slugs.")
    github.fail_next(502, "Bad Gateway", times=100, method="GET")
    async with orchestrator_on(
        github, store, repo, breaker_open_action="dead_letter"
    ) as orchestrator:
        for _ in range(fast_settings(repo).breaker_failure_threshold):
            with pytest.raises(TrackerError, match="GitHub failed GET /repos/octo/hello/issues/1"):
                await orchestrator.launch(number, workflow="plan")
        sent = len(github.log)
        with pytest.raises(BreakerOpenError, match="adw breakers reset github"):
            await orchestrator.launch(number, workflow="plan")
    assert len(github.log) == sent
    assert await store.count_runs() == 0


async def test_remote_failures_that_may_pass_are_retried_by_the_steps_policy(
    github: FakeGitHub, store: Store, repo: Path, origin: Path, tmp_path: Path
) -> None:
    """GitHub failing once to open the pull request: tried again, the run succeeds. An
    origin that cannot be reached: the push is tried as often as the policy allows, then
    the run is a dead letter of class `network`, replayable once origin is back."""
    number = github.add_issue("Add a slugify helper", "Slugs.")
    github.fail_next(502, "Bad Gateway", path_contains="/pulls", method="POST")
    async with orchestrator_on(github, store, repo) as orchestrator:
        adw_id = await orchestrator.launch(number, workflow="plan")
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
        assert len(github.pulls) == 1
        git(repo, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
        second = github.add_issue("Add a title-case helper", "Title case.")
        failing = await orchestrator.launch(second, workflow="plan")
        assert (await orchestrator.wait(failing)).status is RunStatus.DEAD_LETTERED
    [letter] = await store.dead_letters.list()
    assert (letter.step, letter.error_class) == ("push", "network")
    assert letter.attempts == fast_settings(repo).retry_max_attempts
    assert "the push of" in letter.error_message
    assert "check the network" in letter.error_message


async def test_an_issue_deleted_during_its_run_does_not_stop_it(
    github: FakeGitHub, store: Store, repo: Path
) -> None:
    number = github.add_issue("Add a slugify helper", "Slugs.")
    (repo / ".adw" / "workflows").mkdir(parents=True, exist_ok=True)
    (repo / ".adw" / "workflows" / "classify.yaml").write_text(CLASSIFY_ONLY)
    events: list[RuntimeEvent] = []
    async with orchestrator_on(github, store, repo) as orchestrator:

        async def watch() -> None:
            async for event in orchestrator.subscribe():
                events.append(event)

        watcher = asyncio.create_task(watch())
        adw_id = await orchestrator.launch(number, workflow="classify")
        del github.issues[number]  # gone before the run marks it
        run = await orchestrator.wait(adw_id)
        await asyncio.sleep(0)
        watcher.cancel()
    assert run.status is RunStatus.SUCCEEDED
    failed = [event for event in events if isinstance(event, TrackerFailed)]
    assert [event.action for event in failed][:1] == ["label"]
    assert failed[0].message.startswith(f"issue {number} not found")


async def test_a_report_held_by_a_rate_limit_is_skipped_not_waited_for(
    github: FakeGitHub, store: Store, repo: Path
) -> None:
    """GitHub's secondary rate limit on comments says to wait a minute: the run's
    reports give up after ADW_REPORT_TIMEOUT, say so, and the run goes on."""
    number = github.add_issue("Add a slugify helper", "Slugs.")
    (repo / ".adw" / "workflows").mkdir(parents=True, exist_ok=True)
    (repo / ".adw" / "workflows" / "classify.yaml").write_text(CLASSIFY_ONLY)
    github.fail_next(
        403,
        "You have exceeded a secondary rate limit",
        headers={"Retry-After": "60"},
        times=100,
        path_contains="/comments",
        method="POST",
    )
    started = asyncio.get_running_loop().time()
    async with orchestrator_on(github, store, repo, report_timeout=0.3) as orchestrator:
        adw_id = await orchestrator.launch(number, workflow="classify")
        run = await orchestrator.wait(adw_id)
    assert run.status is RunStatus.SUCCEEDED
    assert asyncio.get_running_loop().time() - started < 20
    assert github.labels(number) == ["adw:succeeded"]


async def test_a_best_of_group_goes_to_origin_only_once_chosen(
    github: FakeGitHub, store: Store, repo: Path, origin: Path
) -> None:
    """The runs of a group keep their branches back (no push, no pull request) until one
    is chosen; the chosen one is then pushed and gets the one pull request, and choosing
    it again updates that pull request rather than opening another."""
    number = github.add_issue("Add a slugify helper", "Slugs.")
    async with orchestrator_on(github, store, repo) as orchestrator:
        group = await launch_group(orchestrator, number, workflow="plan", size=2)
        runs = [await orchestrator.wait(adw_id) for adw_id in group]
        assert [run.status for run in runs] == [RunStatus.SUCCEEDED] * 2
        assert github.pulls == {}
        assert git(origin, "branch", "--list") == "* main"
        skipped = {a.step: a.error_message for a in await store.steps.for_run(group[0])}
        assert skipped["push"] == "skipped: a best-of run goes to origin once chosen (adw choose)"

        chosen = await orchestrator.choose(group[1], actor="test")
        assert chosen.members == group
        assert chosen.published is not None
        again = await orchestrator.choose(group[1], actor="test")
    state = (await store.load(group[1])).state.as_data()
    branch = state["branch_name"]
    assert git(origin, "rev-parse", branch) == git(repo, "rev-parse", branch)
    [pull] = github.pulls.values()
    assert pull["head"]["ref"] == branch
    assert f"Closes #{number}" in pull["body"]
    assert (state["pr_number"], state["pr_url"]) == (pull["number"], pull["html_url"])
    assert again.published is not None
    assert again.published.pr_number == chosen.published.pr_number
    loser = (await store.load(group[0])).state.as_data()
    assert loser["best_of"]["chosen"] is False
    assert "pr_number" not in loser
    assert git(origin, "branch", "--list", loser["branch_name"]) == ""
