"""Local issues: the embedded tracker's issues and the comments posted on them.

The `issues` table numbers issues from 1 (AUTOINCREMENT, so a number is never reused).
Comments are append-only like everything else in the store; every write records an audit
entry in the same transaction.
"""

from collections import defaultdict
from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing
from datetime import datetime

from adw_tui.domain.errors import AdwError, IssueNotFoundError
from adw_tui.domain.issues import Issue, IssueComment, IssueState, IssueSummary, without_nul
from adw_tui.store.audit import record_audit
from adw_tui.store.backend import Backend, Row, Writer, now_iso, rerun_when_lost
from adw_tui.store.listing import Selection, count_of, listed, stored_time


class Issues:
    def __init__(self, database: Backend) -> None:
        self._db = database

    @rerun_when_lost
    async def create(self, title: str, body: str = "", *, actor: str = "adw") -> Issue:
        """Open a new issue; its title is stripped and must not be empty."""
        title, body = without_nul(title).strip(), without_nul(body)
        if not title:
            raise AdwError("the issue title is empty: give the issue a one-line title")
        async with self._db.transaction() as connection:
            [inserted] = await connection.execute_fetchall(
                "INSERT INTO issues (title, body, state, created_at) VALUES (?, ?, ?, ?) "
                "RETURNING number",
                (title, body, IssueState.OPEN, now_iso()),
            )
            number = int(inserted[0])
            await record_audit(
                connection,
                actor=actor,
                action="issue.create",
                detail={"number": number, "title": title},
            )
        return await self.get(number)

    async def get(self, number: int) -> Issue:
        """The issue with its comments, oldest first."""
        row = await self._db.fetch_one("SELECT * FROM issues WHERE number = ?", (number,))
        if row is None:
            raise IssueNotFoundError(number)
        comments = await self._db.fetch_all(
            "SELECT * FROM issue_comments WHERE issue_number = ? ORDER BY id", (number,)
        )
        return _issue(row, comments)

    @rerun_when_lost
    async def add_comment(self, number: int, body: str, *, author: str) -> IssueComment:
        """Append a comment by `author` (also the audit entry's actor)."""
        body = without_nul(body)
        if not body.strip():
            raise AdwError(f"a comment on issue {number} needs a non-empty body")
        async with self._db.transaction() as connection:
            await _require_issue(connection, number)
            [inserted] = await connection.execute_fetchall(
                "INSERT INTO issue_comments (issue_number, author, body, created_at) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                (number, author, body, now_iso()),
            )
            comment_id = int(inserted[0])
            await record_audit(
                connection,
                actor=author,
                action="issue.comment",
                detail={"number": number, "comment_id": comment_id},
            )
        row = await self._db.fetch_one("SELECT * FROM issue_comments WHERE id = ?", (comment_id,))
        assert row is not None
        return _comment(row)

    @rerun_when_lost
    async def close(self, number: int, *, actor: str) -> None:
        """Mark the issue closed (already closed: nothing changes)."""
        async with self._db.transaction() as connection:
            await _require_issue(connection, number)
            cursor = await connection.execute(
                "UPDATE issues SET state = ? WHERE number = ? AND state != ?",
                (IssueState.CLOSED, number, IssueState.CLOSED),
            )
            if cursor.rowcount:
                await record_audit(
                    connection, actor=actor, action="issue.close", detail={"number": number}
                )

    async def list(self) -> list[Issue]:
        """Every issue, newest first, each with all its comments (oldest first).

        Comments are loaded (in one more query, not one per issue) rather than left out,
        so that an empty `comments` always means "no comments", never "not loaded"; the
        local tracker holds few issues, so this costs little.
        """
        issues = await self._db.fetch_all("SELECT * FROM issues ORDER BY number DESC")
        comments = await self._db.fetch_all("SELECT * FROM issue_comments ORDER BY id")
        by_issue: defaultdict[int, list[Row]] = defaultdict(list)
        for comment in comments:
            by_issue[int(comment["issue_number"])].append(comment)
        return [_issue(row, by_issue[int(row["number"])]) for row in issues]

    async def newest(
        self,
        *,
        state: IssueState | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[IssueSummary, None]:
        """The issues in `state`, opened since `since` (None: any), newest first, at most
        `limit`, each with its number of comments; read as iterated."""
        query = issues_selection(state, since).rows(limit)
        async with aclosing(listed(self._db, query)) as batches:
            async for rows in batches:
                for row in rows:
                    yield IssueSummary.model_validate(dict(row))

    async def count(self, *, state: IssueState | None = None, since: datetime | None = None) -> int:
        """How many issues `newest` would give without a limit."""
        return await count_of(self._db, issues_selection(state, since))


def issues_selection(state: IssueState | None, since: datetime | None) -> Selection:
    """The issues of a listing, newest first (indexes: issues_by_state_time,
    issues_by_time; comments counted by issue_comments_by_issue)."""
    return Selection(
        "issues",
        "number, title, state, created_at, "
        "(SELECT count(*) FROM issue_comments WHERE issue_number = issues.number) AS comments",
        "created_at DESC, number DESC",
        (("state = ?", state), ("created_at >= ?", stored_time(since))),
        key="number",
    )


async def _require_issue(connection: Writer, number: int) -> None:
    """Raise IssueNotFoundError unless the issue exists (inside a write transaction)."""
    if not await connection.execute_fetchall("SELECT 1 FROM issues WHERE number = ?", (number,)):
        raise IssueNotFoundError(number)


def _issue(row: Row, comments: Iterable[Row]) -> Issue:
    return Issue.model_validate(
        {**dict(row), "comments": [_comment(comment) for comment in comments]}
    )


def _comment(row: Row) -> IssueComment:
    return IssueComment.model_validate(dict(row))
