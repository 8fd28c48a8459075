"""Crash recovery and graceful shutdown, with real `adw` processes and real signals."""

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from adw_tui.config import load_settings
from adw_tui.domain.control import RunControl
from adw_tui.domain.fleet import host_name
from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepAttempt, StepStatus
from adw_tui.runtime import git
from adw_tui.store import Store
from adw_tui.store.location import DatabaseLocation
from adw_tui.tui.app import create_app
from tests.conftest import RepoDatabase, adw_environment
from tests.postgres import on_own_loop
from tests.tui.conftest import record_notifications, until

ADW = Path(sys.executable).parent / "adw"


def environ(**extra: str) -> dict[str, str]:
    return adw_environment(
        ADW_RETRY_INITIAL="0.01", ADW_RETRY_JITTER="0.01", COLUMNS="200", **extra
    )


def adw(repo: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ADW), *argv], cwd=repo, env=environ(), capture_output=True, text=True, timeout=180
    )


@dataclass(frozen=True)
class Recorded:
    """What the database holds of a run once the processes are gone."""

    status: RunStatus
    attempts: list[StepAttempt]
    versions: list[int]
    """Every state version, newest first."""

    def assert_intact(self) -> None:
        """No completed step ran again, and no state version was lost (contiguous)."""
        succeeded = [a.step for a in self.attempts if a.status is StepStatus.SUCCEEDED]
        assert len(succeeded) == len(set(succeeded))
        assert self.versions == list(range(len(self.versions), 0, -1))


def recorded(db: DatabaseLocation) -> dict[str, Recorded]:
    """Every run of the repository's database, by adw_id, read through the store in this
    process (the `adw` processes under test have exited; `show` and `history` have tests
    of their own)."""

    async def read() -> dict[str, Recorded]:
        async with await Store.open(db) as store:
            return {
                run.adw_id: Recorded(
                    run.status,
                    await store.steps.for_run(run.adw_id),
                    [info.version async for info in store.newest_versions(run.adw_id)],
                )
                for run in await store.list_runs()
            }

    return asyncio.run(read())


def add_issue(db: DatabaseLocation, title: str) -> None:
    async def create() -> None:
        async with await Store.open(db) as store:
            await store.issues.create(title)

    asyncio.run(create())


@pytest.fixture
def repo(sample_repo: Path) -> Path:
    return sample_repo


@pytest.fixture
def db(repo: Path, repo_db: RepoDatabase) -> DatabaseLocation:
    """The repository's database, holding issue 1."""
    location = repo_db.of(repo)
    add_issue(location, "Add a slugify helper")
    return location


