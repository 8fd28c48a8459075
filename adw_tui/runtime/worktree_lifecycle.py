"""The life of run worktrees after their runs: what is on disk (`adw worktrees ls`), and
removing them one by one (`rm`) or by age and status (`prune`).

Removing a worktree keeps the run, its history and (unless asked) its branch: a replay
makes the worktree again from the branch. Nothing of a run that is queued or running is
touched, and a worktree with uncommitted work is refused unless forced.
"""

import asyncio
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from adw_tui.domain.errors import AdwError, RunNotFoundError
from adw_tui.domain.models import RunRecord, RunStatus
from adw_tui.runtime import git
from adw_tui.runtime.worktrees import WorktreeManager
from adw_tui.store import Store

ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
"""Statuses whose worktree is in use: never removed."""


@dataclass(frozen=True)
class RunWorktree:
    """A worktree under the trees directory, and the run it belongs to (if any)."""

    adw_id: str
    path: Path
    branch: str | None
    run: RunRecord | None
    """None: no run of that id in the database (left by another database, or by hand)."""
    age: timedelta
    """Since the run was last updated (the directory's last change without a run)."""
    dirty: bool
    size_bytes: int | None = None
    """On disk, without following links; None when not measured."""

    @property
    def status(self) -> RunStatus | None:
        return self.run.status if self.run else None


@dataclass(frozen=True)
class Removed:
    worktree: RunWorktree
    branch_deleted: bool


async def run_worktrees(
    store: Store, manager: WorktreeManager, *, now: datetime, measure: bool = True
) -> list[RunWorktree]:
    """Every worktree git knows under the trees directory, oldest first, with its run,
    whether it has uncommitted work, and (`measure`) its size on disk."""
    found = []
    for entry in await manager.list():
        adw_id = entry.path.name
        try:
            run: RunRecord | None = await store.get_run(adw_id)
        except RunNotFoundError:
            run = None
        on_disk = entry.path.exists()
        if run is not None:
            changed = run.updated_at
        else:
            changed = datetime.fromtimestamp(
                entry.path.stat().st_mtime if on_disk else now.timestamp(), now.tzinfo
            )
        found.append(
            RunWorktree(
                adw_id=adw_id,
                path=entry.path,
                branch=entry.branch,
                run=run,
                age=max(now - changed, timedelta(0)),
                dirty=on_disk and await git.is_dirty(entry.path),
                size_bytes=await asyncio.to_thread(size_on_disk, entry.path)
                if measure and on_disk
                else None,
            )
        )
    return sorted(found, key=lambda worktree: worktree.age, reverse=True)


def size_on_disk(path: Path) -> int:
    """Bytes used by the files under `path` (links not followed, so never counted twice
    through them)."""
    total = 0
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue  # removed while walking
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    return total


def prunable(
    worktrees: Iterable[RunWorktree], *, older_than: timedelta, statuses: Collection[RunStatus]
) -> list[RunWorktree]:
    """The worktrees whose run is in `statuses` and older than `older_than`; never one of
    a queued or running run, nor one without a run."""
    return [
        worktree
        for worktree in worktrees
        if worktree.status is not None
        and worktree.status not in ACTIVE
        and worktree.status in statuses
        and worktree.age >= older_than
    ]


async def remove_worktree(
    store: Store,
    manager: WorktreeManager,
    worktree: RunWorktree,
    *,
    force: bool = False,
    delete_branch: bool = False,
    discard_commits: bool | None = None,
    actor: str,
) -> Removed:
    """Remove the run's worktree (refused for a run in use, and for uncommitted work
    unless `force`), and with `delete_branch` its branch (one with commits the main
    worktree's HEAD lacks only with `discard_commits`, which is `force` unless given:
    refused before anything is removed). The run and its history stay; the removal is
    audited."""
    if worktree.run is not None:
        current = await store.get_run(worktree.adw_id)  # it may have started since
        if current.status in ACTIVE:
            raise AdwError(
                f"run {worktree.adw_id} is {current.status}: its worktree is in use; cancel "
                "the run (or wait for it) before removing it"
            )
    branch = worktree.branch if delete_branch else None
    discard = force if discard_commits is None else discard_commits
    if branch and not discard and not await _merged(manager.repo, branch):
        raise AdwError(
            f"branch {branch} of run {worktree.adw_id} has commits that are in no other "
            f"branch here: push or merge them first, or delete it anyway (losing them) with "
            f"`adw worktrees rm {worktree.adw_id} --delete-branch --force`; nothing was removed"
        )
    await manager.remove(worktree.adw_id, force=force)
    if branch:
        await git.git("branch", "-D", branch, cwd=manager.repo)
    await store.audit.record(
        actor=actor,
        action="worktree.remove",
        adw_id=worktree.adw_id if worktree.run else None,
        detail={
            "path": str(worktree.path),
            "branch": worktree.branch,
            "branch_deleted": branch is not None,
            "forced": force,
        },
    )
    return Removed(worktree, branch is not None)


async def _merged(repo: Path, branch: str) -> bool:
    """Whether the main worktree's HEAD holds every commit of `branch` (what `git branch
    -d` asks before deleting)."""
    merged = await git.git("branch", "--list", "--merged", "HEAD", branch, cwd=repo)
    return bool(merged.strip())
