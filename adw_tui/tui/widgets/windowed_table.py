"""`WindowedTable`: a table of a long listing (runs, dead letters, versions) that holds
only a window of it: the rows on screen and a margin either side, read from the store by
an indexed, paged query.

The cursor or the view coming within `margin` rows of the window's edge (arrow keys,
page keys, `ctrl+home`/`ctrl+end`, the mouse wheel) reads the window around it; the
same row stays under the cursor and at the top of the view. The border's subtitle says
where the cursor is: "N of M".

`refresh_rows` first asks the listing for a change marker (a count, the newest time: a
read of an index) and reads the window only when the marker moved, and a window read
writes only what changed: cells whose value changed, rows that left, rows added at the
end. Only a window whose order changed (paging back, a new row at the top) is written
anew, at most `window` rows.
"""

import asyncio
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from textual import on
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from adw_tui.tui.widgets.row_table import Column, RowTable

Row = TypeVar("Row")
Cells = tuple[Any, ...]

WINDOW = 100
"""Rows held: a tall terminal's page and a margin either side (each row held costs
the first frame about a millisecond: bench/tui_screens.py)."""


class Listing(Protocol[Row]):
    """Where a `WindowedTable`'s rows come from, in the order shown."""

    async def marker(self) -> Hashable:
        """A value that changes whenever the listing's rows do (cheap: asked often)."""
        ...

    async def count(self) -> int: ...

    async def rows(self, offset: int, limit: int) -> Sequence[Row]:
        """At most `limit` rows after the first `offset`."""
        ...

    def key(self, row: Row) -> str: ...


