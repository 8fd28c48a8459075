"""Scouts read; they must not write. The seed's git safety pattern, made exact.

Before the scouts start, `tree_state` notes the worktree's HEAD, a fingerprint of its
status and tracked changes, its untracked files, and (`git stash create`, which changes
nothing) any uncommitted work already there. Afterwards `undo_changes` compares: when a
scout changed anything it records `git diff --stat` and the new files, then puts the
worktree back: `git reset --hard` to the HEAD of before (a scout's commit goes too),
`git clean -fd` sparing the untracked files that were there before, and the earlier
uncommitted work applied again. Ignored files (the issue copy, `.ports.env`) are never
touched: `git clean` without `-x` leaves them.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from adw_tui.domain.scouts import WorktreeChanges
from adw_tui.runtime.git import git, run_git

# gitignore's special characters, escaped so that `git clean -e` spares exactly a path.
_PATTERN_SPECIAL = re.compile(r"([*?\[\]\\!# ])")


@dataclass(frozen=True)
class TreeState:
    head: str
    fingerprint: str
    untracked: frozenset[str]
    stash: str | None
    """`git stash create` of the uncommitted changes before the scouts; None when clean."""


async def tree_state(cwd: Path) -> TreeState:
    """What `undo_changes` compares with and restores."""
    head = await git("rev-parse", "HEAD", cwd=cwd)
    fingerprint, untracked = await _fingerprint(cwd)
    stash = await git("stash", "create", cwd=cwd) or None
    return TreeState(head, fingerprint, untracked, stash)


async def undo_changes(cwd: Path, before: TreeState) -> WorktreeChanges | None:
    """None when the worktree is as `before`; else what changed, once undone."""
    head = await git("rev-parse", "HEAD", cwd=cwd)
    fingerprint, untracked = await _fingerprint(cwd)
    if head == before.head and fingerprint == before.fingerprint:
        return None
    diff_stat = await git("diff", "--stat", "--no-ext-diff", before.head, cwd=cwd)
    await git("reset", "--quiet", "--hard", before.head, cwd=cwd)
    spared = [arg for path in sorted(before.untracked) for arg in ("-e", _exact(path))]
    await git("clean", "-fd", "--quiet", *spared, cwd=cwd)
    if before.stash is not None:
        await git("stash", "apply", "--quiet", before.stash, cwd=cwd)
    return WorktreeChanges(diff_stat=diff_stat, untracked=sorted(untracked - before.untracked))


async def _fingerprint(cwd: Path) -> tuple[str, frozenset[str]]:
    """A digest of the status (untracked files included) and of the tracked changes'
    content; and the untracked files."""
    status = await run_git("status", "--porcelain", "-z", "--untracked-files=all", cwd=cwd)
    if not status.ok:
        raise status.error()
    diff = await run_git("diff", "HEAD", "--binary", "--no-ext-diff", cwd=cwd)
    if not diff.ok:
        raise diff.error()
    entries = status.stdout.split("\0")
    untracked = frozenset(entry[3:] for entry in entries if entry.startswith("?? "))
    digest = hashlib.sha256(f"{status.stdout}\0{diff.stdout}".encode()).hexdigest()
    return digest, untracked


def _exact(path: str) -> str:
    """A `git clean -e` pattern matching `path` alone, from the worktree's top."""
    return "/" + _PATTERN_SPECIAL.sub(r"\\\1", path)
