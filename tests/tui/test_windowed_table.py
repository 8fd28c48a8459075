"""WindowedTable over a listing of 1,000 rows: it holds a window, reads the next one as
the cursor or the view nears its edge (keys and mouse wheel), reads nothing when the
marker stays, writes only the cells that changed, and keeps the cursor on its row."""

from dataclasses import dataclass, field
from typing import cast

from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.widgets.data_table import ColumnKey

from adw_tui.tui.widgets.windowed_table import WindowedTable
from tests.tui.conftest import cell_writes, until

ROWS = 1000


@dataclass
class FakeListing:
    """Rows "r0".."r999" in order, each with a value; counts what is asked."""

    values: list[str] = field(default_factory=lambda: [f"v{n}" for n in range(ROWS)])
    version: int = 0
    reads: list[tuple[int, int]] = field(default_factory=list)
    counts: int = 0

    async def marker(self) -> int:
        return self.version

    async def count(self) -> int:
        self.counts += 1
        return len(self.values)

    async def rows(self, offset: int, limit: int) -> list[tuple[str, str]]:
        self.reads.append((offset, limit))
        return [(f"r{n}", self.values[n]) for n in range(offset, min(offset + limit, ROWS))]

    def key(self, row: tuple[str, str]) -> str:
        return row[0]


class TableApp(App[None]):
    def __init__(self, listing: FakeListing) -> None:
        super().__init__()
        self.listing = listing

    def compose(self) -> ComposeResult:
        yield WindowedTable(
            [("name", "name"), ("value", "value")], self.listing, lambda row: row, window=60
        )

    @property
    def table(self) -> WindowedTable[tuple[str, str]]:
        return self.query_one(WindowedTable)


def shown(cells: list[object]) -> list[str]:
    return [str(cell) for cell in cells]


async def opened(app: TableApp) -> WindowedTable[tuple[str, str]]:
    table = app.table
    await table.refresh_rows()
    return table


async def test_the_cursor_moving_past_the_window_reads_the_rows_beyond_it() -> None:
    listing = FakeListing()
    app = TableApp(listing)
    async with app.run_test(size=(60, 20)) as pilot:
        table = await opened(app)
        assert table.row_count == 60
        assert table.border_subtitle == "1 of 1,000"
        await pilot.press(*["pagedown"] * 5, "down")
        await until(pilot, lambda: int(str(table.cursor_key)[1:]) > 60)  # past the first window
        assert table.start > 0
        row = int(str(table.cursor_key)[1:])
        assert shown(table.get_row(f"r{row}")) == [f"r{row}", f"v{row}"]
        assert table.border_subtitle == f"{row + 1} of 1,000"
        assert len(listing.reads) > 1
        await pilot.press("ctrl+end")
        await until(pilot, lambda: table.cursor_key == "r999")
        assert table.border_subtitle == "1,000 of 1,000"
        await pilot.press("ctrl+home")
        await until(pilot, lambda: table.cursor_key == "r0")
        assert table.start == 0


async def test_the_mouse_wheel_past_the_window_reads_the_rows_beyond_it() -> None:
    listing = FakeListing()
    app = TableApp(listing)
    async with app.run_test(size=(60, 20)) as pilot:
        table = await opened(app)
        for _ in range(15):  # as the wheel scrolls: the view, not the cursor
            table.scroll_relative(y=3, animate=False, immediate=True)
            await pilot.pause()
        await until(pilot, lambda: table.start > 0)
        await pilot.pause()
        top = table.coordinate_to_cell_key(Coordinate(int(table.scroll_y), 0)).row_key.value
        number = int(str(top)[1:])
        assert table.start <= number < table.start + table.row_count
        # The rows shown are the listing's rows at that place.
        assert shown(table.get_row_at(int(table.scroll_y))) == [f"r{number}", f"v{number}"]
        assert number >= 30


async def test_nothing_is_read_while_the_marker_stays_and_a_change_writes_its_cell() -> None:
    listing = FakeListing()
    app = TableApp(listing)
    async with app.run_test(size=(60, 20)) as pilot:
        table = await opened(app)
        table.move_cursor_to("r5")
        reads, counts = len(listing.reads), listing.counts
        assert not await table.refresh_rows()
        assert (len(listing.reads), listing.counts) == (reads, counts)

        writes = cell_writes(table)
        listing.values[7] = "changed"
        listing.version += 1
        assert await table.refresh_rows()
        await pilot.pause()
        assert [(key, cast(ColumnKey, column).value) for key, column, *_ in writes] == [
            ("r7", "value")
        ]
        assert shown(table.get_row("r7")) == ["r7", "changed"]
        assert table.cursor_key == "r5"
        # A row changed by an event is written alone, without reading the listing.
        reads = len(listing.reads)
        assert table.update_row(("r5", "event"))
        assert not table.update_row(("r900", "outside the window"))
        assert shown(table.get_row("r5")) == ["r5", "event"]
        assert len(listing.reads) == reads


async def test_a_cell_that_reads_as_markup_is_shown_as_it_is_written() -> None:
    """Names and text adw did not write reach the cells: `[/]` would raise as markup,
    `[b]` restyle."""
    listing = FakeListing()
    listing.values[0] = "[/] [b]not bold[/b] [link=https://example.com]x"
    app = TableApp(listing)
    async with app.run_test(size=(80, 20)) as pilot:
        table = await opened(app)
        await pilot.pause()
        assert shown(table.get_row("r0")) == ["r0", listing.values[0]]
        listing.values[1] = "[red]changed[/red]"
        listing.version += 1
        assert await table.refresh_rows()
        await pilot.pause()
        drawn = ["".join(segment.text for segment in table.render_line(y)) for y in (1, 2)]
        assert "[/] [b]not bold[/b] [link=https://example.com]x" in drawn[0]
        assert "[red]changed[/red]" in drawn[1]