class WindowedTable(RowTable[Any], Generic[Row]):
    """A window of `listing`'s rows, drawn by `cells` (which the screen owns: theme
    colours, the clock)."""

    def __init__(
        self,
        columns: Iterable[Column],
        listing: Listing[Row],
        cells: Callable[[Row], Cells],
        *,
        window: int = WINDOW,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(columns, id=id, classes=classes)
        self.listing = listing
        self._draw = cells
        self.window = window
        self.margin = window // 4
        self._offset = 0
        self._total = 0
        self._marker: Hashable = _UNREAD
        self._rows: dict[str, Row] = {}
        """The window's rows by key, in order."""
        self._cells: dict[str, Cells] = {}
        self._lock = asyncio.Lock()

    def on_mount(self) -> None:
        self.watch(self, "scroll_y", self._scrolled, init=False)

    # What is shown

    @property
    def start(self) -> int:
        """How many rows of the listing come before the window."""
        return self._offset

    @property
    def total(self) -> int:
        """How many rows the listing had at the last read."""
        return self._total

    @property
    def shown(self) -> list[Row]:
        """The window's rows, in order."""
        return list(self._rows.values())

    def row_of(self, key: str | None) -> Row | None:
        return None if key is None else self._rows.get(key)

    @property
    def cursor_item(self) -> Row | None:
        """The row under the cursor."""
        return self.row_of(self.cursor_key)

    # Reading

    async def refresh_rows(self, *, force: bool = False, restart: bool = False) -> bool:
        """Read the window again when the listing's marker moved, or with `force`; True
        when it was read. `restart`: read it from the top (the listing itself changed,
        say its filters)."""
        async with self._lock:
            marker = await self.listing.marker()
            if not (force or restart) and marker == self._marker:
                return False
            self._marker = marker
            if restart:
                self._offset = 0
            await self._read(self._offset)
            return True

    async def _read(self, offset: int) -> None:
        total = await self.listing.count()
        offset = max(0, min(offset, total - self.window))
        rows = await self.listing.rows(offset, self.window)
        self._show(offset, total, rows)

    async def _page(self, offset: int, cursor: int | None = None) -> None:
        """Read the window starting near `offset`; `cursor`: put the cursor on that row
        of the listing."""
        async with self._lock:
            await self._read(offset)
        if cursor is not None and self.row_count:
            self.move_cursor(row=max(0, min(cursor - self._offset, self.row_count - 1)))

    def update_row(self, row: Row) -> bool:
        """`row` written again if the window holds it (a runtime event said it changed);
        False when it does not."""
        key = self.listing.key(row)
        if key not in self._rows:
            return False
        self._rows[key] = row
        self._write_cells(key, self._draw(row))
        return True

    def redraw(self) -> None:
        """Every row's cells drawn again (a new theme, the clock moved); only the cells
        that changed are written."""
        for key, row in self._rows.items():
            self._write_cells(key, self._draw(row))

    # Writing the table

    def _show(self, offset: int, total: int, rows: Sequence[Row]) -> None:
        old_keys = list(self._rows)
        new = {self.listing.key(row): row for row in rows}
        cursor_key = self.cursor_key
        top_key = self._key_at(int(self.scroll_y))
        kept = [key for key in old_keys if key in new]
        added = [key for key in new if key not in self._rows]
        if kept == list(new)[: len(kept)]:
            # The rows kept are first, in the same order: remove the rest, add the new.
            for key in old_keys:
                if key not in new:
                    self.remove_row(key)
                    del self._cells[key]
            for key in kept:
                self._write_cells(key, self._draw(new[key]))
            for key in added:
                self._add(key, new[key])
        else:
            self.clear()
            self._cells.clear()
            for key, row in new.items():
                self._add(key, row)
        self._rows = new
        self._offset, self._total = offset, total
        if cursor_key in new:
            self.move_cursor(row=self.get_row_index(cursor_key), scroll=False)
        if top_key in new and top_key != self._key_at(int(self.scroll_y)):
            top = self.get_row_index(top_key)
            self.call_after_refresh(self.scroll_to, y=top, animate=False, immediate=True)
        self._show_position()

    def _add(self, key: str, row: Row) -> None:
        cells = self._draw(row)
        self.add_row(*cells, key=key)
        self._cells[key] = cells

    def _write_cells(self, key: str, cells: Cells) -> None:
        shown = self._cells.get(key)
        if shown == cells:
            return
        for column, before, after in zip(self.columns, shown or (), cells, strict=True):
            if after != before:
                self.update_cell(key, column, after, update_width=True)
        self._cells[key] = cells

    def _key_at(self, index: int) -> str | None:
        if not 0 <= index < self.row_count:
            return None
        return self.coordinate_to_cell_key(Coordinate(index, 0)).row_key.value

    def _show_position(self) -> None:
        if not self._total:
            self.border_subtitle = None
            return
        self.border_subtitle = f"{self._offset + self.cursor_row + 1:,} of {self._total:,}"

    # Paging

    @on(DataTable.RowHighlighted)
    def _cursor_moved(self) -> None:
        self._show_position()
        self._follow(self.cursor_row)

    def _scrolled(self) -> None:
        height = self.scrollable_content_region.height
        self._follow(int(self.scroll_y) + height // 2, margin=self.margin + height // 2)

    def _follow(self, index: int, *, margin: int | None = None) -> None:
        """Read the window around row `index` of the window when it is within `margin`
        rows of an edge that has more rows beyond it."""
        margin = self.margin if margin is None else margin
        more_above = self._offset > 0 and index < margin
        more_below = self._offset + self.row_count < self._total and (
            index >= self.row_count - margin
        )
        if more_above or more_below:
            self._start_page(self._offset + index - self.window // 2)

    def _start_page(self, offset: int, cursor: int | None = None) -> None:
        self.run_worker(self._page(offset, cursor), group="window", exclusive=True)

    def action_scroll_top(self) -> None:
        if self._offset:
            self._start_page(0, cursor=0)
        else:
            super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        if self._offset + self.row_count < self._total:
            self._start_page(self._total - self.window, cursor=self._total - 1)
        else:
            super().action_scroll_bottom()


_UNREAD = object()
"""The marker before the first read: equal to no listing's."""
