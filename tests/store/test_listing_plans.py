"""Every query of the listings reads through an index: SQLite's plan for each filter
combination, with and without a limit, and for each count, searches or scans an index,
never the table itself, and never sorts into a temporary b-tree for ORDER BY."""

import itertools
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adw_tui.domain.issues import IssueState
from adw_tui.domain.models import DeadLetterFilter, DeadLetterStatus, RunStatus
from adw_tui.store import Store
from adw_tui.store.dead_letters import letters_selection
from adw_tui.store.issues import issues_selection
from adw_tui.store.listing import Query, Selection
from adw_tui.store.store import NEWEST_CREATED, runs_selection, versions_selection

SINCE = datetime(2026, 1, 1, tzinfo=UTC)


# Each filter unset (None) or set.
SINCES = [None, SINCE]
NAMES = [None, "sdlc"]
RUNS = [
    runs_selection(status, workflow, since)
    for status, workflow, since in itertools.product([None, RunStatus.FAILED], NAMES, SINCES)
]
LETTERS = [
    letters_selection(
        DeadLetterFilter(status=status, error_class=error_class, workflow=workflow), since
    )
    for status, error_class, workflow, since in itertools.product(
        [None, DeadLetterStatus.PENDING], [None, "rate_limit"], NAMES, SINCES
    )
]
ISSUES = [
    issues_selection(state, since)
    for state, since in itertools.product([None, IssueState.OPEN], SINCES)
]
VERSIONS = [
    versions_selection("c0ffee01", since, before)
    for since, before in itertools.product(SINCES, [None, 7])
]
SELECTIONS = RUNS + LETTERS + ISSUES + VERSIONS


@pytest.fixture
async def database(db_path: Path) -> Path:
    """A store's database file with the schema and a little data (SQLite plans the same
    for an empty table as for a big one without ANALYZE, but let it see rows)."""
    async with await Store.open(db_path) as store:
        for number in range(3):
            await store.create_run({"adw_id": f"c0ffee0{number}"}, workflow="sdlc", actor="t")
            await store.issues.create(f"issue {number}")
    return db_path


def plan(path: Path, query: Query) -> list[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute(f"EXPLAIN QUERY PLAN {query.sql}", query.params).fetchall()
    return [str(row[3]) for row in rows]


def queries(selection: Selection) -> list[Query]:
    return [selection.rows(51), selection.rows(None), selection.count()]


INDEXED = re.compile(r"USING (COVERING )?INDEX \w+|USING (INTEGER )?PRIMARY KEY")


@pytest.mark.parametrize("selection", SELECTIONS, ids=lambda s: f"{s.table}:{s.rows(1).params}")
def test_each_listing_query_reads_through_an_index(database: Path, selection: Selection):
    filtered = any(value is not None for _, value in selection.conditions)
    for query in queries(selection):
        steps = plan(database, query)
        assert not any("TEMP B-TREE" in step for step in steps), (query.sql, steps)
        reads = [step for step in steps if step.startswith(("SCAN", "SEARCH"))]
        assert reads, (query.sql, steps)
        assert all(INDEXED.search(step) for step in reads), (query.sql, steps)
        # A filter narrows by the index (a range of it), not by reading every row.
        assert not filtered or reads[0].startswith("SEARCH"), (query.sql, steps)


def test_the_default_listings_use_the_indexes_made_for_them(database: Path):
    """The exact index, so that dropping or renaming one fails here by name."""
    expected = {
        runs_selection(None, None, None): "runs_by_update",
        runs_selection(RunStatus.FAILED, None, None): "runs_by_status_update",
        runs_selection(None, "sdlc", None): "runs_by_workflow_update",
        letters_selection(DeadLetterFilter(status=DeadLetterStatus.PENDING), None): (
            "dead_letters_by_status_time"
        ),
        letters_selection(DeadLetterFilter(), None): "dead_letters_by_time",
        letters_selection(DeadLetterFilter(error_class="auth"), None): (
            "dead_letters_by_class_time"
        ),
        letters_selection(DeadLetterFilter(workflow="sdlc"), None): (
            "dead_letters_by_workflow_time"
        ),
        issues_selection(None, None): "issues_by_time",
        issues_selection(IssueState.CLOSED, None): "issues_by_state_time",
    }
    for selection, index in expected.items():
        assert f"INDEX {index}" in plan(database, selection.rows(51))[0]


def test_the_screens_window_and_change_markers_read_no_table_into_a_sort(database: Path):
    """The dashboard's window walks the runs table in rowid order (no sort); the change
    markers the screens poll, and the filters' choices, read indexes only."""
    [window] = plan(database, NEWEST_CREATED["sqlite"].rows(100, 9_900))
    assert window == "SCAN runs"
    checks = {
        "SELECT max(updated_at) FROM runs": "runs_by_update",
        "SELECT DISTINCT error_class FROM dead_letters ORDER BY error_class": (
            "dead_letters_by_class_time"
        ),
        "SELECT DISTINCT workflow FROM dead_letters ORDER BY workflow": (
            "dead_letters_by_workflow_time"
        ),
        "SELECT count(*) FROM dead_letters WHERE status = ?": "dead_letters_by_status",
    }
    for sql, index in checks.items():
        params = (DeadLetterStatus.PENDING,) if "?" in sql else ()
        [step] = plan(database, Query(sql, params))
        assert f"INDEX {index}" in step, (sql, step)
