"""Pausing and resuming runs with real simulated agents: the step stopped (its process
group gone), the slot given to the next run, the run paused across a restart of adw,
and resumed from its step with the step's session."""

import asyncio
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adw_tui.agents.claude_code import SimulatedClaudeEngine
from adw_tui.agents.engine import Engine
from adw_tui.agents.registry import ENGINES
from adw_tui.config import Settings
from adw_tui.domain.errors import ActiveRunError, AdwError
from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.events import QueueChanged, RunChanged, RuntimeEvent, StepFinished
from adw_tui.runtime.orchestrator import PAUSING_AFTER_ACTION, Orchestrator
from adw_tui.runtime.recovery import recover_at_start
from adw_tui.runtime.worktree_setup import SETUP_DONE
from adw_tui.store import Store
from tests.runtime.pause_runs import (
    HANGS,
    SLOW,
    TWO_STEPS,
    agent_started,
    next_event,
    sim_agents,
    write_two_steps,
)
from tests.runtime.test_orchestrator import fast_settings


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_paused_run_frees_its_slot_stays_paused_across_a_restart_and_goes_on(
    repo: Path, store: Store
):
    write_two_steps(repo)
    settings = fast_settings(repo, max_concurrent=1)
    first, second = [await store.issues.create(f"Feature {n}", "x") for n in range(2)]
    orchestrator = Orchestrator(store, repo, settings)
    events: list[RuntimeEvent] = []
    orchestrator.bus.listeners.append(events.append)
    paused_id = await orchestrator.launch(first.number, workflow=TWO_STEPS, engine_env=HANGS)
    await next_event(orchestrator.bus, agent_started(paused_id, "classify"))
    waiting_id = await orchestrator.launch(second.number, workflow=TWO_STEPS)
    assert (await store.get_run(waiting_id)).status is RunStatus.QUEUED  # one slot, taken

    waiting_runs = next_event(
        orchestrator.bus,
        lambda e: isinstance(e, RunChanged) and (e.adw_id, e.status) == (waiting_id, "running"),
    )
    paused = await orchestrator.pause(paused_id)

    assert paused.status is RunStatus.PAUSED
    assert (paused.current_step, paused.owner) == ("classify", None)
    [attempt] = await store.steps.for_run(paused_id)
    assert (attempt.status, attempt.error_message) == (StepStatus.PAUSED, "paused by operator")
    assert attempt.session_id
    assert attempt.pgid
    assert not _group_alive(attempt.pgid)  # the step's agent is stopped, all of it
    # Told as paused, not as a failed step.
    told = [
        (type(e), e.status)
        for e in events
        if isinstance(e, RunChanged | StepFinished) and e.adw_id == paused_id
    ]
    assert told[-1] == (RunChanged, RunStatus.PAUSED)
    assert (StepFinished, StepStatus.FAILED) not in told
    await waiting_runs  # its slot went to the queued run
    assert (await orchestrator.wait(waiting_id)).status is RunStatus.SUCCEEDED
    assert (await orchestrator.wait(paused_id)).status is RunStatus.PAUSED
    await orchestrator.aclose()

    # A restart of adw: a new store and orchestrator on the same database.
    async with await Store.open(store.path) as reopened:
        async with Orchestrator(reopened, repo, settings) as restarted:
            orphans, resumed = await recover_at_start(restarted, "resume")
            assert (orphans, resumed) == ([], [])
            assert (await reopened.get_run(paused_id)).status is RunStatus.PAUSED

            agent = next_event(restarted.bus, agent_started(paused_id, "classify"))
            assert await restarted.resume(paused_id, engine_env=SLOW) == paused_id
            await agent
            [resumed_agent] = sim_agents()
            assert ["--resume", attempt.session_id] == _after(
                resumed_agent.cmdline(), "--resume", 2
            )
            done = await restarted.wait(paused_id)

        assert done.status is RunStatus.SUCCEEDED
        attempts = await reopened.steps.for_run(paused_id)
        assert [(a.step, a.status) for a in attempts] == [
            ("classify", StepStatus.PAUSED),
            ("classify", StepStatus.SUCCEEDED),
            ("name_branch", StepStatus.SUCCEEDED),
        ]
        assert attempts[1].session_id == attempt.session_id
        actions = [(e.actor, e.action) for e in await reopened.audit.entries(adw_id=paused_id)]
        assert ("operator", "run.status") in actions


def _after(argv: list[str], flag: str, length: int) -> list[str]:
    index = argv.index(flag)
    return argv[index : index + length]


async def test_what_cannot_be_paused_or_resumed_is_refused_and_left_alone(repo: Path, store: Store):
    write_two_steps(repo)
    issues = [await store.issues.create(f"Feature {n}", "x") for n in range(3)]
    async with Orchestrator(store, repo, fast_settings(repo, max_concurrent=1)) as orchestrator:
        finished = await orchestrator.launch(issues[0].number, workflow=TWO_STEPS)
        await orchestrator.wait(finished)
        with pytest.raises(AdwError, match=rf"run {finished} is succeeded: only a running run"):
            await orchestrator.pause(finished)
        with pytest.raises(AdwError, match=rf"run {finished} is succeeded: only a paused run"):
            await orchestrator.resume(finished)

        running = await orchestrator.launch(issues[1].number, workflow=TWO_STEPS, engine_env=HANGS)
        await next_event(orchestrator.bus, agent_started(running, "classify"))
        queued = await orchestrator.launch(issues[2].number, workflow=TWO_STEPS)
        with pytest.raises(AdwError, match="is queued: only a running run can be paused; it holds"):
            await orchestrator.pause(queued)
        with pytest.raises(AdwError, match="is running: only a paused run can be resumed"):
            await orchestrator.resume(running)
        await orchestrator.pause(running)
        with pytest.raises(AdwError, match="already paused: `adw resume"):
            await orchestrator.pause(running)
        with pytest.raises(ActiveRunError, match=rf"run {running} \(paused\): resume it"):
            await orchestrator.launch(issues[1].number, workflow=TWO_STEPS)
        assert (await orchestrator.wait(queued)).status is RunStatus.SUCCEEDED

        await orchestrator.cancel(running)  # a paused run can be cancelled
    assert (await store.get_run(running)).status is RunStatus.CANCELLED
    assert (await store.get_run(finished)).status is RunStatus.SUCCEEDED


