"""AgentPane: batched, bounded, following the tail, rendered like `adw prompt`."""

from collections.abc import Callable, Iterable

from rich.text import Text
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from adw_tui.domain.agent import AgentEvent, AgentEventKind
from adw_tui.tui.widgets import AgentPane, PerLineAgentPane


class PaneApp(App[None]):
    """Mounts the panes it is given, nothing else."""

    def __init__(self, *panes: AgentPane) -> None:
        super().__init__()
        self._panes = panes

    def compose(self) -> ComposeResult:
        yield from self._panes


def text(i: int) -> AgentEvent:
    return AgentEvent(kind=AgentEventKind.TEXT, text=f"line {i}")


def plain_lines(pane: AgentPane) -> list[str]:
    return pane.log_widget.plain_lines()


def count_writes(pane: AgentPane) -> list[list[Text]]:
    """Record every write to the pane's log (and still write)."""
    log = pane.log_widget
    written: list[list[Text]] = []
    original = log.append

    def append(texts: Iterable[Text]) -> None:
        batch = list(texts)
        written.append(batch)
        original(batch)

    log.append = append  # type: ignore[method-assign]
    return written


async def test_keeps_at_most_max_lines_in_order_and_shows_the_last() -> None:
    pane = AgentPane("run1", max_lines=200)
    async with PaneApp(pane).run_test(size=(80, 24)) as pilot:
        for i in range(5000):
            pane.push(text(i))
        await pilot.pause(0.15)
        lines = plain_lines(pane)
        assert lines == [f"line {i}" for i in range(4800, 5000)]
        log = pane.log_widget
        assert log.scroll_y == log.max_scroll_y > 0
        assert pane.pending == 0
        assert pane.pushed == 5000


async def test_nothing_is_written_before_the_timer_then_one_batch() -> None:
    pane = AgentPane("run1", flush_hz=5.0)
    async with PaneApp(pane).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        written = count_writes(pane)
        for i in range(300):
            pane.push(text(i))
        assert written == []
        assert pane.log_widget.plain_lines() == []
        await pilot.pause(0.4)
        assert len(written) == 1
        assert plain_lines(pane) == [f"line {i}" for i in range(300)]


async def test_per_line_variant_writes_every_event_at_once() -> None:
    pane = PerLineAgentPane("run1")
    async with PaneApp(pane).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        written = count_writes(pane)
        for i in range(3):
            pane.push(text(i))
        assert len(written) == 3
        assert plain_lines(pane) == ["line 0", "line 1", "line 2"]


async def test_does_not_follow_once_the_user_scrolled_up() -> None:
    pane = AgentPane("run1")
    async with PaneApp(pane).run_test(size=(80, 24)) as pilot:
        for i in range(100):
            pane.push(text(i))
        await pilot.pause(0.1)
        log = pane.log_widget
        log.scroll_to(y=5, animate=False)
        await pilot.pause()
        for i in range(100, 150):
            pane.push(text(i))
        await pilot.pause(0.1)
        assert log.scroll_y == 5
        assert not log.following
        log.scroll_end(animate=False, immediate=True)
        for i in range(150, 200):
            pane.push(text(i))
        await pilot.pause(0.1)
        assert log.scroll_y == log.max_scroll_y
        assert plain_lines(pane)[-1] == "line 199"


async def test_renders_like_the_cli_and_skips_silent_events() -> None:
    pane = AgentPane("run1")
    async with PaneApp(pane).run_test(size=(80, 24)) as pilot:
        pane.push(AgentEvent(kind=AgentEventKind.TOOL_USE, tool_name="Write", text="hello.txt"))
        pane.push(AgentEvent(kind=AgentEventKind.RESULT, text="final answer"))
        pane.push(AgentEvent(kind=AgentEventKind.UNKNOWN, text="{}"))
        pane.push(AgentEvent(kind=AgentEventKind.TOOL_RESULT, text="wrote 1 line"))
        pane.push(AgentEvent(kind=AgentEventKind.TEXT, text="a [bold] bracket"))
        await pilot.pause(0.1)
        assert plain_lines(pane) == [
            "→ Write hello.txt",
            "  ← ok: wrote 1 line",
            "a [bold] bracket",
        ]
        assert pane.flushed == 5


async def test_title_and_clear() -> None:
    pane = AgentPane("run1")
    async with PaneApp(pane).run_test(size=(80, 24)) as pilot:
        assert pane.border_title == "run1"
        pane.set_title("run1", "build", "sdlc_implementor")
        assert pane.border_title == "run1 · build · sdlc_implementor"
        pane.push(text(1))
        await pilot.pause(0.1)
        pane.push(text(2))
        pane.clear()
        await pilot.pause(0.1)
        assert pane.log_widget.plain_lines() == []
        assert pane.pending == 0


SNAPSHOT_EVENTS = [
    AgentEvent(kind=AgentEventKind.INIT, text="claude-sonnet-4 · session 1234"),
    AgentEvent(kind=AgentEventKind.TEXT, text="I'll create the file."),
    AgentEvent(kind=AgentEventKind.TOOL_USE, tool_name="Write", text="hello.txt"),
    AgentEvent(kind=AgentEventKind.TOOL_RESULT, text="File created\nhello.txt (1 line)"),
    AgentEvent(kind=AgentEventKind.THINKING, text="Now the tests."),
    AgentEvent(kind=AgentEventKind.RETRY, text="attempt 2 in 4.0s (overloaded)"),
    AgentEvent(kind=AgentEventKind.TOOL_USE, tool_name="Bash", text="uv run pytest"),
    AgentEvent(kind=AgentEventKind.TOOL_RESULT, text="1 failed", is_error=True),
    AgentEvent(kind=AgentEventKind.ERROR, text="rate limited"),
    AgentEvent(kind=AgentEventKind.RESULT, text="done"),
    AgentEvent(kind=AgentEventKind.TEXT, text="Done: hello.txt written."),
]


def test_snapshot(snap_compare: Callable[..., bool]) -> None:
    pane = AgentPane("a1b2c3d4")
    pane.set_title("a1b2c3d4", "build", "sdlc_implementor")

    async def fill(pilot: Pilot[None]) -> None:
        for event in SNAPSHOT_EVENTS:
            pane.push(event)
        await pilot.pause()
        pane.flush()
        await pilot.pause()

    assert snap_compare(PaneApp(pane), terminal_size=(80, 24), run_before=fill)
