"""A saved agent transcript (`raw_output.jsonl`) of any size, scrolled virtually.

The file is never read whole up front. A worker finds where each line ends, a chunk at a
time in a thread, so the first lines show at once and the UI keeps running while a big
file is indexed (the border says how far it got). Only the lines on screen are read,
parsed and drawn, in a thread too, as toolong does: `render_line` never touches the file
(a line can be a MiB of JSON); it paints what was read, asks for what was not, and the
reader paints it when it arrives (`transcript_rows`). A bounded cache keeps the rows
read. While its step runs, the file is polled and what the agent appends scrolls into
view; a file rewritten by the agent's next call is indexed again from the start.

One JSONL line is one row (see `transcript_rows`). Long rows scroll sideways.
"""

from __future__ import annotations  # array[int] is not subscriptable at run time on 3.11

import asyncio
from array import array
from pathlib import Path

from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker

from adw_tui.agents.engine import StreamParser
from adw_tui.agents.registry import parser_for
from adw_tui.tui.formatting import theme_text
from adw_tui.tui.tones import Palette, palette
from adw_tui.tui.widgets.transcript_rows import Row, read_rows

CHUNK_BYTES = 4 * 2**20
POLL_S = 0.5
CACHED_LINES = 4096


def scan_line_ends(path: Path, start: int, length: int, last_end: int) -> tuple[array[int], int]:
    """Read `length` bytes of `path` from `start` and return the offset just past each
    newline in them, and how many bytes were read. Raises `FileChangedError` when the
    byte before `last_end` (the end of the last line found so far) is no longer a
    newline: the file was rewritten. Runs in a thread."""
    with path.open("rb") as file:
        if last_end:
            file.seek(last_end - 1)
            if file.read(1) != b"\n":
                raise FileChangedError(path)
        file.seek(start)
        data = file.read(length)
    ends: array[int] = array("q")
    find = data.find
    position = find(b"\n")
    while position >= 0:
        ends.append(start + position + 1)
        position = find(b"\n", position + 1)
    return ends, len(data)


class FileChangedError(Exception):
    """The file is not the one indexed so far (it was truncated and written again)."""


