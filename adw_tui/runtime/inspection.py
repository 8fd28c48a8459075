"""Looking into a run's worktree without changing it: what it changed since its base.

Read-only: nothing here stages, commits, resets or writes in the worktree or the
repository (`git add -N` would show new files in one `git diff`, but it writes the
index, so new files are diffed against /dev/null one by one instead).
"""

from dataclasses import dataclass
from pathlib import Path

from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import RunState
from adw_tui.runtime import git

_DIFF = ("diff", "--no-color", "--no-ext-diff")


@dataclass(frozen=True, slots=True)
class WorktreeDiff:
    """A run's work as a unified diff: commits since `fork_point`, plus what is not
    committed yet (changed tracked files and new, not ignored files)."""

    worktree: Path
    base: str
    fork_point: str
    """The merge base of `base` and the worktree's HEAD: commits that land on `base`
    after the run's branch forked are not part of the run's work."""
    text: str

    @property
    def empty(self) -> bool:
        return not self.text.strip()


async def run_worktree_diff(adw_id: str, state: RunState, repo: Path) -> WorktreeDiff:
    """The diff of the run whose current state is `state` (in repository `repo`)."""
    if not state.worktree_path:
        raise AdwError(
            f"run {adw_id} has no worktree yet: its diff shows once its worktree step has run"
        )
    worktree = Path(state.worktree_path)
    if not worktree.is_dir():
        raise AdwError(
            f"the worktree of run {adw_id} is gone ({worktree}): "
            "`git worktree list` shows what is left of it"
        )
    recorded = (state.model_extra or {}).get("base_branch")
    base = str(recorded) if recorded else await git.default_branch(repo)
    return await worktree_diff(worktree, base)


async def worktree_diff(worktree: Path, base: str) -> WorktreeDiff:
    """Everything the worktree holds that `base` did not when the branch forked from it."""
    await git.resolve_commit(worktree, base)
    fork_point = await git.git("merge-base", base, "HEAD", cwd=worktree)
    parts = [await _diff_output(*_DIFF, fork_point, cwd=worktree)]
    untracked = await git.git("ls-files", "--others", "--exclude-standard", "-z", cwd=worktree)
    for path in filter(None, untracked.split("\0")):
        new_file = ("--no-index", "--", "/dev/null", path)
        parts.append(await _diff_output(*_DIFF, *new_file, cwd=worktree, differs_ok=True))
    return WorktreeDiff(worktree, base, fork_point, "".join(parts))


async def _diff_output(*args: str, cwd: Path, differs_ok: bool = False) -> str:
    """A diff's stdout as git wrote it (not stripped: a blank context line is content).
    `--no-index` exits 1 when the files differ, which is what it is asked for."""
    result = await git.run_git(*args, cwd=cwd)
    if result.ok or (differs_ok and result.returncode == 1):
        return result.stdout
    raise result.error()
