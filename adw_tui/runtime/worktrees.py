"""Run worktrees: one git worktree per run at `<trees_dir>/<adw_id>`, on the run's branch.

A worktree is known three ways that can drift apart: the path recorded in the run's
state, the directory on disk, and git's own list (`git worktree list`). `validate`
compares them and says what to fix; `ensure` reuses a worktree only when disk and git
agree, and never deletes a directory git does not know.
"""

import asyncio
import builtins
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from adw_tui.config import Settings
from adw_tui.runtime.git import (
    DirtyWorktreeError,
    GitError,
    WorktreeInfo,
    branch_exists,
    check_branch_name,
    ensure_excluded,
    git,
    is_dirty,
    resolve_commit,
    worktree_list,
)
from adw_tui.runtime.ports import PORTS_ENV_FILE
from adw_tui.runtime.tracing import run_span

AGENTS_DIR = "agents"
"""The repository's directory of agent output (prompts, transcripts) and the database."""

__all__ = [
    "WorktreeError",
    "WorktreeInfo",
    "WorktreeManager",
    "WorktreeStatus",
    "worktree_manager",
]

logger = logging.getLogger(__name__)


class WorktreeError(GitError):
    """A run's worktree is not where, or not what, the operation needs."""


@dataclass(frozen=True, slots=True)
class WorktreeStatus:
    """What `validate` found: which of state, disk and git agree, and what to do if not."""

    adw_id: str
    path: Path  # where the run's worktree belongs: <trees_dir>/<adw_id>
    state_path: Path | None  # the path the run's state records, if any
    state_matches: bool  # the state records `path`
    on_disk: bool  # something exists at `path`
    known_to_git: bool  # `git worktree list` has `path`
    branch: str | None  # the branch git has checked out there
    message: str

    @property
    def valid(self) -> bool:
        """State, disk and git all agree on a worktree that exists."""
        return self.state_matches and self.on_disk and self.known_to_git


