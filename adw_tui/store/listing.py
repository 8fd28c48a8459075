"""The listings' queries (`adw runs`, `dlq ls`, `history`, `issue ls`): the rows some
filters select, newest first, at most a limit of them, and how many there are.

A listing is a `Selection`: a table, the columns shown, the order and the conditions;
`rows()` and `count()` make its two queries from the same conditions, so what is counted
is what is listed. Each is one indexed read: tests/store/test_listing_plans.py checks
SQLite's plan for every filter and order (an index, never a sort of the whole table).
"""

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adw_tui.store.backend import Backend, Row

NO_LIMIT = 2**63 - 1
"""The LIMIT of all rows: the largest both engines take (PostgreSQL refuses SQLite's -1)."""


@dataclass(frozen=True, slots=True)
class Query:
    sql: str
    params: tuple[Any, ...]
    key: str | None = None
    """The column naming each row (see `Selection.key`)."""
    limit: int | None = None
    """The query's LIMIT (None: all rows)."""


@dataclass(frozen=True, slots=True)
class Selection:
    table: str
    columns: str
    order: str
    conditions: Sequence[tuple[str, Any]]
    """`("status = ?", value)` pairs; a pair whose value is None selects everything."""
    key: str | None = None
    """The column that names each row (unique among them): a read of the rows cut off
    with its connection goes on from a new snapshot without repeating a row
    (`PostgresDatabase.batches`)."""

    def rows(self, limit: int | None, offset: int = 0) -> Query:
        """At most `limit` rows (None: all of them), in order, after the first `offset`
        (a screen's window of a long listing)."""
        where, params = self._where()
        return Query(
            f"SELECT {self.columns} FROM {self.table}{where} ORDER BY {self.order} "
            "LIMIT ? OFFSET ?",
            (*params, NO_LIMIT if limit is None else limit, offset),
            self.key,
            limit,
        )

    def count(self) -> Query:
        where, params = self._where()
        return Query(f"SELECT count(*) FROM {self.table}{where}", params)

    def _where(self) -> tuple[str, tuple[Any, ...]]:
        chosen = [(clause, value) for clause, value in self.conditions if value is not None]
        if not chosen:
            return "", ()
        return " WHERE " + " AND ".join(clause for clause, _ in chosen), tuple(
            value for _, value in chosen
        )


def stored_time(moment: datetime | None) -> str | None:
    """`moment` as the store writes times (UTC ISO 8601 with microseconds, which sorts as
    text), for comparing with them in SQL."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def listed(database: Backend, query: Query) -> AsyncGenerator[list[Row], None]:
    """The rows of a listing's query, a batch at a time (`Backend.batches`): a read cut
    off with its connection goes on by its key, within its limit."""
    return database.batches(query.sql, query.params, key=query.key, limit=query.limit)


async def count_of(database: Backend, selection: Selection) -> int:
    """How many rows `selection` has, without a limit."""
    query = selection.count()
    row = await database.fetch_one(query.sql, query.params)
    assert row is not None
    return int(row[0])
