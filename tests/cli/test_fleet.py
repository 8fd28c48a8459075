"""The fleet on real processes: four `adw worker` processes, each on its own clone and
"host" (`ADW_HOST_NAME`), share one database and drain forty queued runs of the simulated
agent, each run executed exactly once; labels keep a run for the workers that have them;
a worker killed mid-step has its run taken over once; `adw workers` shows the fleet; the
workers ride out a database restart."""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psutil
import pytest

from adw_tui import __version__
from adw_tui.config import load_settings
from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.store.location import DatabaseLocation, PostgresDsn
from adw_tui.store.schema import LATEST_VERSION
from tests.conftest import raw_execute
from tests.fake_github import TOKEN, FakeGitHub
from tests.postgres import Cluster, Server

ADW = [sys.executable, "-m", "adw_tui"]
TRIAGE = """\
name: triage
states:
  classify:
    command: /classify_issue
    agent: issue_classifier
    args: ["${issue_json}"]
    output: classification
    on_success: complete
  complete:
    terminal: true
"""


def git(cwd: Path, *argv: str) -> None:
    subprocess.run(["git", *argv], cwd=cwd, check=True, capture_output=True)


def git_out(cwd: Path, *argv: str) -> str:
    done = subprocess.run(["git", *argv], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def clones(tmp_path: Path) -> list[Path]:
    """Four clones of one bare origin whose main holds the one-step `triage` workflow."""
    source = tmp_path / "source"
    (source / ".adw" / "workflows").mkdir(parents=True)
    (source / ".adw" / "workflows" / "triage.yaml").write_text(TRIAGE)
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(source))
    git(source, "add", "-A")
    git(source, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "init")
    git(tmp_path, "clone", "--quiet", "--bare", str(source), str(tmp_path / "origin.git"))
    hosts = [tmp_path / f"host-{index}" for index in range(4)]
    for host in hosts:
        git(tmp_path, "clone", "--quiet", str(tmp_path / "origin.git"), str(host))
    return hosts