def start_run(repo: Path, delay: str = "0.05") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(ADW), "run", "1", "--workflow", "plan_build", "--engine", "sim"],
        cwd=repo,
        env=environ(ADW_SIM_DELAY=delay, ADW_SHUTDOWN_GRACE="30"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def running_attempt(db: DatabaseLocation, after: int, timeout: float = 60) -> tuple[str, int]:
    """Wait until the run has finished `after` attempts and an agent call is running;
    return the run's adw_id and that agent's process group."""

    async def poll() -> tuple[str, int]:
        async with await Store.open(db) as store:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                attempts = [
                    a
                    for run in await store.list_runs()
                    for a in await store.steps.for_run(run.adw_id)
                ]
                done = [a for a in attempts if a.status is not StepStatus.RUNNING]
                running = [
                    (a.id, a.adw_id, a.pgid)
                    for a in attempts
                    if a.status is StepStatus.RUNNING and a.pgid is not None
                ]
                if running and len(done) >= after:
                    _, adw_id, pgid = max(running)
                    return adw_id, pgid
                await asyncio.sleep(0.02)
        raise AssertionError("the run never reached a running agent call")

    return on_own_loop(poll())  # on a loop of its own: the dashboard's test is async


def group_alive(pgid: int) -> bool:
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


@pytest.mark.slow
@pytest.mark.parametrize(("after", "delay"), [(1, "0.3"), (4, "0.12"), (7, "0.12")])
def test_orchestrator_killed_mid_step_then_recovered(
    repo: Path, db: DatabaseLocation, after: int, delay: str
):
    # Slower lines than the other tests': the agent must still be mid-step once the
    # test has seen it start and killed its orchestrator, on a loaded machine too. The
    # second call (naming the branch) writes three lines only: slower still.
    run = start_run(repo, delay=delay)
    adw_id, pgid = running_attempt(db, after)
    run.kill()  # SIGKILL: no cleanup of any kind
    run.wait(timeout=10)
    assert group_alive(pgid)  # the agent outlived its orchestrator, in its own session

    recovered = adw(repo, "recover")
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    assert not group_alive(pgid)
    run_now = recorded(db)[adw_id]
    assert run_now.status is RunStatus.SUCCEEDED
    run_now.assert_intact()


@pytest.mark.slow
def test_sigterm_finishes_the_step_then_interrupts_and_recover_resumes(
    repo: Path, db: DatabaseLocation
):
    run = start_run(repo)
    adw_id, pgid = running_attempt(db, 2)
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 1
    assert "finishing the running steps" in stderr
    assert not group_alive(pgid)
    assert recorded(db)[adw_id].status is RunStatus.INTERRUPTED
    resumed = adw(repo, "recover")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    run_now = recorded(db)[adw_id]
    assert run_now.status is RunStatus.SUCCEEDED
    failed = [a for a in run_now.attempts if a.status is StepStatus.FAILED]
    assert failed == []  # the running step was allowed to finish, nothing was cut


def agents_working_in(repo: Path) -> list[int]:
    """Live processes (not zombies) whose working directory is inside `repo`."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() != psutil.STATUS_ZOMBIE and Path(process.cwd()).is_relative_to(
                repo
            ):
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


_moments = random.Random(20261122)
# Seconds after `adw run` starts, one at random in each of seven equal spans of 0.3-7 s:
# every phase of the run, from start-up to the last steps, with no two moments more than
# 1.9 s apart (ten moments drawn from the whole range left gaps of 2 s and more).
_SPANS, _FIRST, _LAST = 7, 0.3, 7.0
KILL_MOMENTS = [
    _FIRST + (span + _moments.random()) * (_LAST - _FIRST) / _SPANS for span in range(_SPANS)
]


@pytest.mark.slow
@pytest.mark.parametrize("moment", KILL_MOMENTS, ids=[f"{m:.2f}s" for m in KILL_MOMENTS])
def test_sdlc_killed_at_a_random_moment_is_recovered(
    repo: Path, db: DatabaseLocation, moment: float
):
    run = subprocess.Popen(
        [str(ADW), "run", "1", "--workflow", "sdlc", "--engine", "sim", "--json"],
        cwd=repo,
        env=environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    time.sleep(moment)
    run.kill()
    run.wait(timeout=10)

    recovered = adw(repo, "recover")
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    assert agents_working_in(repo) == []
    runs = list(recorded(db).values())
    if not runs:
        return  # killed before the run was even created: nothing to recover
    [run_now] = runs
    assert run_now.status in (RunStatus.SUCCEEDED, RunStatus.DEAD_LETTERED), run_now.status
    run_now.assert_intact()


@pytest.mark.slow
def test_the_next_adw_run_resumes_an_orphan(repo: Path, db: DatabaseLocation):
    run = start_run(repo)
    orphan, _ = running_attempt(db, 3)
    run.kill()
    run.wait(timeout=10)
    add_issue(db, "Add a reverse helper")
    second = adw(repo, "run", "2", "--workflow", "plan", "--engine", "sim")
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"run {orphan} was left running" in second.stderr
    assert recorded(db)[orphan].status is RunStatus.SUCCEEDED


@pytest.mark.slow
def test_recover_can_dead_letter_instead(repo: Path, db: DatabaseLocation):
    run = start_run(repo)
    orphan, _ = running_attempt(db, 3)
    run.kill()
    run.wait(timeout=10)
    settled = subprocess.run(
        [str(ADW), "recover"],
        cwd=repo,
        env=environ(ADW_RECOVER_ACTION="dead_letter"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert settled.returncode == 0, settled.stderr
    [letter] = json.loads(adw(repo, "dlq", "ls", "--json").stdout)
    assert (letter["adw_id"], letter["error_class"]) == (orphan, "interrupted")
    assert recorded(db)[orphan].status is RunStatus.DEAD_LETTERED


@pytest.mark.slow
async def test_the_dashboard_resumes_an_orphan_at_start(
    repo: Path, db: DatabaseLocation, monkeypatch: pytest.MonkeyPatch
):
    run = start_run(repo)
    orphan, pgid = running_attempt(db, 2)
    run.kill()
    run.wait(timeout=10)
    settings = load_settings(repo).model_copy(update={"engine": "sim", "retry_initial": 0.01})
    async with await Store.open(db) as store:
        app = create_app(store, repo, settings, recover_on_start=True)
        notified = record_notifications(app, monkeypatch)
        async with app.run_test() as pilot:
            await until(pilot, lambda: any("was left running" in n["message"] for n in notified))
            assert not group_alive(pgid)
            assert (await app.orchestrator.wait(orphan)).status is RunStatus.SUCCEEDED
            await app.close_runtime()
    (note,) = [n for n in notified if n.get("title") == "recovered"]
    assert note["message"].startswith(f"{orphan} was left running")
    assert note["message"].endswith("resumed")


async def first_state(store: Store, repo: Path, adw_id: str) -> dict[str, object]:
    """What `Orchestrator.launch` writes as the first version of a `plan` run of issue 1."""
    issue = await store.issues.get(1)
    return {
        "adw_id": adw_id,
        "issue_number": "1",
        "all_adws": ["plan"],
        "issue_title": issue.title,
        "issue_body": issue.body,
        "issue_json": issue.prompt_json(),
        "base_branch": await git.default_branch(repo),
    }


@pytest.mark.slow
def test_recover_resumes_a_run_stopped_before_its_first_step_ended(
    repo: Path, db: DatabaseLocation
):
    """Killed between creating the run and finishing its first step, a run has no
    `next_state` yet; it is still the runtime's, so `adw recover` starts it from the top,
    with the engine it was launched with. An imported legacy run is left alone."""

    async def create() -> None:
        async with await Store.open(db) as store:
            await store.create_run(
                await first_state(store, repo, "0a0b0c0d"),
                workflow="plan",
                issue="1",
                actor="runtime",
                status=RunStatus.INTERRUPTED,
                control=RunControl(engine="sim"),
            )
            legacy = {"adw_id": "1a1b1c1d", "issue_number": "1"}
            await store.create_run(
                legacy, workflow="legacy", issue="1", actor="migrate", status=RunStatus.INTERRUPTED
            )

    asyncio.run(create())
    recovered = adw(repo, "recover")  # with the engine it was launched with: no call made
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    assert recorded(db)["0a0b0c0d"].status is RunStatus.SUCCEEDED
    assert recorded(db)["1a1b1c1d"].status is RunStatus.INTERRUPTED


@pytest.mark.slow
def test_recover_starts_a_run_its_process_queued_and_never_started(
    repo: Path, db: DatabaseLocation
):
    """A process killed between creating its run and claiming it leaves the run queued
    under its name: `adw recover` runs it. A run queued by a process still alive stays
    that process's."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    owners = {
        "0a0b0c0d": f"{host_name()}:{gone.stdout.strip()}",
        "1a1b1c1d": f"{host_name()}:{os.getpid()}",
    }

    async def create() -> None:
        async with await Store.open(db) as store:
            for adw_id, owner in owners.items():
                await store.create_run(
                    await first_state(store, repo, adw_id),
                    workflow="plan",
                    issue="1",
                    actor="runtime",
                    control=RunControl(engine="sim"),
                    owner=owner,
                )

    asyncio.run(create())
    recovered = adw(repo, "recover")
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    assert recorded(db)["0a0b0c0d"].status is RunStatus.SUCCEEDED
    assert recorded(db)["1a1b1c1d"].status is RunStatus.QUEUED
