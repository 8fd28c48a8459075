"""One running worktree's live agent transcript: a titled, bounded, batched log.

Agent output can reach thousands of events per second across panes, and a widget write
per event stalls the UI (see DESIGN.md, "Streaming into the TUI"). So `push` only
appends to a bounded deque, and a timer at `flush_hz` renders everything pending in one
`TranscriptLog.append`. `PerLineAgentPane` writes each event as it comes: it exists only as the
baseline of `bench/tui_stream.py`.
"""

from collections import deque
from collections.abc import Iterable, Sequence

from rich.errors import MarkupError
from rich.text import Text
from textual.app import ComposeResult
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from adw_tui.agents.transcript import event_markup
from adw_tui.domain.agent import AgentEvent


def event_text(event: AgentEvent) -> Text | None:
    """One event as rich Text, or None for events a person need not see.

    The markup is escaped by `event_markup`; should it still not parse, the line is
    shown as plain text rather than lost.
    """
    markup = event_markup(event)
    if markup is None:
        return None
    try:
        return Text.from_markup(markup)
    except MarkupError:
        return Text(markup)


class TranscriptLog(ScrollView, can_focus=True):
    """A bounded log of styled lines that renders only what is on screen.

    Why not RichLog: it renders (and wraps) every written line into segments at write
    time, ~50-100 us a line, which at 12 panes x 1,000 lines/s is more than the event
    loop has. Here a write only splits and, past the width, hard-wraps each line
    (`Text.divide`, cheap); a line becomes segments when it is first painted, and most
    lines of a fast stream scroll past unpainted. Wrapping is done at write time, at the
    width of that moment (as RichLog does): a resize does not reflow older lines.

    A write follows the tail only if the view was at the end before it (as textual's
    `Log.write_lines` does; RichLog's `auto_scroll` would pull a reader back down), and
    lines pruned past `max_lines` while the user reads higher up shift the view with
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
        self._lines: deque[Text] = deque(maxlen=max_lines)
        self._first = 0
        """Absolute number of `_lines[0]` (lines ever written before it were pruned)."""
        self._widest = 0
        self._cache: LRUCache[tuple[int, int, int], Strip] = LRUCache(1024)

    @property
    def lines(self) -> Sequence[Text]:
        """The kept lines, oldest first (wrapped pieces are separate lines)."""
        return self._lines

    @property
    def line_count(self) -> int:
        return len(self._lines)

    def plain_lines(self) -> list[str]:
        """The kept lines as plain text (wrapped pieces are separate lines)."""
        return [line.plain for line in self._lines]

    @property
    def following(self) -> bool:
        """True while new lines scroll into view (the user has not scrolled up)."""
        return self.is_vertical_scroll_end

    def append(self, texts: Iterable[Text]) -> None:
        """Add `texts` (each one or more lines) at the bottom, following the tail if at it."""
        following = self.is_vertical_scroll_end
        lines, width = self._lines, self.scrollable_content_region.width
        wrap = self.wrap and width > 0
        before = self._first
        widest = self._widest
        for text in texts:
            parts = text.split("\n", allow_blank=True) if "\n" in text.plain else (text,)
            for part in parts:
                length = len(part)
                if wrap and length > width:
                    pieces: Iterable[Text] = part.divide(range(width, length, width))
                else:
                    pieces = (part,)
                for piece in pieces:
                    if len(lines) == self.max_lines:
                        self._first += 1
                    lines.append(piece)
                    widest = max(widest, piece.cell_len)
        self._widest = widest
        self.virtual_size = Size(widest, len(lines))
        if following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif (pruned := self._first - before) and self.scroll_y > 0:
            self.scroll_to(y=max(0, self.scroll_y - pruned), animate=False, immediate=True)
        self.refresh()

    def clear(self) -> None:
        self._lines.clear()
        self._cache.clear()
        self._first = 0
        self._widest = 0
        self.virtual_size = Size(0, 0)
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if index >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        key = (index + self._first, scroll_x, width)
        strip = self._cache.get(key)
        if strip is None:
            segments = self._lines[index].render(self.app.console)
            strip = Strip(segments).crop_extend(scroll_x, scroll_x + width, self.rich_style)
            self._cache[key] = strip
        return strip.apply_style(self.rich_style)


class AgentPane(Widget):
    """A run's agent transcript under a "run · step · agent" border title.

    `push` is cheap and never touches the DOM; pending events are rendered in one batch
    (one `TranscriptLog.append`) per tick of a `flush_hz` timer. At most `max_lines`
    lines are kept (older history stays in the run's raw_output.jsonl), and at most
    `max_lines` events wait between flushes: older ones would be pruned at once anyway.
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
        self._timer: Timer | None = None
        self._log = TranscriptLog(max_lines=max_lines)
        self.pushed = 0
        """Events pushed since creation (or the last `clear`)."""
        self.flushed = 0
        """Events taken by a flush (rendered, or skipped as rendering to nothing)."""
        self.border_title = adw_id

    def compose(self) -> ComposeResult:
        yield self._log

    def on_mount(self) -> None:
        self._timer = self.set_interval(1 / self.flush_hz, self.flush, name="agent-pane-flush")

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
        self.border_title = " · ".join(part for part in (adw_id, step, agent) if part)

    def push(self, event: AgentEvent) -> None:
        """Queue `event` for the next flush. Cheap: no rendering, no DOM."""
        self._pending.append(event)
        self.pushed += 1

    def flush(self) -> None:
        """Render every pending event in one write (the timer calls this)."""
        pending = self._pending
        if not pending or not self._log.size.width:
            # Not laid out (or hidden): there is no width to wrap at yet; the events wait
            # in the bounded deque instead.
            return
        events = list(pending)
        pending.clear()
        self.flushed += len(events)
        texts = [text for event in events if (text := event_text(event)) is not None]
        if texts:
            self.log_widget.append(texts)

    def clear(self) -> None:
        """Forget pending events and empty the log."""
        self._pending.clear()
        self.pushed = self.flushed = 0
        self.log_widget.clear()


class PerLineAgentPane(AgentPane):
    """The naive pane: one widget write per event as it is pushed (benchmark baseline)."""

    def push(self, event: AgentEvent) -> None:
        self.pushed += 1
        self.flushed += 1
        text = event_text(event)
        if text is not None:
            self.log_widget.append((text,))
