"""`adw pause` and `adw resume` as real processes: a pause reaches the run this test's
orchestrator executes through the database, and the resume runs it in the `adw`
process to its end."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.cli.test_recovery import ADW, environ
from tests.conftest import RepoDatabase
from tests.runtime.pause_runs import HANGS, TWO_STEPS, agent_started, next_event, write_two_steps
from tests.runtime.test_orchestrator import fast_settings


@pytest.fixture
def repo(sample_repo: Path) -> Path:
    write_two_steps(sample_repo)
    return sample_repo


@pytest.fixture
async def store(repo: Path, repo_db: RepoDatabase) -> AsyncIterator[Store]:
    async with await Store.open(repo_db.of(repo)) as opened:
        yield opened


async def adw(repo: Path, *argv: str) -> tuple[int, str, str]:
    """Run `adw` without blocking this test's event loop (its orchestrator answers)."""
    process = await asyncio.create_subprocess_exec(
        str(ADW),
        *argv,
        cwd=repo,
        env=environ(ADW_ENGINE="sim"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_pause_a_run_of_another_process_then_resume_it_here(repo: Path, store: Store):
    first, second = [await store.issues.create(f"Feature {n}", "x") for n in range(2)]
    async with Orchestrator(store, repo, fast_settings(repo)) as orchestrator:
        adw_id = await orchestrator.launch(first.number, workflow=TWO_STEPS, engine_env=HANGS)
        await next_event(orchestrator.bus, agent_started(adw_id, "classify"))

        code, out, err = await adw(repo, "pause", adw_id)
        assert (code, err) == (0, "")
        assert f"run {adw_id} paused in step classify: its slot is free" in " ".join(out.split())
        assert (await orchestrator.wait(adw_id)).status is RunStatus.PAUSED

        # Bad input: a run that is not running, not paused, or not there.
        finished = await orchestrator.launch(second.number, workflow=TWO_STEPS)
        await orchestrator.wait(finished)
    for argv, message in (
        (("pause", adw_id), f"run {adw_id} is paused: only a running run can be paused; it is"),
        (("pause", finished), f"run {finished} is succeeded: only a running run can be paused"),
        (("resume", finished), f"run {finished} is succeeded: only a paused run can be resumed"),
        (("pause", "0000beef"), "run 0000beef not found: `adw runs` lists the known runs"),
    ):
        code, _, err = await adw(repo, *argv)
        assert code == 1
        assert message in " ".join(err.split())
        assert "Traceback" not in err
    assert (await store.get_run(adw_id)).status is RunStatus.PAUSED

    code, out, err = await adw(repo, "resume", adw_id)

    assert code == 0, err
    assert (await store.get_run(adw_id)).status is RunStatus.SUCCEEDED
    attempts = await store.steps.for_run(adw_id)
    assert [(a.step, a.status) for a in attempts] == [
        ("classify", StepStatus.PAUSED),
        ("classify", StepStatus.SUCCEEDED),
        ("name_branch", StepStatus.SUCCEEDED),
    ]
    assert attempts[1].session_id == attempts[0].session_id
    actors = [(e.actor, e.action) for e in await store.audit.entries(adw_id=adw_id)]
    assert ("cli", "run.pause_request") in actors
    assert ("pause request", "run.status") in actors


async def test_a_pause_that_no_process_answers_says_so(repo: Path, store: Store):
    """A running run whose process does not poll (here: it is not an orchestrator): the
    request waits for it, and the command says what to do."""
    run = await store.create_run(
        {"adw_id": "1234abcd"}, workflow=TWO_STEPS, issue="1", actor="test"
    )
    await store.claims.claim(run.adw_id, "elsewhere:1")

    code, _, err = await adw(repo, "pause", run.adw_id, "--wait", "0.5")

    assert code == 1
    assert (
        "run 1234abcd is still running: its process elsewhere:1 did not pause it within 0.5s"
        in " ".join(err.split())
    )
    assert (await store.get_run(run.adw_id)).requested == "pause"
