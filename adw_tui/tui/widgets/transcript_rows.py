"""The rows of a saved agent transcript (`raw_output.jsonl`), read, parsed and drawn off
the event loop: `TranscriptFile`'s reader calls `read_rows` in a thread, since a line can
be a MiB of JSON, and its `render_line` then only crops the rows drawn (`Row.window`).

One JSONL line is one row: its events, rendered as the live agent panes render them,
side by side; a line break in them shows as `⏎`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from adw_tui.agents.engine import StreamParser
from adw_tui.agents.jsonl import BadLine, ParsedLine, parse_line
from adw_tui.domain.agent import AgentEvent, AgentEventKind
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.tui.tones import Palette
from adw_tui.tui.widgets.agent_pane import event_text

# A longer line (a tool result holding a whole file, say) is named, not parsed: parsing
# and drawing it would take seconds and hold all of it in memory.
MAX_SHOWN_LINE_BYTES = 2**20


PIECE_CHARACTERS = 1024
"""A row is drawn in pieces of this many characters: painting a window of a long row
(a tool result of a whole file) crops only the pieces in it."""


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the file, drawn in pieces, and where each piece starts (in cells)."""

    pieces: tuple[Strip, ...]
    starts: tuple[int, ...]
    cell_length: int

    @classmethod
    def draw(cls, text: Text, console: Console) -> Row:
        """`text` drawn, in pieces of `PIECE_CHARACTERS` characters."""
        length = len(text.plain)
        parts = text.divide(range(PIECE_CHARACTERS, length, PIECE_CHARACTERS))
        pieces: list[Strip] = []
        starts: list[int] = []
        position = 0
        for part in parts:
            piece = Strip(part.render(console), part.cell_len)
            pieces.append(piece)
            starts.append(position)
            position += piece.cell_length
        return cls(tuple(pieces), tuple(starts), position)

    def window(self, start: int, width: int, style: Style) -> Strip:
        """The `width` cells of the row from cell `start`, on `style`. (Cropped, then
        padded: `Strip.crop_extend` pads to `start + width` first, a million cells for a
        short row seen at the far right of a long one.)"""
        first = max(bisect_right(self.starts, start) - 1, 0)
        last = bisect_left(self.starts, start + width)
        offset = self.starts[first]
        strip = Strip.join(self.pieces[first:last]).crop(start - offset, start - offset + width)
        return strip.extend_cell_length(width, style).apply_style(style)


def read_rows(
    path: Path,
    spans: Sequence[tuple[int, int, int]],
    parser: StreamParser,
    console: Console,
    styles: Palette,
) -> dict[int, Row]:
    """Read, parse and draw the lines `(index, start, end)` of `path`, in one pass over
    the file, in the theme's `styles`. Runs in a thread: a line can be a MiB of JSON."""
    with path.open("rb") as file:
        return {
            index: Row.draw(row_text(parser, read_line(file, index, start, end), styles), console)
            for index, start, end in spans
        }


def read_line(file: BinaryIO, index: int, start: int, end: int) -> ParsedLine | None:
    """Line `index` of the open file, from `start` to `end`, parsed; a line too long to
    show is named instead."""
    size = end - start
    number = index + 1
    if size > MAX_SHOWN_LINE_BYTES:
        reason = f"line of {size:,} bytes is too long to show here; it is kept in raw_output.jsonl"
        return BadLine(number, reason, size)
    file.seek(start)
    return parse_line(file.read(size).rstrip(b"\r\n"), number)


def row_text(parser: StreamParser, line: ParsedLine | None, styles: Palette) -> Text:
    """One line of the file as one row, in `styles`: its visible events side by side,
    else a dim note of what it held."""
    if line is None:
        return Text()
    events = parser.events(line)
    shown = [(event, text) for event in events if (text := _event_row(event, styles)) is not None]
    if not shown:
        note = f"· {events[0].kind}: {terminal_safe(events[0].text)}" if events else "·"
        return Text(note, "dim")
    row = Text("  ").join(text for _, text in shown)
    if "\n" in row.plain:
        row = _joined(row.split("\n"))
    elif any(_by_line(event) for event, _ in shown):
        row.style = LINE_BREAK_STYLE  # as `_joined` leaves the rows it joins
    row.expand_tabs(4)
    return row


def _by_line(event: AgentEvent) -> bool:
    """True for a reply of many lines: it is made a line at a time. Made at once, a MiB of
    it keeps rich in single calls (escaping, stripping controls) that hold the GIL, and
    with it the event loop, for a tenth of a second each."""
    return event.kind is AgentEventKind.TEXT and "\n" in event.text


def _event_row(event: AgentEvent, styles: Palette) -> Text | None:
    """The event as it shows in a row (a reply of many lines: see `_by_line`)."""
    if not _by_line(event):
        return event_text(event, styles)
    lines = [event._replace(text=line) for line in event.text.split("\n")]
    return _joined([event_text(line, styles) or Text() for line in lines])


LINE_BREAK_STYLE = "dim"


def _joined(lines: Iterable[Text]) -> Text:
    """Lines as one row, each line break shown as `⏎` (the row takes its style)."""
    return Text(" ⏎ ", LINE_BREAK_STYLE).join(lines)
