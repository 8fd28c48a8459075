"""Listings for people: a header, then one line per row, each column a fixed number of
terminal cells wide.

Nothing is measured across rows, so a line costs the same whatever the number of rows,
and it is written as soon as its row is read (rich's Table measured every cell of every
row before printing the first: 15 s for 10,000 runs). Every cell's text is untrusted: it
is made terminal-safe (`terminal_safe`), kept on one line (a line break shows as `␤`)
and cut with `…` when wider than its column. The last column may have no width (free
text: an error, a title); it is cut at `FREE_WIDTH` cells. Colours, the rich style
names of the status styles, are written only to a terminal and never under `NO_COLOR`.
"""

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, TextIO

from adw_tui.domain.sanitize import cell_width, terminal_safe

FREE_WIDTH = 200
GAP = "  "
_SGR = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "magenta": "35",
    "cyan": "36",
}
_RESET = "\x1b[0m"


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    width: int = 0
    """Terminal cells; 0 for free text (the last column only)."""
    right: bool = False
    clip: bool = True
    """False for ids, which must stay whole to be copied: padded to the width but never
    cut (a longer one shifts the rest of its line)."""


class Styled(NamedTuple):
    """A cell shown in a style (a rich style name such as `green`)."""

    text: str
    style: str


Cell = str | Styled


class Listing:
    """Writes the header and rows of one listing to `out` (default: stdout)."""

    def __init__(self, columns: Sequence[Column], out: TextIO | None = None) -> None:
        self._columns = columns
        self._out = out or sys.stdout
        self._colour = _wants_colour(self._out)

    def header(self) -> None:
        self._write([Styled(column.header, "bold") for column in self._columns])

    def row(self, cells: Sequence[Cell]) -> None:
        self._write(cells)

    def _write(self, cells: Sequence[Cell]) -> None:
        parts = []
        for column, cell in zip(self._columns, cells, strict=True):
            text, style = (cell.text, cell.style) if isinstance(cell, Styled) else (cell, "")
            shown, used = _fit(text, column.width if column.clip else 0)
            pad = " " * max(0, column.width - used)
            if self._colour and style in _SGR:
                shown = f"\x1b[{_SGR[style]}m{shown}{_RESET}"
            parts.append(pad + shown if column.right else shown + pad)
        self._out.write(GAP.join(parts).rstrip() + "\n")


def _fit(text: str, width: int) -> tuple[str, int]:
    """`text` on one line, safe, cut with `…` to `width` cells (0: `FREE_WIDTH`), and the
    cells it takes."""
    limit = width or FREE_WIDTH
    if not (text.isascii() and text.isprintable()):  # the common case needs no work
        text = terminal_safe(text).replace("\n", "␤")
    elif len(text) <= limit:
        return text, len(text)
    used = 0
    for index, char in enumerate(text):
        cells = cell_width(char)
        if used + cells > limit:
            return _cut(text[:index], used, limit)
        used += cells
    return text, used


def _cut(text: str, used: int, limit: int) -> tuple[str, int]:
    """`text` (taking `used` cells, the most that fit in `limit`) ended with `…`."""
    while text and used > limit - 1:
        used -= cell_width(text[-1])
        text = text[:-1]
    return text + "…", used + 1


def _wants_colour(out: TextIO) -> bool:
    return out.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
