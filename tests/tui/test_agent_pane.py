"""AgentPane: batched, bounded, following the tail, rendered like `adw prompt`."""

import gc
from collections.abc import Callable, Iterable
from typing import Any

from rich.style import Style
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from adw_tui.agents.transcript import Tone
from adw_tui.cli.transcript import PALETTE
from adw_tui.domain.agent import AgentEvent, AgentEventKind
from adw_tui.tui.themes import load_themes
from adw_tui.tui.tones import TONE_STYLES
from adw_tui.tui.widgets import AgentPane
from adw_tui.tui.widgets.agent_pane import (
    FLUSH_CHUNK,
    PaneFlusher,
    TranscriptLog,
    _row_ranges,
    markup_text,
)
from bench.tui_stream import PerLineAgentPane


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


def count_writes(pane: AgentPane) -> list[list[str]]:
    """Record every write to the pane's log (and still write)."""
    log = pane.log_widget
    written: list[list[str]] = []
    original = log.append_markup

    def append_markup(markups: Iterable[str]) -> None:
        batch = list(markups)
        written.append(batch)
        original(batch)

    log.append_markup = append_markup  # type: ignore[method-assign]
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
        for i in range(FLUSH_CHUNK):
            pane.push(text(i))
        assert written == []
        assert pane.log_widget.plain_lines() == []
        await pilot.pause(0.4)
        assert len(written) == 1
        assert plain_lines(pane) == [f"line {i}" for i in range(FLUSH_CHUNK)]


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
        # Names from a repository's workflow file are text, never markup or actions.
        pane.set_title("run1", "[b]build[/b]", "[@click=app.quit]agent\x1b]0;t\x07")
        # (The title reads back as markup: the brackets come back escaped, so literal.)
        assert pane.border_title == "run1 · \\[b]build\\[/b] · \\[@click=app.quit]agent␛]0;t␇"
        pane.push(text(1))
        await pilot.pause(0.1)
        pane.push(text(2))
        pane.clear()
        await pilot.pause(0.1)
        assert pane.log_widget.plain_lines() == []
        assert pane.pending == 0


async def test_one_flusher_per_app_and_rate_drives_every_pane() -> None:
    first, second, slow = AgentPane("run1"), AgentPane("run2"), AgentPane("run3", flush_hz=2)
    app = PaneApp(first, second, slow)
    async with app.run_test(size=(80, 24)) as pilot:
        flusher = PaneFlusher.of(app, 25.0)
        assert flusher.panes == [first, second]
        assert PaneFlusher.of(app, 2).panes == [slow]
        first.push(text(1))
        second.push(text(2))
        await pilot.pause(0.1)
        assert (plain_lines(first), plain_lines(second)) == (["line 1"], ["line 2"])
        await first.remove()
        await second.remove()
        assert flusher.panes == []
        assert PaneFlusher.of(app, 25.0) is not flusher  # the old one stopped


async def test_a_tick_stops_at_its_budget_and_the_next_goes_on_with_the_next_pane() -> None:
    # 0.01 Hz: the timer never fires here; the ticks are driven by hand.
    panes = [AgentPane(f"run{n}", max_lines=4 * FLUSH_CHUNK, flush_hz=0.01) for n in range(3)]
    app = PaneApp(*panes)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        flusher = PaneFlusher.of(app, 0.01)
        flusher.budget_s = 0  # every batch uses the whole budget
        for pane in panes:
            for i in range(FLUSH_CHUNK + 10):
                pane.push(text(i))

        def flushed() -> list[int]:
            return [pane.flushed for pane in panes]

        flusher.tick()
        assert flushed() == [FLUSH_CHUNK, 0, 0]
        flusher.tick()
        flusher.tick()
        assert flushed() == [FLUSH_CHUNK] * 3
        flusher.tick()
        assert flushed() == [FLUSH_CHUNK + 10, FLUSH_CHUNK, FLUSH_CHUNK]
        flusher.budget_s = 1.0
        flusher.tick()
        assert flushed() == [FLUSH_CHUNK + 10] * 3
        assert plain_lines(panes[2])[-1] == f"line {FLUSH_CHUNK + 9}"