def worker_env(db: DatabaseLocation, host: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ADW_")}
    where = db.url if isinstance(db, PostgresDsn) else str(db)
    return {**env, "ADW_DB": where, "ADW_ENGINE": "sim", "ADW_HOST_NAME": host}


def start_worker(
    clone: Path, db: DatabaseLocation, *argv: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*ADW, "--repo", str(clone), "worker", *argv],
        env={**worker_env(db, clone.name), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(workers: list[subprocess.Popen[str]]) -> list[str]:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    errors = [worker.communicate(timeout=60)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0] * len(workers), errors
    return errors


async def enqueue(
    clone: Path, db: DatabaseLocation, count: int, labels: list[str] | None = None
) -> list[str]:
    settings = load_settings(clone).model_copy(update={"engine": "sim"})
    async with await Store.open(db) as store, Orchestrator(store, clone, settings) as orchestrator:
        queued = []
        for index in range(count):
            issue = await store.issues.create(f"Issue {index}", "x")
            queued.append(
                await orchestrator.launch(
                    issue.number, workflow="triage", fleet_labels=labels or []
                )
            )
        return queued


async def wait_final(db: DatabaseLocation, adw_ids: list[str], timeout_s: float = 120.0) -> None:
    async with await Store.open(db) as store:
        for _ in range(int(timeout_s / 0.2)):
            runs = [await store.get_run(adw_id) for adw_id in adw_ids]
            if all(run.status.is_final for run in runs):
                return
            await asyncio.sleep(0.2)
    raise AssertionError(f"not all final: {Counter(run.status for run in runs)}")


async def test_four_workers_drain_forty_runs_each_once(
    clones: list[Path], db_location: DatabaseLocation
) -> None:
    """On SQLite (one machine) and on PostgreSQL (what several machines would share)."""
    db = db_location
    queued = await enqueue(clones[0], db, 40)
    workers = [start_worker(clone, db, "--slots", "3") for clone in clones]
    try:
        await wait_final(db, queued)
    finally:
        stop(workers)
    async with await Store.open(db) as store:
        runs = [await store.get_run(adw_id) for adw_id in queued]
        assert {run.status for run in runs} == {RunStatus.SUCCEEDED}
        claims = [e for e in await store.audit.entries(limit=10_000) if e.action == "run.claim"]
        assert Counter(entry.adw_id for entry in claims) == Counter(queued)  # once each
        assert len({entry.actor.rsplit(":", 1)[0] for entry in claims}) >= 2  # shared out
        for adw_id in queued:
            attempts = await store.steps.for_run(adw_id)
            assert [(a.step, a.attempt) for a in attempts] == [("classify", 1)]
            versions = [version.version for version in await store.history(adw_id)]
            assert sorted(versions) == list(range(1, len(versions) + 1))
    listed = await asyncio.to_thread(
        subprocess.run,
        [*ADW, "--repo", str(clones[0]), "workers", "--json"],
        env=worker_env(db, "dashboard"),
        capture_output=True,
        text=True,
        check=True,
    )
    shown = json.loads(listed.stdout)
    assert shown["queued"] == 0
    assert sorted(worker["host"] for worker in shown["workers"]) == [c.name for c in clones]
    assert all(worker["stopped_at"] for worker in shown["workers"])
    assert {worker["version"] for worker in shown["workers"]} == {__version__}


async def test_a_worker_stops_with_one_line_when_a_newer_adw_migrates_the_database(
    clones: list[Path], db_location: DatabaseLocation
) -> None:
    """The database moves to a schema this adw does not know while its worker runs (a
    newer adw migrated it): the worker stops taking work and says what to do."""
    db = db_location
    async with await Store.open(db) as store:
        worker = start_worker(clones[0], db)
        for _ in range(200):
            if [w for w in await store.fleet.workers() if w.stopped_at is None]:
                break
            await asyncio.sleep(0.05)
        newer = LATEST_VERSION + 1
        await raw_execute(
            store,
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
            (newer, "a newer adw's migration", "2026-12-07T00:00:00+00:00"),
        )
        if isinstance(db, Path):
            await raw_execute(store, f"PRAGMA user_version={newer}")
    _, stderr = await asyncio.to_thread(worker.communicate, timeout=60)
    assert worker.returncode == 1
    [line] = [line for line in stderr.splitlines() if "schema version" in line]
    assert f"migrated to schema version {newer} by a newer adw" in line
    assert f"knows up to {LATEST_VERSION}; upgrade adw on this host" in line
    assert "Traceback" not in stderr


async def test_a_run_asking_for_a_label_waits_for_a_worker_that_has_it(
    clones: list[Path], db_location: DatabaseLocation
) -> None:
    db = db_location
    [gpu_run] = await enqueue(clones[0], db, 1, labels=["gpu"])
    [plain_run] = await enqueue(clones[0], db, 1)
    plain = [start_worker(clones[1], db, "--slots", "2")]
    try:
        await wait_final(db, [plain_run])
        async with await Store.open(db) as store:
            assert (await store.get_run(gpu_run)).status is RunStatus.QUEUED
        gpu = [start_worker(clones[2], db, "--labels", "gpu", "--name", "gpu-box")]
        try:
            await wait_final(db, [gpu_run])
        finally:
            stop(gpu)
    finally:
        stop(plain)
    async with await Store.open(db) as store:
        [claim] = [e for e in await store.audit.entries(adw_id=gpu_run) if e.action == "run.claim"]
        assert claim.actor.startswith("host-2:")


def group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == pgid:
                members.append(process)
    return members


async def test_a_killed_workers_run_is_taken_over_once_and_its_agent_killed_on_restart(
    clones: list[Path], db_location: DatabaseLocation
) -> None:
    """SIGKILL a worker mid-step: after six missed heartbeats a worker on another host
    resumes the run from its last completed step, and the run's step succeeds once. The
    killed worker's agent is out of the other host's reach; the killed worker kills it
    when it starts again."""
    db = db_location
    [adw_id] = await enqueue(clones[0], db, 1)
    fast_beats = {"ADW_HEARTBEAT_INTERVAL": "0.5"}
    slow_agent = {**fast_beats, "ADW_SIM_DELAY": "60"}  # the agent sleeps between lines
    killed = start_worker(clones[0], db, env=slow_agent)
    async with await Store.open(db) as store:
        for _ in range(300):  # until the agent is under way: it told its session
            attempts = await store.steps.for_run(adw_id)
            if attempts and attempts[-1].pgid is not None and attempts[-1].session_id:
                break
            await asyncio.sleep(0.1)
        pgid = attempts[-1].pgid
        assert pgid is not None
        killed.kill()
        killed.communicate(timeout=30)
        assert group_members(pgid)  # the agent outlived its worker

        taker = start_worker(clones[1], db, env=fast_beats)
        try:
            await wait_final(db, [adw_id], timeout_s=60)
            assert group_members(pgid)  # out of the other host's reach
            restarted = start_worker(clones[0], db, env=fast_beats)
            try:
                for _ in range(300):
                    if not group_members(pgid):
                        break
                    await asyncio.sleep(0.1)
                assert not group_members(pgid)
            finally:
                stop([restarted])
        finally:
            stop([taker])
        letters = await store.dead_letters.list()
        assert (await store.get_run(adw_id)).status is RunStatus.SUCCEEDED, letters
        steps = [(a.step, a.status) for a in await store.steps.for_run(adw_id)]
        assert steps == [("classify", StepStatus.FAILED), ("classify", StepStatus.SUCCEEDED)]
        claims = [
            e.actor for e in await store.audit.entries(adw_id=adw_id) if e.action == "run.claim"
        ]
        assert [actor.split(":")[0] for actor in reversed(claims)] == ["host-0", "host-1"]


async def test_a_run_taken_over_goes_on_from_the_branch_its_first_worker_pushed(
    clones: list[Path], db_location: DatabaseLocation, tmp_path: Path
) -> None:
    """A `plan` run whose worker dies in its plan step: each ended step had pushed the
    branch to the shared origin, so a worker on another host makes the run's worktree in
    its own clone from that branch, and the plan's commit reaches origin from there."""
    db = db_location
    settings = load_settings(clones[0]).model_copy(update={"engine": "sim"})
    async with await Store.open(db) as store, Orchestrator(store, clones[0], settings) as o:
        issue = await store.issues.create("Add a slugify helper", "Slugs for titles.")
        adw_id = await o.launch(issue.number, workflow="plan", fleet_labels=[])
    fast_beats = {"ADW_HEARTBEAT_INTERVAL": "0.5"}
    hang = {**fast_beats, "ADW_SIM_FAULTS": "feature=hang,bug=hang,chore=hang"}
    first = start_worker(clones[0], db, env=hang)
    async with await Store.open(db) as store:
        for _ in range(600):  # until the plan step's agent is under way
            attempts = await store.steps.for_run(adw_id)
            if attempts and attempts[-1].step == "plan" and attempts[-1].session_id:
                break
            await asyncio.sleep(0.1)
        assert attempts[-1].step == "plan"
        orphan = attempts[-1].pgid
        pushed = (await store.load(adw_id)).state.as_data()
        first.kill()
        first.communicate(timeout=30)
    try:
        assert pushed["worktree_host"] == "host-0"
        origin = tmp_path / "origin.git"
        branch = pushed["branch_name"]
        assert git_out(origin, "rev-parse", branch) == pushed["fleet_head"]

        taker = start_worker(clones[1], db, env=fast_beats)
        try:
            await wait_final(db, [adw_id], timeout_s=90)
        finally:
            stop([taker])
    finally:  # the killed worker's hanging agent: its host's worker never starts again
        if orphan is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(orphan, signal.SIGKILL)
    async with await Store.open(db) as store:
        assert (await store.get_run(adw_id)).status is RunStatus.SUCCEEDED
        state = (await store.load(adw_id)).state.as_data()
    assert state["worktree_host"] == "host-1"
    assert Path(state["worktree_path"]).is_relative_to(clones[1])
    assert git_out(origin, "rev-parse", branch) == state["fleet_head"]
    assert git_out(clones[1], "rev-parse", branch) == state["fleet_head"]
    assert state["plan_file"] in git_out(origin, "ls-tree", "-r", "--name-only", branch)


async def test_a_best_of_group_run_by_another_hosts_worker_is_published_once_chosen(
    clones: list[Path], db_location: DatabaseLocation, github: FakeGitHub
) -> None:
    """`adw run --best-of 2 --enqueue` on one host; a worker on another host runs both
    (their branches reach origin after each step, their pull requests wait); `adw
    choose` back on the first host fetches the winner's branch and opens its one pull
    request."""
    db = db_location
    number = github.add_issue("Add a slugify helper", "Slugs.")
    on_github = {
        "ADW_TRACKER": "github",
        "ADW_GITHUB_REPO": github.repository,
        "ADW_GITHUB_API_URL": github.api_url,
        "GITHUB_PAT": TOKEN,
    }

    def adw(clone: Path, *argv: str) -> str:
        done = subprocess.run(
            [*ADW, "--repo", str(clone), *argv],
            env={**worker_env(db, clone.name), **on_github},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    queued = await asyncio.to_thread(
        adw, clones[0], "run", str(number), "--workflow", "plan", "--best-of", "2",
        "--enqueue", "--json",
    )  # fmt: skip
    group = json.loads(queued)["queued"]
    worker = start_worker(clones[1], db, env=on_github)
    try:
        await wait_final(db, group)
    finally:
        stop([worker])
    assert github.pulls == {}
    async with await Store.open(db) as store:
        assert {(await store.get_run(adw_id)).status for adw_id in group} == {RunStatus.SUCCEEDED}
        winner = (await store.load(group[1])).state.as_data()
    assert winner["worktree_host"] == "host-1"
    branch = winner["branch_name"]
    assert git_out(tmp_origin(clones), "rev-parse", branch) == winner["fleet_head"]

    chosen = await asyncio.to_thread(adw, clones[0], "choose", group[1])

    [pull] = github.pulls.values()
    assert pull["head"]["ref"] == branch
    assert pull["html_url"] in chosen
    assert git_out(clones[0], "rev-parse", branch) == winner["fleet_head"]


def tmp_origin(clones: list[Path]) -> Path:
    return clones[0].parent / "origin.git"


@pytest.mark.postgresql
async def test_workers_ride_out_a_database_restart(
    clones: list[Path], own_cluster: tuple[Cluster, Server]
) -> None:
    """The server restarted (`pg_ctl restart -m fast`) while two workers drain ten runs,
    then stopped and kept down longer than the takeover window before it starts again:
    the workers wait for it and go on; no run is taken over for the outage, each step is
    attempted once, every run succeeds with a contiguous history, and nothing reaches the
    dead letters."""
    cluster, server = own_cluster
    db = server.create_database()
    queued = await enqueue(clones[0], db, 10)
    quick = {"ADW_HEARTBEAT_INTERVAL": "0.3", "ADW_SIM_DELAY": "0.2"}  # taken over after 1.8 s
    workers = [start_worker(clone, db, "--slots", "3", env=quick) for clone in clones[:2]]
    try:
        async with await Store.open(db) as store:
            for _ in range(300):  # until runs are under way on both workers
                running = await store.list_runs(status=RunStatus.RUNNING)
                if len({run.owner for run in running}) == 2:
                    break
                await asyncio.sleep(0.1)
            assert len({run.owner for run in running}) == 2
        await asyncio.to_thread(cluster.restart)  # `pg_ctl restart -m fast`
        await asyncio.sleep(0.5)
        await asyncio.to_thread(cluster.halt)
        await asyncio.sleep(3.0)  # longer than the takeover window
        await asyncio.to_thread(cluster.resume)
        await wait_final(db, queued)
    finally:
        errors = stop(workers)
    async with await Store.open(db) as store:
        assert await store.dead_letters.list() == []
        runs = [await store.get_run(adw_id) for adw_id in queued]
        assert {run.status for run in runs} == {RunStatus.SUCCEEDED}
        entries = await store.audit.entries(limit=10_000)
        claims = [entry.adw_id for entry in entries if entry.action == "run.claim"]
        assert Counter(claims) == Counter(queued)  # none taken over
        for adw_id in queued:
            attempts = await store.steps.for_run(adw_id)
            assert [(a.step, a.attempt, a.status) for a in attempts] == [
                ("classify", 1, StepStatus.SUCCEEDED)
            ]
            versions = [version.version for version in await store.history(adw_id)]
            assert sorted(versions) == list(range(1, len(versions) + 1))
    assert any("database unreachable, reconnecting" in said for said in errors)
