"""The protocol every issue tracker implements (local now; GitHub, Jira, Linear next).

A workflow reads its issue and reports progress through a tracker and never learns which
one it is; the runtime picks the tracker from configuration.
"""

from typing import Protocol

from adw_tui.domain.issues import Issue, IssueComment, bot_comment


class IssueTracker(Protocol):
    name: str
    """Short name shown to operators and used in configuration: "local", "github", ..."""

    async def get_issue(self, number: int) -> Issue:
        """The issue with its comments, oldest first; IssueNotFoundError if unknown."""
        ...

    async def list_issues(self) -> list[Issue]:
        """The tracker's issues, newest first."""
        ...

    async def create_issue(self, title: str, body: str) -> Issue: ...

    async def comment(self, number: int, body: str) -> IssueComment:
        """Post `body` on issue `number` as adw."""
        ...


async def post_status(
    tracker: IssueTracker, number: int, adw_id: str, agent_name: str, message: str
) -> IssueComment:
    """Report a run's progress on its issue in the original ADW format
    (`[ADW-AGENTS] <adw_id>_<agent_name>: <message>`), which triggers never act on."""
    return await tracker.comment(number, bot_comment(adw_id, agent_name, message))
