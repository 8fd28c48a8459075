"""The listings' reads: newest first, filtered, since a moment, at most a limit, counted
by the same filters; runs, a run's versions, dead letters (with their run's issue and
their replays) and issues (with their comment counts)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

import time_machine

from adw_tui.domain.issues import IssueState
from adw_tui.domain.models import (
    DeadLetterFilter,
    DeadLetterStatus,
    NewDeadLetter,
    RunRecord,
    RunStatus,
)
from adw_tui.store import Store

T = TypeVar("T")
START = datetime(2026, 3, 1, 12, tzinfo=UTC)


def at(hours: int) -> time_machine.travel:
    """The clock `hours` after START, standing still."""
    return time_machine.travel(START + timedelta(hours=hours), tick=False)


async def collect(rows: AsyncIterator[T]) -> list[T]:
    return [row async for row in rows]


async def three_runs(store: Store) -> list[RunRecord]:
    """Runs made at START, +1 h and +2 h; the middle one of workflow `plan`, failed."""
    runs = []
    for hour, workflow in enumerate(("sdlc", "plan", "sdlc")):
        with at(hour):
            run = await store.create_run(
                {"adw_id": f"0000000{hour}"}, workflow=workflow, issue=str(hour + 1), actor="t"
            )
            if workflow == "plan":
                run = await store.set_status(run.adw_id, RunStatus.FAILED, actor="t")
            runs.append(run)
    return runs


async def test_runs_newest_first_filtered_limited_and_counted(store: Store):
    first, middle, last = await three_runs(store)
    ids = [run.adw_id async for run in store.newest_runs()]
    assert ids == [last.adw_id, middle.adw_id, first.adw_id]
    assert [run.adw_id async for run in store.newest_runs(limit=2)] == ids[:2]
    assert [run.adw_id async for run in store.newest_runs(status=RunStatus.FAILED)] == [
        middle.adw_id
    ]
    assert [run.adw_id async for run in store.newest_runs(workflow="sdlc")] == [
        last.adw_id,
        first.adw_id,
    ]
    since = START + timedelta(minutes=30)
    assert [run.adw_id async for run in store.newest_runs(since=since)] == ids[:2]
    assert await store.count_runs() == 3
    assert await store.count_runs(workflow="sdlc", since=since) == 1
    assert await store.count_runs(status=RunStatus.QUEUED, workflow="plan") == 0


async def test_since_compares_moments_whatever_their_offset(store: Store):
    await three_runs(store)
    since = (START + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=2)))
    assert since.isoformat().endswith("+02:00")
    assert await store.count_runs(since=since) == 2


async def test_a_runs_versions_newest_first_since_a_moment(store: Store):
    with at(0):
        run = await store.create_run({"adw_id": "c0ffee01"}, workflow="sdlc", actor="t")
    for version in (1, 2):
        with at(version):
            await store.save(run.adw_id, {"step": str(version)}, version, "step", "t")
    versions = [info.version async for info in store.newest_versions(run.adw_id)]
    assert versions == [3, 2, 1]
    since = START + timedelta(minutes=30)
    assert [v.version async for v in store.newest_versions(run.adw_id, since=since)] == [3, 2]
    assert [v.version async for v in store.newest_versions(run.adw_id, limit=1)] == [3]
    assert await store.count_versions(run.adw_id) == 3
    assert await store.count_versions(run.adw_id, since=since) == 2


def letter(run: RunRecord, error_class: str) -> NewDeadLetter:
    return NewDeadLetter(
        adw_id=run.adw_id,
        workflow=run.workflow,
        step="build",
        state_version=1,
        error_class=error_class,
        error_message="failed",
        attempts=3,
        request={},
    )


async def test_dead_letters_newest_first_with_issue_and_replays(store: Store):
    runs = await three_runs(store)
    for hour, (run, error_class) in enumerate(
        zip(runs, ("auth", "rate_limit", "auth"), strict=True)
    ):
        with at(10 + hour):
            await store.dead_letters.add(letter(run, error_class), actor="t")
    await store.dead_letters.mark_replayed(1, from_step="build", state_version=1, actor="t")

    listed = await collect(store.dead_letters.newest(DeadLetterFilter()))
    assert [(item.letter.id, item.issue) for item in listed] == [(3, "3"), (2, "2"), (1, "1")]
    assert [len(item.letter.replays) for item in listed] == [0, 0, 1]
    pending = DeadLetterFilter(status=DeadLetterStatus.PENDING)
    assert [item.letter.id for item in await collect(store.dead_letters.newest(pending))] == [3, 2]
    auth = DeadLetterFilter(error_class="auth")
    assert [item.letter.id for item in await collect(store.dead_letters.newest(auth, limit=1))] == [
        3
    ]
    since = START + timedelta(hours=10, minutes=30)
    assert await store.dead_letters.count(auth, since=since) == 1
    assert await store.dead_letters.count(DeadLetterFilter(workflow="plan")) == 1
    assert await store.dead_letters.count() == 3


async def test_issues_newest_first_with_comment_counts(store: Store):
    for hour in range(3):
        with at(hour):
            await store.issues.create(f"issue {hour + 1}")
    await store.issues.add_comment(1, "one", author="a")
    await store.issues.add_comment(1, "two", author="a")
    summaries = await collect(store.issues.newest())
    assert [(s.number, s.title, s.comments) for s in summaries] == [
        (3, "issue 3", 0),
        (2, "issue 2", 0),
        (1, "issue 1", 2),
    ]
    assert summaries[0].created_at == START + timedelta(hours=2)
    since = START + timedelta(minutes=30)
    assert [s.number for s in await collect(store.issues.newest(since=since, limit=1))] == [3]
    assert await store.issues.count(state=IssueState.OPEN, since=since) == 2
    assert await store.issues.count(state=IssueState.CLOSED) == 0


async def test_a_long_listing_is_read_in_batches(store: Store):
    await three_runs(store)
    query = "SELECT adw_id FROM runs ORDER BY adw_id"
    batches = [[row[0] for row in batch] async for batch in store._db.batches(query, size=2)]
    assert batches == [["00000000", "00000001"], ["00000002"]]


async def test_a_listing_read_half_way_hides_no_write_from_other_reads(store: Store):
    """A screen may stop half-way through a long listing (awaiting something else) while a
    run writes and reads back what it wrote: the listing's snapshot must not be theirs."""
    await three_runs(store)
    issue = await store.issues.create("Count words", "x")
    query = "SELECT adw_id FROM runs ORDER BY adw_id"
    listing = store._db.batches(query, size=2)
    assert [row[0] for row in await anext(listing)] == ["00000000", "00000001"]
    try:
        comment = await store.issues.add_comment(issue.number, "run failed", author="adw")
        assert comment.body == "run failed"
        await store.create_run({"adw_id": "0000000a"}, workflow="sdlc", issue="9", actor="t")
        assert (await store.get_run("0000000a")).workflow == "sdlc"
        assert [row[0] async for batch in listing for row in batch] == ["00000002"]
    finally:
        await listing.aclose()