class WorktreeManager:
    """Creates, checks and removes the worktrees of runs in one repository.

    `repo` is the root of the repository's main worktree; `copy_files` are paths relative
    to it (such as `.env`) copied into each new worktree when they exist. Worktrees are
    added and removed one at a time (an `asyncio.Lock`): git fails rather than waits when
    two commands want the same lock file, and concurrent `git worktree add` runs do
    collide on `.git/config` when the new branch tracks a remote branch. Use one manager
    per repository in a process; another process is only kept out by git's own locks.
    """

    def __init__(
        self, repo: Path, *, trees_dir: Path | None = None, copy_files: Sequence[str] = ()
    ) -> None:
        self.repo = repo.resolve()
        self.trees_dir = (trees_dir or self.repo / "trees").resolve()
        for entry in copy_files:
            relative = PurePosixPath(entry)
            if relative.is_absolute() or ".." in relative.parts or not relative.parts:
                raise ValueError(f"copy_files entries are paths inside the repository: {entry!r}")
        self.copy_files = tuple(copy_files)
        self._lock = asyncio.Lock()

    def path_for(self, adw_id: str) -> Path:
        """Where the run's worktree belongs."""
        if not adw_id or Path(adw_id).name != adw_id or adw_id in (".", ".."):
            raise WorktreeError(
                f"{adw_id!r} cannot name a worktree directory: use the run id", cwd=self.repo
            )
        return self.trees_dir / adw_id

    @run_span("worktree create")
    async def create(self, adw_id: str, branch: str, base: str) -> Path:
        """Add the run's worktree on a new `branch` starting at `base` and return its path.

        `base` is any branch (local or remote-tracking) or commit; only its commits matter,
        so uncommitted changes in the main worktree neither block this nor reach the new
        worktree. When `branch` already exists (the run's worktree was removed earlier and
        the branch kept), the worktree checks it out as it is and `base` is not used.
        """
        path = self.path_for(adw_id)
        await check_branch_name(branch, cwd=self.repo)
        await resolve_commit(self.repo, base)
        entry = await self._entry(path)
        on_disk = path.exists()
        if entry is not None or on_disk:
            detail = (
                f"{path} already exists (branch {entry.branch}): reuse it, or remove it first"
                if entry is not None and on_disk
                else _describe(adw_id, path, None, on_disk, entry)
            )
            raise WorktreeError(
                f"cannot create the worktree of run {adw_id}: {detail}", cwd=self.repo
            )
        await ensure_excluded(self.repo, self._excludes())
        self.trees_dir.mkdir(parents=True, exist_ok=True)
        if await branch_exists(self.repo, branch):
            add: tuple[str, ...] = ("worktree", "add", str(path), branch)
        else:
            add = ("worktree", "add", "-b", branch, str(path), base)
        async with self._lock:
            await git(*add, cwd=self.repo)
        copied = self.copy_files_into(path)
        logger.info("created worktree %s on %s; copied %s", path, branch, copied or "nothing")
        return path

    async def ensure(self, adw_id: str, branch: str, base: str) -> Path:
        """The run's worktree: the existing one when disk and git agree and it is on
        `branch`, else a new one (after pruning git's record of a deleted directory)."""
        path = self.path_for(adw_id)
        entry = await self._entry(path)
        on_disk = path.exists()
        if entry is not None and on_disk:
            if entry.branch != branch:
                raise WorktreeError(
                    f"worktree {path} is on {entry.branch or 'a detached HEAD'}, not {branch!r}: "
                    f"run `git switch {branch}` there, or remove the worktree to start over",
                    cwd=path,
                )
            return path
        if on_disk:
            raise WorktreeError(_describe(adw_id, path, None, on_disk, entry), cwd=self.repo)
        if entry is not None:
            await self.prune()
        return await self.create(adw_id, branch, base)

    async def validate(self, adw_id: str, expected_path: str | None) -> WorktreeStatus:
        """Compare the path recorded in the run's state with the disk and with git."""
        path = self.path_for(adw_id)
        entry = await self._entry(path)
        on_disk = path.exists()
        state_path = Path(expected_path) if expected_path else None
        return WorktreeStatus(
            adw_id=adw_id,
            path=path,
            state_path=state_path,
            state_matches=state_path is not None and _same_path(state_path, path),
            on_disk=on_disk,
            known_to_git=entry is not None,
            branch=entry.branch if entry else None,
            message=_describe(adw_id, path, state_path, on_disk, entry),
        )

    @run_span("worktree remove")
    async def remove(self, adw_id: str, *, force: bool = False) -> None:
        """Remove the run's worktree (its branch is kept) and prune git's records.

        A worktree with uncommitted changes (or new files that are not ignored) is refused
        unless `force`, which discards them. A directory git does not know is never
        deleted. Removing a worktree that does not exist is not an error.
        """
        path = self.path_for(adw_id)
        entry = await self._entry(path)
        on_disk = path.exists()
        if entry is None and on_disk:
            raise WorktreeError(_describe(adw_id, path, None, on_disk, None), cwd=self.repo)
        if entry is not None and on_disk:
            if not force and await is_dirty(path):
                raise DirtyWorktreeError(
                    path, "commit them there, or remove the worktree with force to discard them"
                )
            async with self._lock:
                await git(
                    "worktree", "remove", *(["--force"] if force else []), str(path), cwd=self.repo
                )
        await self.prune()

    async def prune(self) -> None:
        """Drop git's records of worktrees whose directories are gone."""
        async with self._lock:
            await git("worktree", "prune", cwd=self.repo)

    def copy_files_into(self, worktree: Path) -> list[str]:
        """Copy each `copy_files` entry that exists in the repository into `worktree`;
        return the ones copied."""
        copied = []
        for entry in self.copy_files:
            source = self.repo / entry
            if source.is_file():
                target = worktree / entry
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
                copied.append(entry)
        return copied

    async def list(self) -> builtins.list[WorktreeInfo]:
        """The worktrees git knows under `trees_dir`."""
        return [w for w in await worktree_list(self.repo) if _under(w.path, self.trees_dir)]

    async def _entry(self, path: Path) -> WorktreeInfo | None:
        for worktree in await worktree_list(self.repo):
            if _same_path(worktree.path, path):
                return worktree
        return None

    def _excludes(self) -> builtins.list[str]:
        """What the runtime puts into the repository and must never be committed."""
        patterns = [f"/{entry}" for entry in self.copy_files]
        patterns.append(f"/{PORTS_ENV_FILE}")
        patterns.append(f"/{AGENTS_DIR}/")
        if _under(self.trees_dir, self.repo) and self.trees_dir != self.repo:
            patterns.append(f"/{self.trees_dir.relative_to(self.repo).as_posix()}/")
        return patterns


def worktree_manager(repo: Path, settings: Settings) -> WorktreeManager:
    """The manager of `repo`'s run worktrees as the settings place them (`ADW_TREES_DIR`)
    and fill them (`copy_files`)."""
    return WorktreeManager(
        repo, trees_dir=settings.trees_path(repo), copy_files=settings.copy_files
    )


def _same_path(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _under(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


def _describe(
    adw_id: str, path: Path, state_path: Path | None, on_disk: bool, entry: WorktreeInfo | None
) -> str:
    """One line: every disagreement between state, disk and git, each with its fix."""
    problems: list[str] = []
    if state_path is not None and not _same_path(state_path, path):
        problems.append(
            f"the run state records worktree {state_path} but run {adw_id}'s worktree belongs "
            f"at {path}: set worktree_path to {path} in the run state"
        )
    if on_disk and entry is None:
        problems.append(
            f"{path} exists but git does not list it as a worktree: move anything you need "
            "out of it, delete it, and run `git worktree prune`"
        )
    elif entry is not None and not on_disk:
        problems.append(
            f"git lists worktree {path} but the directory is gone: run `git worktree prune` "
            f"(branch {entry.branch} is kept)"
        )
    elif entry is None and not on_disk and state_path is not None and not problems:
        problems.append(
            f"worktree {path} of run {adw_id} no longer exists (neither on disk nor in git): "
            "create it again from the run's branch"
        )
    elif entry is not None and state_path is None:
        problems.append(
            f"worktree {path} exists (branch {entry.branch}) but the run state records no "
            f"worktree: set worktree_path to {path} in the run state"
        )
    if problems:
        return "; ".join(problems)
    if entry is not None:
        return f"worktree {path} is consistent (branch {entry.branch})"
    return f"run {adw_id} has no worktree"
