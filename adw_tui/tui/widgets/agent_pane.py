"""One running worktree's live agent transcript: a titled, bounded, batched log.

Agent output can reach thousands of events per second across panes, and a widget write
per event stalls the UI (see DESIGN.md, "Streaming into the TUI"). So `push` only
appends to a bounded deque, and one timer per app and rate (`PaneFlusher`) writes the
pending events of every pane in one callback (one frame), usually one
`TranscriptLog.append_markup` per pane, within a time budget (`bench/tui_stream.py`
measures it against a pane that writes each event as it comes).
"""

import math
import time
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from rich.cells import cell_len, get_character_cell_size
from rich.errors import MarkupError
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual.app import App, ComposeResult
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from adw_tui.agents.transcript import event_markup
from adw_tui.domain.agent import AgentEvent
from adw_tui.tui.formatting import plain_title
from adw_tui.tui.tones import Palette, palette, tone_text


def markup_text(markup: str) -> Text:
    """`markup` as rich Text; markup that does not parse is shown as plain text.

    `emoji=False`: an agent writing ":bug:" means those five characters (and emoji
    replacement is a third of the cost of parsing).
    """
    try:
        return Text.from_markup(markup, emoji=False)
    except MarkupError:
        return Text(markup)


def event_text(event: AgentEvent, styles: Palette) -> Text | None:
    """One event as rich Text in `styles`, or None for events a person need not see."""
    markup = event_markup(event)
    return None if markup is None else tone_text(markup_text(markup), styles)


FLUSH_CHUNK = 256
"""Events written per batch: a flush checks its time budget between batches."""

Row = tuple[str | Text, int, int]
"""A kept row: its source (rich markup, parsed when painted, or a Text) and the
`[start, end)` range of the source's plain text it shows."""


class TranscriptLog(ScrollView, can_focus=True):
    """A bounded log of styled lines that renders only what is on screen.

    Why not RichLog: it renders (and wraps) every written line into segments at write
    time, ~50-100 us a line, which at 12 panes x 1,000 lines/s is more than the event
    loop has. Here a write only finds where each line breaks and, past the width,
    hard-wraps it; a row becomes segments when it is first painted, and most rows of a
    fast stream scroll past unpainted. Wrapping is done at write time, at the width of
    that moment (as RichLog does): a resize does not reflow older lines.

    Rows written as markup (`append_markup`) are kept as the markup string and offsets
    (no Text, no spans): thousands of kept rows per pane are then nothing the garbage
    collector has to walk, which is what made full collections take hundreds of ms.
    For the same reason only about one screen of painted rows is cached.

    A write follows the tail only if the view was at the end before it (as textual's
    `Log.write_lines` does; RichLog's `auto_scroll` would pull a reader back down), and
    rows pruned past `max_lines` while the user reads higher up shift the view with
    them, so what they read stays put until it falls off the top.
    """

    DEFAULT_CSS = """
    TranscriptLog {
        height: 1fr;
        background: $surface;
        overflow-x: auto;
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, max_lines: int, wrap: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self.wrap = wrap
        self._rows: deque[Row] = deque(maxlen=max_lines)
        self._first = 0
        """Absolute number of `_rows[0]` (rows ever written before it were pruned)."""
        self._widest = 0
        self._cache: LRUCache[tuple[int, int, int], Strip] = LRUCache(16)
        self._paint = (Style.null(), 0)
        """The style and width of the rows being painted (see `render_lines`)."""
        self._palette: Palette = {}
        """The theme's tones the cached rows were painted in."""
        self._parsed: tuple[str, Text] = ("", Text())
        """The markup parsed last: the rows of one wrapped line are painted together."""

    @property
    def line_count(self) -> int:
        return len(self._rows)

    @property
    def lines(self) -> list[Text]:
        """The kept rows as Text, oldest first (wrapped pieces are separate rows)."""
        return [self._row_text(row) for row in self._rows]

    def plain_lines(self) -> list[str]:
        """The kept rows as plain text (wrapped pieces are separate rows)."""
        return [text.plain for text in self.lines]

    @property
    def following(self) -> bool:
        """True while new rows scroll into view (the user has not scrolled up)."""
        return self.is_vertical_scroll_end

    def append(self, texts: Iterable[Text]) -> None:
        """Add `texts` (each one or more lines) at the bottom, following the tail if at it."""
        self._add((text, text.plain) for text in texts)

    def append_markup(self, markups: Iterable[str]) -> None:
        """Add rich markup lines (see `markup_text`); each is parsed now only to find
        where it breaks, and again when one of its rows is painted."""
        self._add((markup, markup_text(markup).plain) for markup in markups)

    def _add(self, sources: Iterable[tuple[str | Text, str]]) -> None:
        following = self.is_vertical_scroll_end
        rows, width = self._rows, self.scrollable_content_region.width
        wrap = width if self.wrap and width > 0 else 0
        before = first = self._first
        widest = self._widest
        for source, plain in sources:
            narrow = plain.isascii()  # one cell per character: no need to measure
            for start, end in _row_ranges(plain, wrap):
                if len(rows) == self.max_lines:
                    first += 1
                rows.append((source, start, end))
                widest = max(widest, end - start if narrow else cell_len(plain[start:end]))
        self._first = first
        self._widest = widest
        self._set_virtual_size(Size(widest, len(rows)))
        if following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif (pruned := self._first - before) and self.scroll_y > 0:
            self.scroll_to(y=max(0, self.scroll_y - pruned), animate=False, immediate=True)
        self.refresh()

    def _set_virtual_size(self, size: Size) -> None:
        """Set the scrollable size; without a layout of the screen when this widget's own
        size does not depend on its content.

        Assigning `virtual_size` asks for a layout of the whole screen (it is a layout
        reactive), and with a dozen panes written 25 times a second those layouts
        were a large part of the event loop's time. The size of a `1fr` (or fixed)
        log cannot change with its content, so only the scrollbars are updated, as a
        layout would have done. A scrollbar that appears or goes still asks for a layout.
        """
        if size == self.virtual_size:
            return
        width, height = self.styles.width, self.styles.height
        if (width is not None and width.is_auto) or (height is not None and height.is_auto):
            self.virtual_size = size
            return
        self.set_reactive(ScrollView.virtual_size, size)
        self._scroll_update(size)

    def clear(self) -> None:
        self._rows.clear()
        self._cache.clear()
        self._first = 0
        self._widest = 0
        self._set_virtual_size(Size(0, 0))
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def on_resize(self) -> None:
        self._cache.maxsize = max(16, self.size.height)

    def _row_text(self, row: Row) -> Text:
        source, start, end = row
        if isinstance(source, str):
            if self._parsed[0] != source:
                self._parsed = (source, tone_text(markup_text(source), self._palette))
            text = self._parsed[1]
        else:
            text = source
        return text if start == 0 and end == len(text) else _slice(text, start, end)

    def render_lines(self, crop: Region) -> list[Strip]:
        # What every row of this paint needs, found once: `rich_style` walks the
        # ancestors, and was half the cost of painting a row.
        self._paint = (self.rich_style, self.scrollable_content_region.width)
        if (styles := palette(self.app)) is not self._palette:
            self._palette = styles  # another theme: paint every row anew
            self._parsed = ("", Text())
            self._cache.clear()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        style, width = self._paint
        if index >= len(self._rows):
            return Strip.blank(width, style)
        key = (index + self._first, scroll_x, width)
        strip = self._cache.get(key)
        if strip is None:
            text = self._row_text(self._rows[index])
            segments = list(Segment.apply_style(text.render(self.app.console), style))
            length = text.cell_len
            if scroll_x == 0 and length <= width:
                # The common case, as one Strip (a Strip carries seven caches: the
                # fewer kept, the less the garbage collector has to walk).
                if length < width:
                    segments.append(Segment(" " * (width - length), style))
                strip = Strip(segments, width)
            else:
                strip = Strip(segments, length).crop_extend(scroll_x, scroll_x + width, style)
            self._cache[key] = strip
        return strip


