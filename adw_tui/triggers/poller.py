"""The poller (`adw poll`, the original ADW's trigger_cron.py): at an interval it reads the
tracker's open issues and starts a run for an issue that is new, with no comment from a
person (its body's `adw_<workflow>` keyword, else the default workflow), or whose latest
comment from a person is a keyword. adw's own `[ADW-AGENTS]` comments and bots' are
passed over, so a run reporting on its issue neither triggers nor hides a keyword.

What it acted on is recorded as deliveries (`poll:<issue>:opened`,
`poll:<issue>:<comment id>`), so a restart never starts the same run again.

On GitHub it reads the issues most recently updated first and stops at the first one it
saw before, unchanged: a repository where nothing changed costs one conditional request
(304). Other trackers are read whole each time (the local one is a database query).
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Collection
from datetime import datetime

from adw_tui.domain.errors import AdwError, IssueNotFoundError, TrackerError
from adw_tui.domain.issues import IssueState, IssueSummary
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.store import Store
from adw_tui.store.deliveries import Delivery, DeliveryOutcome
from adw_tui.trackers.base import IssueTracker
from adw_tui.trackers.github import GitHubTracker
from adw_tui.triggers.dispatch import Dispatcher
from adw_tui.triggers.keywords import Choice, choose_for_comment, choose_for_issue, untrusted

logger = logging.getLogger(__name__)

Seen = tuple[datetime | None, int]
"""What the poller last saw of an issue: when it was updated, how many comments it had."""


class PollerStopped(AdwError):
    """The tracker refused the poller for good (a bad token, a missing repository)."""


class Poller:
    def __init__(
        self,
        store: Store,
        tracker: IssueTracker,
        dispatcher: Dispatcher,
        *,
        workflows: Collection[str],
        default_workflow: str | None,
        interval_s: float,
        trusted: Collection[str] = ("OWNER", "MEMBER", "COLLABORATOR"),
    ) -> None:
        self._store = store
        self._tracker = tracker
        self._dispatcher = dispatcher
        self._workflows = workflows
        self._default = default_workflow
        self._interval_s = interval_s
        self._trusted = trusted
        self._seen: dict[int, Seen] = {}
        self._again: set[int] = set()
        """Issues to look at again: their last look failed, or their run could not start."""
        self._stop = asyncio.Event()
        self.counters = dispatcher.counters
        self.counters.listening_on = tracker.where

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Poll until `stop`. A failure that may pass (GitHub down, the network, a rate
        limit held too long, the database busy) is logged and the next poll tries again;
        the tracker refusing the poller itself (the token, the repository) stops it with
        PollerStopped, its message saying what to fix."""
        while not self._stop.is_set():
            try:
                await self.poll()
            except TrackerError as error:
                if not error.transient:
                    raise PollerStopped(f"adw poll stopped: {error}") from error
                self._failed("poll", error)
            except AdwError as error:
                self._failed("poll", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval_s)

    async def poll(self) -> list[Delivery]:
        """One look at the open issues; the deliveries it took (new ones only).

        An issue is remembered as seen only once it was dealt with, so one that failed
        (or whose run could not start yet) is looked at again by the next poll; one that
        cannot be read for good (transferred, made a pull request) is skipped until it
        changes, and the rest of the poll goes on."""
        self.counters.saw("poll")
        changed = await self._changed_issues()
        opened = [f"poll:{issue.number}:opened" for issue in changed if issue.comments == 0]
        known = await self._store.deliveries.known(opened)
        taken: list[Delivery] = []
        for summary in changed:
            if self._stop.is_set():
                break
            seen: Seen = (summary.updated_at, summary.comments)
            if summary.comments == 0 and f"poll:{summary.number}:opened" in known:
                self._seen[summary.number] = seen
                continue
            try:
                delivery, seen = await self._examine(summary)
            except TrackerError as error:
                if error.status == 401 or (error.status == 403 and not error.transient):
                    raise  # the token: no issue can be read
                self._failed(f"issue #{summary.number}", error)
                if error.transient:
                    self._again.add(summary.number)
                    continue
            except AdwError as error:
                self._failed(f"issue #{summary.number}", error)
                self._again.add(summary.number)  # the store: the next poll tries again
                continue
            else:
                if delivery is not None:
                    taken.append(delivery)
                    if delivery.outcome is DeliveryOutcome.PENDING:
                        self._again.add(summary.number)  # released: its run did not start
                        continue
            self._seen[summary.number] = seen
            self._again.discard(summary.number)
        return taken

    def _failed(self, what: str, error: AdwError) -> None:
        self.counters.errors += 1
        logger.warning("%s failed: %s; the next poll tries again", what, error)

    async def _changed_issues(self) -> list[IssueSummary]:
        """The open issues not seen as they are now; with the newest updates first, the
        reading stops at the first issue seen before, unchanged (the rest are older),
        unless an issue is due to be looked at again (it may be older)."""
        tracker = self._tracker
        ordered_by_update = isinstance(tracker, GitHubTracker) and not self._again
        listing: AsyncGenerator[IssueSummary, None] = (
            tracker.recently_updated()
            if isinstance(tracker, GitHubTracker)
            else tracker.issues(state=IssueState.OPEN)
        )
        changed: list[IssueSummary] = []
        listed: set[int] = set()
        async with contextlib.aclosing(listing):
            async for summary in listing:
                listed.add(summary.number)
                unchanged = self._seen.get(summary.number) == (summary.updated_at, summary.comments)
                if not unchanged:
                    changed.append(summary)
                elif ordered_by_update and summary.updated_at is not None:
                    break
            else:  # read to the end: an issue closed since it failed is no longer due
                self._again &= listed
        return changed

    async def _examine(self, summary: IssueSummary) -> tuple[Delivery | None, Seen]:
        """Read the issue; take its opening or its latest comment if new, and launch the
        run it asks for. The delivery taken (None: none new), and the issue as seen."""
        try:
            issue = await self._tracker.get_issue(summary.number)
        except IssueNotFoundError:
            return None, (summary.updated_at, summary.comments)  # gone since the listing
        seen: Seen = (summary.updated_at, len(issue.comments))
        people = [c for c in issue.comments if not (c.from_bot or c.author.endswith("[bot]"))]
        if not people:
            key, event, action, actor = "opened", "issues", "opened", "poller"
            choice: Choice = untrusted(
                issue.author, issue.author_association, self._trusted
            ) or choose_for_issue(
                issue.body, by_bot=False, workflows=self._workflows, default=self._default
            )
            sender = None
        else:
            latest = people[-1]
            sender = terminal_safe(latest.author[:100])
            key, event, action = str(latest.id), "issue_comment", "created"
            actor = f"{self._tracker.name}:{sender}"
            choice = untrusted(
                latest.author, latest.author_association, self._trusted
            ) or choose_for_comment(latest.body, by_bot=False, workflows=self._workflows)
        delivery = Delivery(
            delivery_id=f"poll:{issue.number}:{key}",
            source="poll",
            event=event,
            action=action,
            issue=issue.number,
            workflow=choice.workflow,
            outcome=DeliveryOutcome.PENDING if choice.workflow else DeliveryOutcome.IGNORED,
            reason=choice.ignored,
        )
        detail = {"sender": sender}
        if not await self._dispatcher.take(delivery, actor=actor, detail=detail):
            return None, seen
        if choice.workflow is None:
            return delivery, seen
        return await self._dispatcher.launch(delivery, actor=actor, detail=detail), seen
