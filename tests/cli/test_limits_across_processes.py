"""`ADW_MAX_CONCURRENT` holds for the repository, not for each process: twelve separate
`adw run` processes with a limit of three never run more than three agents at once, never
share a port pair, say when they wait for the others, and all finish.

Twelve is four processes per slot: enough that every slot is fought over by processes
that started together (the test fails unless the limit was reached and some process was
told to wait), few enough that the suite does not spend its time starting Python."""

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from adw_tui.domain.models import RunStatus
from adw_tui.store import Store
from adw_tui.store.leases import LeaseKind
from adw_tui.store.location import DatabaseLocation
from tests.conftest import RepoDatabase, adw_environment

ADW = Path(sys.executable).parent / "adw"
PROCESSES = 12
LIMIT = 3

# A worktree (a port pair) and one paced agent call: long enough for runs to overlap.
HOLD_WORKFLOW = """
name: hold
description: take a worktree and its ports, then classify
states:
  worktree:
    action: setup_worktree
    on_success: classify
    on_failure: failed
  classify:
    command: /classify_issue
    agent: issue_classifier
    args: ["${issue_json}"]
    on_success: done
    on_failure: failed
  done:
    terminal: true
  failed:
    terminal: true
"""


def environ(repo: Path) -> dict[str, str]:
    env = {k: v for k, v in adw_environment().items() if not k.startswith("CLAUDE_CODE")}
    env.update(
        ADW_MAX_CONCURRENT=str(LIMIT),
        ADW_SIM_DELAY="0.02",
        ADW_SIM_STATE_DIR=str(repo.parent / "sim-state"),
        ADW_BACKEND_PORT_START="23100",
        ADW_FRONTEND_PORT_START="23200",
    )
    return env


class Sampler(threading.Thread):
    """Counts, every few milliseconds, this test's own sim agent processes and the slot
    and port leases in the database, keeping the largest counts seen."""

    def __init__(self, db: DatabaseLocation) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.most_agents = 0
        self.most_slots = 0
        self.shared_ports = False
        self.stop = threading.Event()

    def run(self) -> None:
        asyncio.run(self._sample())

    async def _sample(self) -> None:
        me = psutil.Process()
        async with await Store.open(self.db) as store:
            while not self.stop.is_set():
                agents = 0
                for child in me.children(recursive=True):
                    try:
                        agents += "adw_tui.agents.sim" in " ".join(child.cmdline())
                    except psutil.Error:
                        continue
                self.most_agents = max(self.most_agents, agents)
                slots = await store.leases.list(LeaseKind.SLOT)
                ports = [lease.number for lease in await store.leases.list(LeaseKind.PORTS)]
                self.most_slots = max(self.most_slots, len(slots))
                self.shared_ports = self.shared_ports or len(ports) != len(set(ports))
                await asyncio.sleep(0.005)


@pytest.mark.slow
def test_twelve_processes_share_three_slots(sample_repo: Path, repo_db: RepoDatabase) -> None:
    workflows = sample_repo / ".adw" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "hold.yaml").write_text(HOLD_WORKFLOW)
    db = repo_db.of(sample_repo)

    async def create_issues() -> None:
        async with await Store.open(db) as store:
            for number in range(PROCESSES):
                await store.issues.create(f"Feature number {number}", "x")

    asyncio.run(create_issues())
    sampler = Sampler(db)
    sampler.start()
    runs = [
        subprocess.Popen(
            [str(ADW), "run", str(number), "--workflow", "hold", "--engine", "sim"],
            cwd=sample_repo,
            env=environ(sample_repo),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(1, PROCESSES + 1)
    ]
    try:
        errors = [run.communicate(timeout=180)[1] for run in runs]
    finally:
        sampler.stop.set()
        sampler.join()
        for run in runs:
            run.kill()

    failed = [error for run, error in zip(runs, errors, strict=True) if run.returncode != 0]
    assert not failed, failed[0][-3000:]

    async def statuses_and_leases() -> tuple[list[RunStatus], int]:
        async with await Store.open(db) as store:
            statuses = [run.status for run in await store.list_runs()]
            return statuses, sum([len(await store.leases.list(kind)) for kind in LeaseKind])

    statuses, left = asyncio.run(statuses_and_leases())
    assert statuses == [RunStatus.SUCCEEDED] * PROCESSES
    assert left == 0  # every process gave its slot and ports back
    assert sampler.most_slots == LIMIT  # the limit was reached, and held
    assert 1 <= sampler.most_agents <= LIMIT
    assert not sampler.shared_ports
    # Runs held back by the others' slots say so.
    assert any("waits for a slot: all 3 (ADW_MAX_CONCURRENT) are taken" in e for e in errors)
