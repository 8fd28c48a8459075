"""`RowTable`: a table whose rows are picked one at a time (runs, steps, versions, dead
letters): a row cursor, zebra stripes, columns and rows by key, and the row under the
cursor by its key. A string cell is shown as it is written: DataTable alone would read it
as rich markup, and cells hold names and text adw did not write (`[/]` in a step's name
or an issue's would raise, `[link=...]` restyle)."""

from collections.abc import Iterable, Sequence
from typing import TypeVar, cast

from rich.text import Text, TextType
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

CellType = TypeVar("CellType")

Column = tuple[str, str]
"""(key, label) of a column."""


class RowTable(DataTable[CellType]):
    """A DataTable of rows keyed by strings, with a row cursor."""

    def __init__(
        self, columns: Iterable[Column], *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        for key, label in columns:
            self.add_column(label, key=key)

    def add_row(
        self,
        *cells: CellType,
        height: int | None = 1,
        key: str | None = None,
        label: TextType | None = None,
    ) -> RowKey:
        return super().add_row(*map(_plain, cells), height=height, key=key, label=label)

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: CellType,
        *,
        update_width: bool = False,
    ) -> None:
        super().update_cell(row_key, column_key, _plain(value), update_width=update_width)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor; None while the table has no rows."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def replace_rows(self, rows: Iterable[tuple[str, Sequence[CellType]]]) -> None:
        """Clear the table and add `rows` (key, cells), the cursor put back on the row it
        was on when that row is still there (a screen reading its rows again)."""
        kept = self.cursor_key
        self.clear()
        keys = set()
        for key, cells in rows:
            self.add_row(*cells, key=key)
            keys.add(key)
        if kept in keys:
            self.move_cursor_to(kept)

    def move_cursor_to(self, key: str) -> None:
        """Put the cursor on the row `key`."""
        self.move_cursor(row=self.get_row_index(key))


def _plain(cell: CellType) -> CellType:
    """A string cell as a Text of exactly its characters, on one line (as DataTable sets
    a string in a row one line high); any other cell as it is."""
    return cast(CellType, Text(cell, no_wrap=True, end="")) if isinstance(cell, str) else cell
