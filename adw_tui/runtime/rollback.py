"""Rollback: fork a run's state back to an older version and, optionally, reset the run's
worktree to the commit recorded with that version.

`git reset --hard` destroys uncommitted changes for good and moves the run's branch, so
everything that could stop it is checked before anything is written: the run is not
queued or running, the worktree its state records exists, is a worktree root and is on
the run's branch, the version's commit is there, and nothing is uncommitted. Only then
is the new version written (the store's append-only fork) and the worktree reset.
"""

from pathlib import Path

from adw_tui.domain.errors import AdwError, RunActiveError
from adw_tui.domain.models import RunRecord, RunState, StateVersion
from adw_tui.runtime import git
from adw_tui.store import Store


class RollbackError(AdwError):
    """A rollback was refused before anything was written (or, for a failed reset, after
    the new version was written: the message says which)."""


def refuse_active(run: RunRecord) -> None:
    """Raise `RunActiveError` while the run is queued or running, before anything else is
    checked (the store checks it again when it writes the rollback)."""
    if run.status.is_active:
        raise RunActiveError(run.adw_id, run.status, run.owner)


async def rollback_run(
    store: Store, adw_id: str, version: int, *, reset_worktree: bool, actor: str
) -> int:
    """Write a new version equal to `version` (its parent), and with `reset_worktree`
    reset the run's worktree to `version`'s commit. Returns the new version.

    The new version records the worktree's HEAD as it is afterwards: `version`'s commit
    when reset, else the worktree's current HEAD (none without a worktree).
    """
    loaded = await store.load(adw_id)
    refuse_active(loaded.run)
    target = await store.get_version(adw_id, version)
    worktree = _recorded_worktree(loaded.state)
    if reset_worktree:
        path, commit = await _check_reset(adw_id, target, loaded.state, worktree)
        new_version = await store.rollback(adw_id, version, actor=actor, git_head=commit)
        await _reset(path, commit, new_version)
        return new_version
    head = await git.head(worktree) if worktree is not None and worktree.is_dir() else None
    return await store.rollback(adw_id, version, actor=actor, git_head=head)


def _recorded_worktree(state: RunState) -> Path | None:
    return Path(state.worktree_path) if state.worktree_path else None


async def _check_reset(
    adw_id: str, target: StateVersion, state: RunState, worktree: Path | None
) -> tuple[Path, str]:
    """The worktree and the full sha to reset it to, once every check passed (else a
    RollbackError or DirtyWorktreeError saying what to do)."""
    nothing = "nothing was written"
    if target.git_head is None:
        raise RollbackError(
            f"version {target.version} of run {adw_id} recorded no git head, so there is no "
            f"commit to reset the worktree to: roll back without resetting it; {nothing}"
        )
    if worktree is None:
        raise RollbackError(
            f"run {adw_id} has no worktree (its state records none): roll back without "
            f"resetting it; {nothing}"
        )
    if not worktree.is_dir():
        raise RollbackError(
            f"worktree {worktree} of run {adw_id} no longer exists: roll back without "
            f"resetting it, or create the worktree again from the run's branch; {nothing}"
        )
    if await git.top_level(worktree) != worktree.resolve():
        raise RollbackError(
            f"{worktree}, the worktree run {adw_id}'s state records, is not a git worktree "
            f"root: fix worktree_path in the run state; {nothing}"
        )
    branch = await git.current_branch(worktree)
    if state.branch_name and branch != state.branch_name:
        on = f"on {branch!r}" if branch else "on a detached HEAD"
        raise RollbackError(
            f"worktree {worktree} is {on}, not the run's branch {state.branch_name!r}: run "
            f"`git switch {state.branch_name}` there, then roll back again; {nothing}"
        )
    try:
        commit = await git.resolve_commit(worktree, target.git_head)
    except git.MissingBranchError:
        raise RollbackError(
            f"commit {target.git_head} of version {target.version} is not in the repository "
            f"of worktree {worktree} (was it garbage-collected?): roll back without "
            f"resetting the worktree; {nothing}"
        ) from None
    if await git.is_dirty(worktree):
        raise git.DirtyWorktreeError(
            worktree,
            f"commit or stash them first, then roll back again; {nothing} and the worktree "
            "was not reset",
        )
    return worktree, commit


async def _reset(worktree: Path, commit: str, new_version: int) -> None:
    try:
        await git.git("reset", "--quiet", "--hard", commit, cwd=worktree)
    except git.GitError as error:
        raise RollbackError(
            f"version {new_version} was written, but resetting worktree {worktree} to "
            f"{commit} failed: {error}; run `git reset --hard {commit}` there yourself"
        ) from error
