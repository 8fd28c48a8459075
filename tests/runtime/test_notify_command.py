"""ADW_NOTIFY_COMMAND, run for real through the shell: one JSON line per run that ends
(or waits), sent before adw closes; a command that fails never holds a run."""

import json
import logging
from pathlib import Path

import pytest

from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.runtime.pause_runs import HANGS, TWO_STEPS, agent_started, next_event, write_two_steps
from tests.runtime.test_orchestrator import fast_settings


async def test_each_ending_is_one_json_line_on_the_commands_stdin(
    repo: Path, store: Store, tmp_path: Path
) -> None:
    notices = tmp_path / "notices.jsonl"
    settings = fast_settings(repo, notify_command=f"cat >> '{notices}'")
    issue = await store.issues.create("Add a slugify helper", "x")
    async with Orchestrator(store, repo, settings) as orchestrator:
        good = await orchestrator.launch(issue.number, workflow="plan")
        bad = await orchestrator.launch(
            issue.number,
            workflow="plan",
            engine_env={"ADW_SIM_FAULTS": "classify_issue=auth"},
            force=True,
        )
        statuses = [(await orchestrator.wait(a)).status for a in (good, bad)]
    assert statuses == [RunStatus.SUCCEEDED, RunStatus.DEAD_LETTERED]
    sent = [json.loads(line) for line in notices.read_text().splitlines()]
    assert sorted((notice["event"], notice["adw_id"]) for notice in sent) == sorted(
        [("run.succeeded", good), ("run.dead_lettered", bad)]
    )
    assert all(notice["at"].endswith("+00:00") for notice in sent)


async def test_a_paused_run_is_told_as_it_waits_for_a_person(
    repo: Path, store: Store, tmp_path: Path
) -> None:
    notices = tmp_path / "notices.jsonl"
    write_two_steps(repo)
    settings = fast_settings(repo, notify_command=f"cat >> '{notices}'")
    issue = await store.issues.create("Add a slugify helper", "x")
    async with Orchestrator(store, repo, settings) as orchestrator:
        adw_id = await orchestrator.launch(issue.number, workflow=TWO_STEPS, engine_env=HANGS)
        await next_event(orchestrator.bus, agent_started(adw_id, "classify"))
        assert (await orchestrator.pause(adw_id)).status is RunStatus.PAUSED
    sent = [json.loads(line) for line in notices.read_text().splitlines()]
    assert [(notice["event"], notice["adw_id"]) for notice in sent] == [("run.paused", adw_id)]


async def test_a_failing_command_is_logged_and_holds_nothing(
    repo: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    settings = fast_settings(repo, notify_command="echo 'no webhook configured' >&2; exit 3")
    issue = await store.issues.create("Add a slugify helper", "x")
    with caplog.at_level(logging.WARNING, logger="adw_tui.runtime.notify_command"):
        async with Orchestrator(store, repo, settings) as orchestrator:
            adw_id = await orchestrator.launch(issue.number, workflow="plan")
            assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
    assert "ADW_NOTIFY_COMMAND exited 3 for run.succeeded: no webhook configured" in caplog.text