async def test_a_resumed_run_waits_for_memory_like_any_other(repo: Path, store: Store):
    write_two_steps(repo)
    issue = await store.issues.create("Feature", "x")
    async with Orchestrator(store, repo, fast_settings(repo)) as orchestrator:
        adw_id = await orchestrator.launch(issue.number, workflow=TWO_STEPS, engine_env=HANGS)
        await next_event(orchestrator.bus, agent_started(adw_id, "classify"))
        await orchestrator.pause(adw_id)

    # System memory is always over a limit of 0%: the gate holds the run back.
    async with Orchestrator(store, repo, fast_settings(repo, memory_limit_percent=0.0)) as full:
        held = next_event(
            full.bus, lambda e: isinstance(e, QueueChanged) and adw_id in e.waiting_for_memory
        )
        await full.resume(adw_id)
        await held
        assert (await store.get_run(adw_id)).status is RunStatus.QUEUED
        assert sim_agents() == []
    assert (await store.get_run(adw_id)).status is RunStatus.INTERRUPTED  # closed while queued


@pytest.fixture
def forgetful_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of an engine, registered for the test, that cannot resume a session."""

    def build(settings: Settings, environ: Mapping[str, str] | None) -> Engine:
        engine = SimulatedClaudeEngine(extra_env=settings.agent_env, environ=environ)
        engine.name, engine.resumes_sessions = "forgetful", False
        return engine

    monkeypatch.setitem(
        ENGINES, "forgetful", replace(ENGINES["sim"], name="forgetful", build=build)
    )
    return "forgetful"


async def test_an_engine_without_sessions_starts_the_paused_step_again(
    repo: Path, store: Store, forgetful_engine: str
):
    write_two_steps(repo)
    issue = await store.issues.create("Feature", "x")
    async with Orchestrator(store, repo, fast_settings(repo)) as orchestrator:
        adw_id = await orchestrator.launch(
            issue.number, workflow=TWO_STEPS, engine=forgetful_engine, engine_env=HANGS
        )
        await next_event(orchestrator.bus, agent_started(adw_id, "classify"))
        await orchestrator.pause(adw_id)
        agent = next_event(orchestrator.bus, agent_started(adw_id, "classify"))
        await orchestrator.resume(adw_id, engine_env=SLOW)
        await agent
        [again] = sim_agents()
        assert "--resume" not in again.cmdline()
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
    assert [a.engine for a in await store.steps.for_run(adw_id)] == [forgetful_engine] * 3


async def test_a_pause_during_a_built_in_action_waits_for_it_to_end(
    repo: Path, store: Store, tmp_path: Path
):
    """Stopping git or the set-up hook half-way could leave the worktree half made: the
    run is paused once its action has ended, before its next step."""
    (repo / ".adw" / "workflows").mkdir(parents=True)
    (repo / ".adw" / "workflows" / "setup_first.yaml").write_text(
        "name: setup_first\n"
        "states:\n"
        "  worktree: {action: setup_worktree, on_success: classify}\n"
        "  classify:\n"
        "    command: /classify_issue\n"
        "    agent: issue_classifier\n"
        '    args: ["${issue_json}"]\n'
        "    on_success: complete\n"
        "  complete: {terminal: true}\n"
        "  dead_letter: {terminal: true, action: record_failure}\n"
    )
    # The set-up hook says it runs, then waits until the test lets it end.
    started, release = tmp_path / "started", tmp_path / "release"
    os.mkfifo(started)
    os.mkfifo(release)
    hook = f"echo started > {started} && cat {release}"
    issue = await store.issues.create("Feature", "x")
    settings = fast_settings(repo, worktree_setup=hook)
    async with Orchestrator(store, repo, settings) as orchestrator:
        adw_id = await orchestrator.launch(issue.number, workflow="setup_first")
        await asyncio.to_thread(started.read_text)  # the hook runs
        deferred = next_event(
            orchestrator.bus,
            lambda e: isinstance(e, RunChanged) and e.detail == PAUSING_AFTER_ACTION,
        )
        pausing = asyncio.create_task(orchestrator.pause(adw_id))
        either: list[asyncio.Future[Any]] = [deferred, pausing]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        assert not pausing.done()  # the hook still runs: the pause waits for it
        await asyncio.to_thread(release.write_text, "go\n")
        paused = await pausing

        assert paused.status is RunStatus.PAUSED
        assert paused.current_step == "classify"  # where it goes on
        attempts = await store.steps.for_run(adw_id)
        assert [(a.step, a.status) for a in attempts] == [("worktree", StepStatus.SUCCEEDED)]
        assert (repo / "agents" / adw_id / SETUP_DONE).exists()

        await orchestrator.resume(adw_id)
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
    steps = [(a.step, a.status) for a in await store.steps.for_run(adw_id)]
    assert steps == [("worktree", StepStatus.SUCCEEDED), ("classify", StepStatus.SUCCEEDED)]