def _slice(text: Text, start: int, end: int) -> Text:
    """`text[start:end]`, without the general (and five times slower) `Text.divide`."""
    spans = [
        Span(max(span_start, start) - start, min(span_end, end) - start, style)
        for span_start, span_end, style in text.spans
        if span_start < end and span_end > start
    ]
    return Text(text.plain[start:end], style=text.style, spans=spans)


def _row_ranges(plain: str, width: int) -> Iterator[tuple[int, int]]:
    """The `[start, end)` ranges of `plain`'s rows: one per line, and with `width`
    (0: no wrapping) lines wider than it cut so that each row fills at most `width`
    cells (a wide character that would straddle the edge starts the next row)."""
    start = 0
    for line in plain.split("\n"):
        end = start + len(line)
        if line.isascii():  # one cell per character
            if not width or end - start <= width:
                yield start, end
            else:
                for piece in range(start, end, width):
                    yield piece, min(piece + width, end)
        elif not width or cell_len(line) <= width:
            yield start, end
        else:
            yield from _cell_ranges(line, start, width)
        start = end + 1


def _cell_ranges(line: str, offset: int, width: int) -> Iterator[tuple[int, int]]:
    """`line`'s rows of at most `width` cells, as ranges shifted by `offset`."""
    row_start, cells = 0, 0
    for index, char in enumerate(line):
        size = get_character_cell_size(char)
        if cells + size > width and index > row_start:
            yield offset + row_start, offset + index
            row_start, cells = index, 0
        cells += size
    yield offset + row_start, offset + len(line)


