"""A finished run with a real worktree and a commit per state version, written by hand
(no agent), for the rollback tests of the runtime and the CLI."""

from dataclasses import dataclass
from pathlib import Path

from adw_tui.domain.models import RunStatus
from adw_tui.store import Store
from tests.runtime import commit_file, sh

RUN_ID = "0a1b2c3d"


@dataclass(frozen=True)
class WorktreeRun:
    adw_id: str
    worktree: Path
    heads: tuple[str, ...]
    """The git head recorded with versions 1, 2 and 3."""


async def seed_worktree_run(store: Store, repo: Path, adw_id: str = RUN_ID) -> WorktreeRun:
    """Run `adw_id` of `repo` (a repository with commits and a git identity, ignoring
    `trees/`), succeeded, at version 3: its worktree `<repo>/trees/<adw_id>` gets a
    commit before versions 2 and 3, and each version records the worktree's head."""
    branch = f"feat-issue-7-adw-{adw_id}"
    worktree = repo / "trees" / adw_id
    sh(repo, "worktree", "add", "-q", "-b", branch, str(worktree))
    state = {
        "adw_id": adw_id,
        "issue_number": "7",
        "branch_name": branch,
        "worktree_path": str(worktree),
    }
    heads = [sh(worktree, "rev-parse", "HEAD")]
    await store.create_run(state, workflow="build", issue="7", actor="test", git_head=heads[0])
    for version, name in ((1, "plan.md"), (2, "build.py")):
        heads.append(commit_file(worktree, name, f"{name}\n"))
        await store.save(
            adw_id,
            {**state, "step": name},
            version,
            reason=f"{name} committed",
            actor="test",
            git_head=heads[-1],
        )
    await store.set_status(adw_id, RunStatus.SUCCEEDED, actor="test")
    return WorktreeRun(adw_id, worktree, tuple(heads))
