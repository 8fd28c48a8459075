"""What an operator does with a run's branch from the dashboard: push it (`P`), and find
where to see it in a browser (`o`)."""

from dataclasses import dataclass
from pathlib import Path

from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import RunState
from adw_tui.domain.web_urls import branch_url, pull_request_url
from adw_tui.runtime import git
from adw_tui.runtime.actions import push_branch
from adw_tui.runtime.services import RunServices


@dataclass(frozen=True)
class Pushed:
    branch: str
    head: str


async def push_run_branch(services: RunServices, adw_id: str, *, actor: str) -> Pushed:
    """Push the run's branch to origin as the `push` action does (never forced), from
    its worktree, or from the repository when the worktree was removed (the branch
    stays); audited."""
    state = (await services.store.load(adw_id)).state
    branch = _branch(adw_id, state)
    worktree = Path(state.worktree_path) if state.worktree_path else None
    cwd = worktree if worktree is not None and worktree.is_dir() else services.repo
    await push_branch(services, cwd, branch)
    head = await git.resolve_commit(cwd, branch)
    await services.store.audit.record(
        actor=actor, action="run.push", adw_id=adw_id, detail={"branch": branch, "head": head}
    )
    return Pushed(branch, head)


async def run_web_url(services: RunServices, adw_id: str) -> str:
    """The run's pull request, else its branch's page on origin's web site; an AdwError
    saying why there is none."""
    state = (await services.store.load(adw_id)).state
    pull = pull_request_url(state)
    if pull is not None:
        return pull
    branch = _branch(adw_id, state)
    remote = await git.remote_url(services.repo)
    if remote is None:
        raise AdwError(
            f"run {adw_id} has no pull request, and the repository has no remote origin "
            "to show its branch on"
        )
    url = branch_url(remote, branch)
    if url is None:
        raise AdwError(
            f"run {adw_id} has no pull request, and adw cannot tell the web page of "
            f"branch {branch} from origin's URL (it knows github.com, gitlab.com and "
            "codeberg.org)"
        )
    return url


def _branch(adw_id: str, state: RunState) -> str:
    if not state.branch_name:
        raise AdwError(f"run {adw_id} has no branch yet: it stopped before its worktree step")
    return state.branch_name