class PaneFlusher:
    """One timer per app and rate that flushes every AgentPane of that rate.

    A timer per pane would wake the loop a dozen times per period and spread the panes'
    repaints over as many frames; one tick flushes them all (one frame). A tick stops
    once it has used `budget_s`, even inside a pane, and the next tick starts with the
    pane after that one, so a burst on many panes is spread over ticks instead of
    blocking the loop, and no pane waits for long (the panes' deques are bounded, so
    nothing grows meanwhile).
    """

    _instances: ClassVar["weakref.WeakKeyDictionary[App[Any], dict[float, PaneFlusher]]"] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, app: App[Any], flush_hz: float, budget_s: float = 0.02) -> None:
        self.flush_hz = flush_hz
        self.budget_s = budget_s
        self.panes: list[AgentPane] = []
        self._next = 0
        self._timer = app.set_interval(1 / flush_hz, self.tick, name="agent-pane-flush")

    @classmethod
    def of(cls, app: App[Any], flush_hz: float) -> "PaneFlusher":
        """The flusher of `app` at `flush_hz`, started if there is none yet."""
        flushers = cls._instances.setdefault(app, {})
        flusher = flushers.get(flush_hz)
        if flusher is None:
            flusher = flushers[flush_hz] = cls(app, flush_hz)
        return flusher

    def add(self, pane: "AgentPane") -> None:
        self.panes.append(pane)

    def remove(self, pane: "AgentPane") -> None:
        """Forget `pane`; the last one out stops the timer."""
        if pane in self.panes:
            self.panes.remove(pane)
        if not self.panes:
            self._timer.stop()
            flushers = self._instances.get(pane.app, {})
            if flushers.get(self.flush_hz) is self:
                del flushers[self.flush_hz]

    def tick(self) -> None:
        """Flush the panes, round-robin from where the last tick stopped, until the budget
        is used."""
        panes = self.panes
        deadline = time.perf_counter() + self.budget_s
        for offset in range(len(panes)):
            index = (self._next + offset) % len(panes)
            panes[index].flush(deadline)
            if time.perf_counter() >= deadline:
                self._next = index + 1
                return


class AgentPane(Widget):
    """A run's agent transcript under a "run · step · agent" border title.

    `push` is cheap and never touches the DOM; pending events are written in batches
    (`TranscriptLog.append_markup`) on each tick of the app's `PaneFlusher` at
    `flush_hz`: usually one batch a tick. At most `max_lines` rows are kept (older
    history stays in the run's raw_output.jsonl), and at most `max_lines` events wait
    between flushes: older ones would be pruned at once anyway.
    """

    DEFAULT_CSS = """
    AgentPane {
        height: 1fr;
        width: 1fr;
        border: round $primary 50%;
        border-title-color: $text;
        border-title-style: bold;
        padding: 0;
        &:focus-within {
            border: round $accent;
        }
    }
    """

    def __init__(
        self,
        adw_id: str,
        *,
        max_lines: int = 2000,
        flush_hz: float = 25.0,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        if max_lines < 1 or flush_hz <= 0:
            raise ValueError("max_lines must be >= 1 and flush_hz > 0")
        self.adw_id = adw_id
        self.max_lines = max_lines
        self.flush_hz = flush_hz
        self._pending: deque[AgentEvent] = deque(maxlen=max_lines)
        self._flusher: PaneFlusher | None = None
        self._log = TranscriptLog(max_lines=max_lines)
        self.pushed = 0
        """Events pushed since creation (or the last `clear`)."""
        self.flushed = 0
        """Events taken by a flush (rendered, or skipped as rendering to nothing)."""
        self.border_title = adw_id

    def compose(self) -> ComposeResult:
        yield self._log

    def on_mount(self) -> None:
        self._flusher = PaneFlusher.of(self.app, self.flush_hz)
        self._flusher.add(self)

    def on_unmount(self) -> None:
        if self._flusher is not None:
            self._flusher.remove(self)
            self._flusher = None

    @property
    def log_widget(self) -> TranscriptLog:
        return self._log

    @property
    def dropped(self) -> int:
        """Events dropped unrendered because more than `max_lines` waited for a flush."""
        return self.pushed - self.flushed - len(self._pending)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def set_title(self, adw_id: str, step: str | None, agent: str | None) -> None:
        """Show "run · step · agent" (the parts known so far) on the border."""
        self.adw_id = adw_id
        self.border_title = plain_title(adw_id, step, agent)

    def push(self, event: AgentEvent) -> None:
        """Queue `event` for the next flush. Cheap: no rendering, no DOM."""
        self._pending.append(event)
        self.pushed += 1

    def flush(self, deadline: float = math.inf) -> None:
        """Write the pending events, `FLUSH_CHUNK` per batch, until none is left or the
        `time.perf_counter()` `deadline` has passed (the app's `PaneFlusher` calls this)."""
        pending = self._pending
        if not self._log.size.width:
            # Not laid out (or hidden): there is no width to wrap at yet; the events wait
            # in the bounded deque instead.
            return
        while pending:
            events = [pending.popleft() for _ in range(min(len(pending), FLUSH_CHUNK))]
            self.flushed += len(events)
            self._write(events)
            if time.perf_counter() >= deadline:
                return

    def _write(self, events: Iterable[AgentEvent]) -> None:
        markups = [markup for event in events if (markup := event_markup(event)) is not None]
        if markups:
            self._log.append_markup(markups)

    def clear(self) -> None:
        """Forget pending events and empty the log."""
        self._pending.clear()
        self.pushed = self.flushed = 0
        self._log.clear()