async def test_long_lines_wrap_into_rows_that_keep_their_styles() -> None:
    log = TranscriptLog(max_lines=100)
    async with PaneApp(log).run_test(size=(21, 10)) as pilot:  # type: ignore[arg-type]
        await pilot.pause()
        width = log.scrollable_content_region.width
        assert width == 20
        log.append_markup(["[cyan]→ Write[/] " + "x" * 30, "[dim]  ← ok: one\n    two[/]"])
        rows = log.lines
        assert [row.plain for row in rows] == [
            "→ Write " + "x" * 12,
            "x" * 18,
            "  ← ok: one",
            "    two",
        ]
        assert [(span.start, span.end, span.style) for span in rows[0].spans] == [(0, 7, "cyan")]
        assert rows[1].spans == []
        assert all(span.style == "dim" for row in rows[2:] for span in row.spans)
        await pilot.pause()
        strip = log.render_line(0)
        assert strip.text == "→ Write " + "x" * 12
        assert Style.parse("cyan").color == next(iter(strip)).style.color  # type: ignore[union-attr]


async def test_event_colours_are_the_themes_and_follow_a_theme_switch() -> None:
    pane = AgentPane("run1")
    app = PaneApp(pane)
    async with app.run_test(size=(60, 10)) as pilot:
        for theme in load_themes():
            app.register_theme(theme)
        tool = AgentEvent(kind=AgentEventKind.TOOL_USE, tool_name="Write", text="a.py")
        pane.push(tool)
        pane.push(AgentEvent(kind=AgentEventKind.ERROR, text="rate limited"))
        for name in ("adw-dark", "adw-high-contrast"):
            app.theme = name
            await pilot.pause()
            pane.flush()
            await pilot.pause()
            log = pane.log_widget
            log.refresh()
            await pilot.pause()
            colours = app.theme_variables
            tool_row, error_row = (next(iter(log.render_line(y))).style for y in (0, 1))
            assert tool_row is not None
            assert error_row is not None
            assert tool_row.color == Style.parse(colours["accent"]).color, name
            assert error_row.color == Style.parse(colours["error"]).color, name
            assert error_row.bold


def test_every_tone_has_a_theme_style_and_a_terminal_colour() -> None:
    assert set(TONE_STYLES) == set(Tone)
    assert set(Tone) <= set(PALETTE.styles)


def test_markup_that_does_not_parse_is_shown_as_is_and_emoji_codes_stay_text() -> None:
    assert markup_text("[/bold] :bug:").plain == "[/bold] :bug:"
    assert markup_text("[bold]:bug:[/]").plain == ":bug:"


async def test_rows_kept_as_markup_add_nothing_for_the_garbage_collector() -> None:
    log = TranscriptLog(max_lines=10_000)
    async with PaneApp(log).run_test(size=(80, 24)) as pilot:  # type: ignore[arg-type]
        await pilot.pause()

        def tracked_after(lines: int) -> int:
            log.append_markup(f"[cyan]line[/] {i} " + "x" * 100 for i in range(lines))
            gc.collect()
            return len(gc.get_objects())

        before = tracked_after(10)
        after = tracked_after(3000)  # about 6,000 more rows
        assert log.line_count > 6000
        assert after - before < 300