class TranscriptFile(ScrollView, can_focus=True):
    """Shows `raw_output.jsonl` files one at a time (`show`), following the one of a
    running step (`follow`)."""

    HELP = """
## Transcript

The step's agent output as saved in its `raw_output.jsonl`, one line of the
file per row, however big the file is. Rows are read from the file as you
scroll; a running step's new lines scroll into view while you are at the end.

- `↑` `↓` `PgUp` `PgDn` or the mouse wheel: scroll
- `Home` / `End`: first / last line
- `←` `→`: scroll sideways through long rows
"""

    DEFAULT_CSS = """
    TranscriptFile {
        height: 1fr;
        background: $surface;
        overflow-x: auto;
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(
        self,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        poll_s: float = POLL_S,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.chunk_bytes = chunk_bytes
        self.poll_s = poll_s
        self._path: Path | None = None
        self._follow = False
        self._placeholder = ""
        self._parser: StreamParser = parser_for(None)
        self._ends: array[int] = array("q")
        """Offset just past each complete line's newline."""
        self._scanned = 0
        self._file_size = 0
        self._tail = False
        """True when an unterminated last line is shown (the file is complete)."""
        self._widest = 0
        self._rows: LRUCache[int, Row] = LRUCache(CACHED_LINES)
        self._strips: LRUCache[tuple[int, int, int], Strip] = LRUCache(1024)
        self._indexer: Worker[None] | None = None
        self._wanted: set[int] = set()
        """Rows asked for by a paint, not read yet."""
        self._in_flight: set[int] = set()
        """Rows the reader is reading."""
        self._reader: Worker[None] | None = None
        self._generation = 0
        """Counts the times the rows read were dropped: rows read before are stale."""
        self._palette: Palette = {}
        """The theme's tones the rows read were drawn in."""

    # What is shown

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def line_count(self) -> int:
        """Lines indexed so far (with an unterminated last line once the file is done)."""
        return len(self._ends) + self._tail

    @property
    def indexing(self) -> bool:
        """True while lines already in the file are still being indexed."""
        return self._scanned < self._file_size

    @property
    def following(self) -> bool:
        return self._follow

    def show(
        self,
        path: Path | None,
        *,
        follow: bool = False,
        placeholder: str = "",
        cwd: str | None = None,
        engine: str | None = None,
    ) -> None:
        """Show the file at `path` (None: nothing), from its first line, or from its end
        and following its growth with `follow`. `placeholder` is shown while there is no
        line to show; `cwd`, the agent's working directory, is left out of the paths in
        tool calls, as in the live panes; `engine` wrote the file (its parser reads it)."""
        if self._indexer is not None:
            self._indexer.cancel()
            self._indexer = None
        self._path = path
        self._follow = follow
        self._placeholder = placeholder
        self._parser = parser_for(engine, cwd)
        self._file_size = 0
        self._reset_index()
        if path is not None:
            self._start_indexer()

    def follow(self, on: bool) -> None:
        """Keep up with the file's growth (its step is running), or stop once the rest of
        it is indexed (the step ended: an unterminated last line is shown too)."""
        if on == self._follow:
            return
        self._follow = on
        if self._path is not None and (self._indexer is None or self._indexer.is_finished):
            self._start_indexer()

    def grew(self) -> None:
        """The file grew, its writer says: index what was added now, rather than at
        the next poll (or, its step over, never)."""
        if self._path is not None:
            self._start_indexer()

    # Indexing

    def _start_indexer(self) -> None:
        self._indexer = self.run_worker(
            self._index, name="transcript-index", group="transcript-index", exclusive=True
        )

    async def _index(self) -> None:
        while True:
            await self._catch_up()
            if not self._follow:
                return
            await asyncio.sleep(self.poll_s)

    async def _catch_up(self) -> None:
        """Index the lines added since the last pass, a chunk at a time in a thread."""
        path = self._path
        assert path is not None
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size < self._scanned:
            self._reset_index()
        self._file_size = size
        while self._scanned < size:
            last_end = self._ends[-1] if self._ends else 0
            length = min(self.chunk_bytes, size - self._scanned)
            try:
                ends, read = await asyncio.to_thread(
                    scan_line_ends, path, self._scanned, length, last_end
                )
            except FileChangedError:
                self._reset_index()
                continue
            except FileNotFoundError:
                break
            if not read:
                break
            self._add(ends, read)
        tail = not self._follow and self._scanned > (self._ends[-1] if self._ends else 0)
        if tail != self._tail:
            self._tail = tail
            self._forget_rows()
            self._resize()
        self._show_progress()

    def _add(self, ends: array[int], read: int) -> None:
        stick = self._follow and self.is_vertical_scroll_end
        if self._tail:
            # The unterminated line shown last time is now (part of) a complete one.
            self._tail = False
            self._forget_rows()
        self._ends.extend(ends)
        self._scanned += read
        self._resize()
        if stick:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._show_progress()

    def _reset_index(self) -> None:
        self._ends = array("q")
        self._scanned = 0
        self._tail = False
        self._widest = 0
        self._forget_rows()
        self.scroll_to(0, 0, animate=False, immediate=True)
        self._resize()

    def _resize(self) -> None:
        size = Size(self._widest, self.line_count)
        if size != self.virtual_size:
            self.virtual_size = size
        self.refresh()

    def _show_progress(self) -> None:
        count = self.line_count
        lines = f"{count:,} line{'' if count == 1 else 's'}"
        if self.indexing:
            percent = 100 * self._scanned // max(self._file_size, 1)
            self.border_subtitle = f"indexing {percent}% · {lines}"
        else:
            self.border_subtitle = lines + (" · following" if self._follow else "")

    # Rendering

    # Home and End jump without the scroll animation: animated, a jump across a big file
    # would read and parse every screenful it passes on the way.

    def action_scroll_home(self) -> None:
        self.scroll_home(animate=False, x_axis=self.scroll_y == 0)

    def action_scroll_end(self) -> None:
        self.scroll_end(animate=False, x_axis=self.is_vertical_scroll_end)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        if (styles := palette(self.app)) is not self._palette:
            if self._palette:
                self._forget_rows()  # drawn in another theme: read them again
            self._palette = styles
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """Row `y` as read so far: a row not read yet is blank, and asked for."""
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        style = self.rich_style
        if index >= self.line_count:
            if index == 0 and self._placeholder:
                text = Text(self._placeholder, "dim italic")
                return Row.draw(text, self.app.console).window(scroll_x, width, style)
            return Strip.blank(width, style)
        key = (index, scroll_x, width)
        strip = self._strips.get(key)
        if strip is None:
            row = self._rows.get(index)
            if row is None:
                self._want(index)
                return Strip.blank(width, style)
            strip = self._strips[key] = row.window(scroll_x, width, style)
        return strip

    @property
    def reading(self) -> bool:
        """True while a line in view waits to be read."""
        first = self.scroll_offset.y
        last = min(first + self.scrollable_content_region.height, self.line_count)
        return any(index not in self._rows for index in range(first, last))

    # Reading rows, off the event loop

    def _want(self, index: int) -> None:
        """Ask for row `index`: the reader reads what is asked for in a thread, a batch
        at a time, and paints it when it is there."""
        if index in self._in_flight or index in self._wanted:
            return
        self._wanted.add(index)
        if len(self._wanted) == 1:
            self.call_later(self._start_reader)  # once the paint asking for it is done

    def _start_reader(self) -> None:
        """Start the reader, unless it runs: it reads what is wanted meanwhile next."""
        if self._reader is None or self._reader.is_finished:
            self._reader = self.run_worker(
                self._read_wanted, name="transcript-read", group="transcript-read"
            )

    async def _read_wanted(self) -> None:
        """Read what is wanted, a batch at a time in a thread, until nothing is; each
        batch is painted as it comes."""
        while self._wanted and self._path is not None:
            path, parser, generation = self._path, self._parser, self._generation
            self._in_flight = {index for index in self._wanted if index < self.line_count}
            self._wanted = set()
            spans = [(index, *self._span(index)) for index in sorted(self._in_flight)]
            try:
                rows = await asyncio.to_thread(
                    read_rows, path, spans, parser, self.app.console, self._palette
                )
            except OSError as error:
                text = theme_text(
                    f"cannot read {path}: {error}", "$error", self.app.theme_variables
                )
                row = Row.draw(text, self.app.console)
                rows = {index: row for index, _, _ in spans}
            self._in_flight = set()
            if generation != self._generation:
                continue  # another file, or the same one read anew: these rows are stale
            for index, row in rows.items():
                self._rows[index] = row
            widest = max((row.cell_length for row in rows.values()), default=0)
            if widest > self._widest:
                self._widest = widest
                self._resize()
            self.refresh()

    def _span(self, index: int) -> tuple[int, int]:
        """Where row `index` is in the file: from its start to its newline, or to the end
        of what was read for the unterminated last line."""
        start = self._ends[index - 1] if index else 0
        end = self._ends[index] if index < len(self._ends) else self._scanned
        return start, end

    def _forget_rows(self) -> None:
        """Drop the rows read: the lines they were are no longer those of the file."""
        self._generation += 1
        self._rows.clear()
        self._strips.clear()
        self._wanted = set()
        self._in_flight = set()
