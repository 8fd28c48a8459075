"""Printing a listing (`adw runs`, `dlq ls`, `history`, `issue ls`): the newest
`--limit` rows (or `--all`), read from the store as they are printed, then how many of
how many: `50 of 10,000 runs; --limit or --all for more`.

One row more than the limit is read, so that a listing which is complete knows it without
counting; only a cut one asks the store for its count. `--json` writes one array element
by element, `--jsonl` a line per row; the count of a cut one goes to stderr, so that a
script is told it did not get everything.
"""

import argparse
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from adw_tui.cli.listing import Cell, Column, Listing
from adw_tui.cli.output import stream_json
from adw_tui.domain.sanitize import terminal_safe

T = TypeVar("T")
S = TypeVar("S")
Rows = Callable[[S, int | None], AsyncGenerator[T, None]]
"""The rows of a listing from its source (the store, a tracker), at most a limit (None:
all of them)."""
Count = Callable[[S], Awaitable[int | None]]
"""How many rows the source holds in all; None when it cannot tell cheaply."""


@dataclass(frozen=True)
class View(Generic[T]):
    """How a listing shows its rows."""

    noun: str
    """One row, singular: "run", "dead letter"."""
    columns: Sequence[Column]
    cells: Callable[[T], Sequence[Cell]]
    as_json: Callable[[T], Any]


async def print_listing(
    args: argparse.Namespace,
    view: View[T],
    source: S | None,
    rows: Rows[S, T],
    count: Count[S],
    *,
    empty: str,
) -> None:
    """Print what `rows` gives as `args` asks (`--limit`/`--all`, `--json`/`--jsonl`);
    `source` None (no database yet) lists nothing. `empty` is said when nothing matches."""
    limit = None if args.all else args.limit
    taken: _Taken[T] = _Taken(limit)
    fetched = None if limit is None else limit + 1
    read = _nothing() if source is None else rows(source, fetched)
    async with aclosing(read):
        if args.json or args.jsonl:
            rows_json = (view.as_json(row) async for row in taken.of(read))
            await stream_json(rows_json, lines=args.jsonl)
        else:
            await _print_lines(view, taken.of(read))
    total: int | None = taken.shown
    if taken.more:  # counted after the rows were read: one more may have come, or one gone
        assert source is not None
        counted = await count(source)
        total = None if counted is None else max(counted, taken.shown + 1)
    if args.json or args.jsonl:
        if taken.more:
            sys.stderr.write(f"adw: {_summary(view, taken.shown, total)}\n")
    elif total == 0:
        sys.stdout.write(terminal_safe(empty) + "\n")
    else:
        sys.stdout.write(_summary(view, taken.shown, total) + "\n")


async def _print_lines(view: View[T], rows: AsyncIterator[T]) -> None:
    listing, first = Listing(view.columns), True
    async for row in rows:
        if first:
            listing.header()
            first = False
        listing.row(view.cells(row))


def _summary(view: View[Any], shown: int, total: int | None) -> str:
    if total is None:
        return f"the newest {shown:,} {view.noun}s; --limit or --all for more"
    nouns = view.noun if total == 1 else f"{view.noun}s"
    if shown == total:
        return f"{total:,} {nouns}"
    return f"{shown:,} of {total:,} {nouns}; --limit or --all for more"


async def _nothing() -> AsyncGenerator[Any, None]:
    """The rows of a database that does not exist."""
    return
    yield


class _Taken(Generic[T]):
    """Passes rows on up to `limit` (None: all), noting whether there were more."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.shown = 0
        self.more = False

    async def of(self, rows: AsyncIterator[T]) -> AsyncIterator[T]:
        async for row in rows:
            if self.shown == self.limit:
                self.more = True
                return
            self.shown += 1
            yield row
