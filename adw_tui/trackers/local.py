"""The embedded default tracker: issues kept in the state database itself.

It needs no account or network, so `adw demo` and the tests run workflows end to end.
It has no labels: marking an issue does nothing.
"""

from collections.abc import AsyncGenerator
from datetime import datetime

from adw_tui.domain.issues import Issue, IssueComment, IssueMark, IssueState, IssueSummary
from adw_tui.store import Store

AUTHOR = "adw"
"""Who the local tracker says wrote what it creates and comments (also the audit actor)."""


class LocalTracker:
    """An IssueTracker over `store.issues`."""

    name = "local"

    def __init__(self, store: Store, *, author: str = AUTHOR) -> None:
        """`author`: who its issues, comments and audit entries say wrote them."""
        self._issues = store.issues
        self._author = author
        self.where = str(store.path)

    async def get_issue(self, number: int) -> Issue:
        return await self._issues.get(number)

    def issues(
        self,
        *,
        state: IssueState | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[IssueSummary, None]:
        return self._issues.newest(state=state, since=since, limit=limit)

    async def count_issues(
        self, *, state: IssueState | None = None, since: datetime | None = None
    ) -> int:
        return await self._issues.count(state=state, since=since)

    async def create_issue(self, title: str, body: str) -> Issue:
        return await self._issues.create(title, body, actor=self._author)

    async def comment(self, number: int, body: str) -> IssueComment:
        return await self._issues.add_comment(number, body, author=self._author)

    async def mark(self, number: int, mark: IssueMark) -> None:
        """The local tracker keeps no labels."""

    async def close_issue(self, number: int) -> None:
        await self._issues.close(number, actor=self._author)

    async def aclose(self) -> None:
        """The store belongs to whoever opened it."""
