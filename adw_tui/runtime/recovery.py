"""Recovery after a crash: runs left `running` by a process that is gone.

A run's owner is `host:pid`. On this host an owner whose process no longer exists is
gone; for another host, a heartbeat older than `stale_after_s` says so, judged only once
the database has been reachable for that long: while the server was away (a restart)
no owner could beat, so heartbeats it held back are not missed ones. Each orphaned
run has its agents' process groups killed (only processes still working in this
repository), its open attempts closed, its worktree checked, and is marked
`interrupted`, ready to resume from its last completed step.
"""

import asyncio
import contextlib
import math
import os
import signal
from datetime import timedelta
from pathlib import Path

from adw_tui.domain.clock import utc_now
from adw_tui.domain.fleet import host_name
from adw_tui.domain.modeling import Model
from adw_tui.domain.models import NewDeadLetter, RunRecord, RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.services import RUNTIME_ACTOR
from adw_tui.runtime.worktrees import WorktreeManager
from adw_tui.store import Store

RECOVERY_ACTOR = "recovery"
RECOVERED_ATTEMPT = "interrupted: the process running it died; recovered"
"""How recovery closes an attempt whose process died (kept to find its agents later)."""


class RecoveredRun(Model):
    adw_id: str
    workflow: str
    issue: str | None
    owner: str | None
    reason: str
    killed_processes: int
    worktree: str


async def recover_orphans(
    store: Store,
    repo: Path,
    *,
    stale_after_s: float = 120.0,
    worktrees: WorktreeManager | None = None,
) -> list[RecoveredRun]:
    """Find and settle every orphaned run; they end `interrupted`. `worktrees`: where
    the runs' worktrees are (default: `<repo>/trees`)."""
    worktrees = worktrees or WorktreeManager(repo)
    recovered = []
    # A run queued by a process of this host killed between creating and claiming it
    # never starts unless settled here; one of the fleet's is the workers', one of
    # another host its own processes'.
    reachable_for_s = await store.reachable_for_s()
    for run in [
        *await store.list_runs(status=RunStatus.RUNNING),
        *await store.never_started(host_name()),
    ]:
        reason = orphaned(run, stale_after_s, reachable_for_s=reachable_for_s)
        if reason is None:
            continue
        killed = await _stop_agents(store, run.adw_id, repo)
        state = (await store.load(run.adw_id)).state
        worktree = "none yet"
        if state.worktree_path:
            status = await worktrees.validate(run.adw_id, state.worktree_path)
            worktree = "ok" if status.valid else status.message
        await store.set_status(
            run.adw_id,
            RunStatus.INTERRUPTED,
            actor=RECOVERY_ACTOR,
            current_step=run.current_step,
        )
        if run.owner:
            await store.claims.release(run.adw_id, run.owner)
        recovered.append(
            RecoveredRun(
                adw_id=run.adw_id,
                workflow=run.workflow,
                issue=run.issue,
                owner=run.owner,
                reason=reason,
                killed_processes=killed,
                worktree=worktree,
            )
        )
    return recovered


def orphaned(
    run: RunRecord, stale_after_s: float, *, reachable_for_s: float = math.inf
) -> str | None:
    """Why the run's owner is gone, or None while it lives (or may: the database has
    been reachable for `reachable_for_s` only, less than an owner on another host is
    given to beat)."""
    if not run.owner or ":" not in run.owner:
        return "it has no owner"
    host, _, pid = run.owner.rpartition(":")
    if host == host_name():
        if not pid.isdigit() or not _alive(int(pid)):
            return f"process {pid} is gone"
        return None
    if reachable_for_s <= stale_after_s:
        return None
    beat = run.heartbeat_at or run.updated_at
    if utc_now() - beat > timedelta(seconds=stale_after_s):
        return f"no heartbeat from {run.owner} for over {stale_after_s:g}s"
    return None


def _alive(pid: int) -> bool:
    import psutil  # here: only a run left running by a dead process is checked

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


async def _stop_agents(store: Store, adw_id: str, repo: Path) -> int:
    """Kill what is left of the run's agent calls; close those attempts as failed."""
    killed = 0
    for attempt in await store.steps.for_run(adw_id):
        if attempt.status is not StepStatus.RUNNING:
            continue
        if attempt.pgid is not None:
            killed += await asyncio.to_thread(_kill_groups_in, {attempt.pgid}, repo)
        await store.steps.finish(attempt.id, StepStatus.FAILED, error=RECOVERED_ATTEMPT)
    return killed


async def kill_abandoned_agents(store: Store, repo: Path, *, within: timedelta) -> int:
    """Kill the agents of this host's repository whose process died and whose run was
    recovered elsewhere (a worker on another host took it over: it could not reach them),
    closed within `within`; what a restarted worker does first. Returns how many."""
    since = (utc_now() - within).isoformat()
    groups = await store.steps.abandoned_process_groups(RECOVERED_ATTEMPT, since)
    return await asyncio.to_thread(_kill_groups_in, groups, repo) if groups else 0


def _kill_groups_in(pgids: set[int], repo: Path) -> int:
    """SIGKILL the members of the process groups `pgids` that work inside `repo`. A
    process group id can be reused by an unrelated program after a reboot; the
    working-directory check keeps recovery from touching it."""
    import psutil

    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) in pgids and Path(process.cwd()).is_relative_to(repo):
                members.append(process)
    for process in members:
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGKILL)
    psutil.wait_procs(members, timeout=5)
    return len(members)


async def resumable_runs(store: Store) -> list[RunRecord]:
    """Interrupted runs adw itself started (not imported legacy ones), oldest first."""
    runs = []
    for run in reversed(await store.list_runs(status=RunStatus.INTERRUPTED)):
        control = (await store.load(run.adw_id)).control
        # A run stopped before its first step ended has no `next_state` yet: it is still
        # adw's own when the runtime wrote its first version.
        if (
            control.next_state is not None
            or (await store.get_version(run.adw_id, 1)).actor == RUNTIME_ACTOR
        ):
            runs.append(run)
    return runs


async def settle_interrupted(
    orchestrator: Orchestrator, runs: list[RunRecord], action: str
) -> list[str]:
    """Resume each interrupted run from its last completed step (returns the adw_ids now
    queued), or dead-letter it when `action` is "dead_letter"."""
    store = orchestrator.store
    if action == "dead_letter":
        for run in runs:
            await store.dead_letters.add(
                NewDeadLetter(
                    adw_id=run.adw_id,
                    workflow=run.workflow,
                    step=run.current_step,
                    state_version=run.version,
                    error_class="interrupted",
                    error_message="interrupted, then dead-lettered by recovery",
                    attempts=0,
                ),
                actor=RECOVERY_ACTOR,
            )
        return []
    return [
        await orchestrator.launch(
            int(run.issue or 0),
            workflow=run.workflow,
            adw_id=run.adw_id,
        )
        for run in runs
    ]


async def recover_at_start(
    orchestrator: Orchestrator, action: str
) -> tuple[list[RecoveredRun], list[str]]:
    """What `adw run` and the dashboard do as they start: settle the runs a dead process
    left behind, then resume them (or dead-letter them, per `action`); runs queued for
    the fleet are left, interrupted, for a worker to take. Returns the settled runs and
    the adw_ids resumed."""
    store = orchestrator.store
    orphans = await recover_orphans(store, orchestrator.repo, worktrees=orchestrator.worktrees)
    runs = [await store.get_run(orphan.adw_id) for orphan in orphans]
    ours = [run for run in runs if run.fleet is None]
    return orphans, await settle_interrupted(orchestrator, ours, action)
