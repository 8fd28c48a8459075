"""`ADW_MAX_CONCURRENT` holds for the repository, not for each process: twelve separate
`adw run` processes with a limit of three never run more than three agents at once, never
share a port pair, say when they wait for the others, and all finish.

Twelve is four processes per slot: enough that every slot is fought over by processes
that started together (the test fails unless the limit was reached and some process was
told to wait), few enough that the suite does not spend its time starting Python."""

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from adw_tui.store import Store

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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADW_", "CLAUDE_CODE"))}
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

    def __init__(self, db_path: Path) -> None:
        super().__init__(daemon=True)
        self.db_path = db_path
        self.most_agents = 0
        self.most_slots = 0
        self.shared_ports = False
        self.stop = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self.stop.is_set():
            agents = 0
            for child in me.children(recursive=True):
                try:
                    agents += "adw_tui.agents.sim" in " ".join(child.cmdline())
                except psutil.Error:
                    continue
            self.most_agents = max(self.most_agents, agents)
            self._sample_leases()
            time.sleep(0.005)

    def _sample_leases(self) -> None:
        try:
            with sqlite3.connect(self.db_path) as db:
                slots = db.execute("SELECT count(*) FROM leases WHERE kind = 'slot'").fetchone()
                ports = db.execute(
                    "SELECT count(*), count(DISTINCT number) FROM leases WHERE kind = 'ports'"
                ).fetchone()
        except sqlite3.OperationalError:
            return
        self.most_slots = max(self.most_slots, slots[0])
        self.shared_ports = self.shared_ports or ports[0] != ports[1]


@pytest.mark.slow
def test_twelve_processes_share_three_slots(sample_repo: Path) -> None:
    workflows = sample_repo / ".adw" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "hold.yaml").write_text(HOLD_WORKFLOW)
    db_path = sample_repo / "agents" / "adw_state.db"

    async def create_issues() -> None:
        async with await Store.open(db_path) as store:
            for number in range(PROCESSES):
                await store.issues.create(f"Feature number {number}", "x")

    asyncio.run(create_issues())
    sampler = Sampler(db_path)
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
    with sqlite3.connect(db_path) as db:
        statuses = db.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()
        left = db.execute("SELECT count(*) FROM leases").fetchone()[0]
    assert statuses == [("succeeded", PROCESSES)]
    assert left == 0  # every process gave its slot and ports back
    assert sampler.most_slots == LIMIT  # the limit was reached, and held
    assert 1 <= sampler.most_agents <= LIMIT
    assert not sampler.shared_ports
    # Runs held back by the others' slots say so.
    assert any("waits for a slot: all 3 (ADW_MAX_CONCURRENT) are taken" in e for e in errors)
