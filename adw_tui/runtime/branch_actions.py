"""What an operator does with a run's branch: push it (`P` in the dashboard), publish it
(push it and open its pull request: the chosen run of a best-of group), and find where
to see it in a browser (`o`)."""

from dataclasses import dataclass
from pathlib import Path

from adw_tui.domain.errors import AdwError
from adw_tui.domain.fleet import host_name
from adw_tui.domain.models import RunState
from adw_tui.domain.web_urls import branch_url, pull_request_url
from adw_tui.runtime import git
from adw_tui.runtime.actions import (
    FLEET_HEAD,
    open_pull_request,
    push_branch,
    remote_environment,
)
from adw_tui.runtime.services import RunServices


@dataclass(frozen=True)
class Pushed:
    branch: str
    head: str


async def push_run_branch(services: RunServices, adw_id: str, *, actor: str) -> Pushed:
    """Push the run's branch to origin as the `push` action does (never forced), from
    its worktree, or from the repository when the worktree was removed (the branch
    stays); audited. A fleet run that a worker on another host ran has its branch on
    origin as that worker last pushed it: it is fetched here first."""
    state = (await services.store.load(adw_id)).state
    branch = _branch(adw_id, state)
    data = state.as_data()
    here = data.get("worktree_host", host_name()) == host_name()
    worktree = Path(state.worktree_path) if state.worktree_path and here else None
    cwd = worktree if worktree is not None and worktree.is_dir() else services.repo
    if not here and data.get(FLEET_HEAD):
        env = await remote_environment(services, services.repo)
        await git.fetch_branch(services.repo, branch, env=env)
    await push_branch(services, cwd, branch)
    head = await git.resolve_commit(cwd, branch)
    await services.store.audit.record(
        actor=actor, action="run.push", adw_id=adw_id, detail={"branch": branch, "head": head}
    )
    return Pushed(branch, head)


@dataclass(frozen=True)
class Published:
    pushed: Pushed
    pr_number: int
    pr_url: str


async def publish_run(services: RunServices, adw_id: str, *, actor: str) -> Published:
    """Push the run's branch and open its pull request (or update the one it has), as its
    workflow's `push` and `open_pr` steps would have; the pull request is saved in the
    run's state (a version by `actor`)."""
    pushed = await push_run_branch(services, adw_id, actor=actor)
    state = (await services.store.load(adw_id)).state.as_data()
    opened = await open_pull_request(services, adw_id, state)
    await services.store.update(
        adw_id, lambda data: {**data, **opened}, reason="pull request opened", actor=actor
    )
    return Published(pushed, int(opened["pr_number"]), str(opened["pr_url"]))


@dataclass(frozen=True)
class Chosen:
    """A best-of choice: the group's runs, and the winner's pull request when it was
    opened at once; else `held` says when its branch goes on."""

    members: list[str]
    published: Published | None = None
    held: str | None = None


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
