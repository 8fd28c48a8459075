"""The embedded default tracker: issues kept in the state database itself.

It needs no account or network, so `adw demo` and the tests run workflows end to end.
"""

from adw_tui.domain.issues import Issue, IssueComment
from adw_tui.store import Store
from adw_tui.trackers.base import post_status

__all__ = ["AUTHOR", "LocalTracker", "post_status"]  # post_status works for any tracker

AUTHOR = "adw"
"""Who the local tracker says wrote what it creates and comments (also the audit actor)."""


class LocalTracker:
    """An IssueTracker over `store.issues`."""

    name = "local"

    def __init__(self, store: Store) -> None:
        self._issues = store.issues

    async def get_issue(self, number: int) -> Issue:
        return await self._issues.get(number)

    async def list_issues(self) -> list[Issue]:
        return await self._issues.list()

    async def create_issue(self, title: str, body: str) -> Issue:
        return await self._issues.create(title, body, actor=AUTHOR)

    async def comment(self, number: int, body: str) -> IssueComment:
        return await self._issues.add_comment(number, body, author=AUTHOR)
