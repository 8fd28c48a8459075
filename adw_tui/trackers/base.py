"""The protocol every issue tracker implements (local, GitHub; Jira, Linear next).

A workflow reads its issue and reports progress through a tracker and never learns which
one it is; the runtime picks the tracker from configuration (`tracker_for`).
"""

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Protocol, runtime_checkable

from adw_tui.domain.issues import (
    Issue,
    IssueComment,
    IssueMark,
    IssueState,
    IssueSummary,
    PullRequest,
    bot_comment,
)


class IssueTracker(Protocol):
    name: str
    """Short name shown to operators and used in configuration: "local", "github", ..."""

    @property
    def where(self) -> str:
        """Where the issues are, for messages: a database path, `github.com/owner/name`."""
        ...

    async def get_issue(self, number: int) -> Issue:
        """The issue with its comments, oldest first; IssueNotFoundError if unknown."""
        ...

    def issues(
        self,
        *,
        state: IssueState | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[IssueSummary, None]:
        """Issues newest first (created at or after `since`, in `state`), at most `limit`."""
        ...

    async def count_issues(
        self, *, state: IssueState | None = None, since: datetime | None = None
    ) -> int | None:
        """How many issues `issues` would give without a limit; None if the tracker
        cannot say without reading them all."""
        ...

    async def create_issue(self, title: str, body: str) -> Issue: ...

    async def comment(self, number: int, body: str) -> IssueComment:
        """Post `body` on issue `number` as adw."""
        ...

    async def mark(self, number: int, mark: IssueMark) -> None:
        """Label the issue with `mark` in place of adw's other marks (no-op without labels)."""
        ...

    async def close_issue(self, number: int) -> None: ...

    async def aclose(self) -> None:
        """Release connections; the tracker is not used again."""
        ...


@runtime_checkable
class RateLimited(Protocol):
    """A tracker whose service meters calls (GitHub): what it last said, for gauges."""

    def rate_limit_gauge(self) -> str | None:
        """`4,990/5,000` calls left (or what it waits for); None before any call."""
        ...


@runtime_checkable
class PullRequestHost(Protocol):
    """A tracker that also hosts the repository (GitHub; GitLab's merge requests could
    come next): a run's branch, pushed to `origin`, is reviewed there as a pull request.
    The local tracker is not one, so with it a run's branch stays local."""

    async def open_pull_request(
        self, *, head: str, base: str, title: str, body: str, number: int | None = None
    ) -> PullRequest:
        """Open the pull request of branch `head` into `base`, or update the one already
        open for `head` (pull request `number`, when the run recorded one): running it
        again never opens a second."""
        ...

    async def push_environment(self, remote_url: str) -> dict[str, str]:
        """Variables that let git push to `remote_url` with the tracker's credentials
        (none when git's own, such as an SSH key, are to be used)."""
        ...


async def post_status(
    tracker: IssueTracker, number: int, adw_id: str, agent_name: str, message: str
) -> IssueComment:
    """Report a run's progress on its issue in the original ADW format
    (`[ADW-AGENTS] <adw_id>_<agent_name>: <message>`), which triggers never act on."""
    return await tracker.comment(number, bot_comment(adw_id, agent_name, message))