async def test_a_write_lays_out_the_screen_only_when_the_log_is_sized_by_its_content() -> None:
    fixed, auto = TranscriptLog(max_lines=100), TranscriptLog(max_lines=100)
    auto.styles.height = "auto"
    async with PaneApp(fixed, auto).run_test(size=(80, 24)) as pilot:  # type: ignore[arg-type]
        await pilot.pause()
        layouts: dict[str, int] = {"fixed": 0, "auto": 0}
        for name, log in (("fixed", fixed), ("auto", auto)):
            original = log.refresh

            def refresh(*args: Any, _name: str = name, _original: Any = original, **kw: Any):
                layouts[_name] += bool(kw.get("layout"))
                return _original(*args, **kw)

            log.refresh = refresh  # type: ignore[method-assign]
            log.append_markup(f"line {i}" for i in range(50))
        assert layouts == {"fixed": 0, "auto": 1}
        assert fixed.virtual_size.height == 50
        assert fixed.max_scroll_y > 0
        assert fixed.following


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


HOSTILE = (
    "osc52 \x1b]52;c;aGVsbG8=\x07 title \x1b]0;pwned\x1b\\ clear \x1b[2J\x1b[?1049h\x1b[?25l"
    " dcs \x1bPq\x1b\\ c1 \x9b31m bidi \u202ex :bug: [b]loud[/]\ttab\rkept"
)


def screen_rows(log: TranscriptLog) -> list[str]:
    """The text of every row of `log` as painted, top to bottom."""
    return [log.render_line(y).text for y in range(log.scrollable_content_region.height)]


async def test_escape_sequences_in_agent_output_are_shown_not_sent_to_the_terminal() -> None:
    pane = AgentPane("r1")
    async with PaneApp(pane).run_test(size=(200, 24)) as pilot:
        for kind in (AgentEventKind.TEXT, AgentEventKind.TOOL_RESULT, AgentEventKind.ERROR):
            pane.push(AgentEvent(kind=kind, text=HOSTILE))
        pane.push(AgentEvent(kind=AgentEventKind.TOOL_USE, tool_name="Bash\x1b[2J", text=HOSTILE))
        pane.flush()
        await pilot.pause()
        log = pane.log_widget
        segments = [segment.text for y in range(5) for segment in log.render_line(y)]
        painted = "".join(segments)
        assert painted.strip()
        for control in ("\x1b", "\x07", "\x9b", "\u202e", "\t", "\r"):
            assert control not in painted
        assert "␛]52;c;aGVsbG8=␇" in painted
        assert ":bug:" in painted
        assert "🐛" not in painted
        assert "[b]loud[/]" in painted


async def test_a_tab_never_pushes_a_row_past_the_pane() -> None:
    pane = AgentPane("r1")
    async with PaneApp(pane).run_test(size=(40, 12)) as pilot:
        pane.push(AgentEvent(kind=AgentEventKind.TEXT, text="a\tb\tc\td\te\tf\tg\th\ti"))
        pane.flush()
        await pilot.pause()
        log = pane.log_widget
        width = log.scrollable_content_region.width
        assert all(text.cell_len <= width for text in log.lines)
        assert "".join(screen_rows(log)).replace(" ", "") == "abcdefghi"


async def test_every_character_of_a_long_cjk_line_is_on_screen() -> None:
    line = "".join(chr(0x4E00 + i) for i in range(150))  # 150 wide characters, 300 cells
    pane = AgentPane("r1")
    async with PaneApp(pane).run_test(size=(80, 24)) as pilot:
        pane.push(AgentEvent(kind=AgentEventKind.TEXT, text=line))
        pane.flush()
        await pilot.pause()
        log = pane.log_widget
        width = log.scrollable_content_region.width
        assert all(text.cell_len <= width for text in log.lines)
        assert "".join(row.rstrip() for row in screen_rows(log)) == line


def test_rows_are_cut_by_cells_and_a_wide_character_never_straddles_the_edge() -> None:
    assert list(_row_ranges("漢字かな", 5)) == [(0, 2), (2, 4)]
    assert list(_row_ranges("a漢字", 4)) == [(0, 2), (2, 3)]
    assert list(_row_ranges("abcdef\n漢字", 4)) == [(0, 4), (4, 6), (7, 9)]
    assert list(_row_ranges("e\u0301" * 3, 3)) == [(0, 6)]  # combining marks take no cell
