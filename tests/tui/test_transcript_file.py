"""TranscriptFile: a raw_output.jsonl of any size, indexed and read in threads, rendered only
where it is on screen."""

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from adw_tui.agents import jsonl
from adw_tui.agents.jsonl import ParsedLine
from adw_tui.tui import heap
from adw_tui.tui.widgets import transcript_rows
from adw_tui.tui.widgets.transcript_file import TranscriptFile
from tests.tui.conftest import until


def text_line(number: int) -> str:
    message = {"content": [{"type": "text", "text": f"line {number} of the agent's reply"}]}
    return json.dumps({"type": "assistant", "message": message}) + "\n"


def write_lines(path: Path, numbers: range) -> None:
    with path.open("a") as file:
        file.writelines(text_line(number) for number in numbers)


class TranscriptApp(App[None]):
    def __init__(self, **options: object) -> None:
        super().__init__()
        self.view = TranscriptFile(id="transcript", **options)  # type: ignore[arg-type]

    def compose(self) -> ComposeResult:
        yield self.view


def visible(view: TranscriptFile) -> list[str]:
    return [view.render_line(y).text.rstrip() for y in range(view.size.height)]


async def shown(pilot: Pilot[None], view: TranscriptFile, text: str) -> None:
    await until(pilot, lambda: any(text in line for line in visible(view)), within_s=10)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of every line the widget parses."""
    numbers: list[int] = []
    parse = jsonl.parse_line

    def counting(line: bytes | bytearray, number: int) -> ParsedLine | None:
        numbers.append(number)
        return parse(line, number)

    monkeypatch.setattr(transcript_rows, "parse_line", counting)
    return numbers


async def test_a_big_file_shows_at_once_and_parses_only_what_is_on_screen(
    tmp_path: Path, parses: list[int]
):
    path = tmp_path / "raw_output.jsonl"
    lines = 200_000
    write_lines(path, range(1, lines + 1))
    app = TranscriptApp(chunk_bytes=2**20)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.view
        started = time.monotonic()
        view.show(path)
        await shown(pilot, view, "line 1 of the agent's reply")
        first_paint_s = time.monotonic() - started
        assert first_paint_s < 1.0
        assert view.line_count < lines  # still indexing: the first chunk showed first
        assert "indexing" in str(view.border_subtitle)
        assert len(parses) <= 2 * view.size.height
        await until(pilot, lambda: not view.indexing, within_s=20)
        assert view.line_count == lines
        assert view.border_subtitle == "200,000 lines"

        view.focus()
        await pilot.press("end")
        await shown(pilot, view, f"line {lines} of the agent's reply")
        assert len(parses) <= 4 * view.size.height
        assert max(parses) == lines


async def test_corrupt_lines_are_shown_as_such(tmp_path: Path):
    path = tmp_path / "raw_output.jsonl"
    path.write_text(
        text_line(1)
        + '{"type":"assistant","message":{"content":[{"type":"te\n'
        + "[1, 2]\n"
        + json.dumps({"type": "result", "is_error": False, "total_cost_usd": 0.5})
        + "\n"
        + text_line(5)[:-1]  # the last line has no newline: the file is complete
    )
    app = TranscriptApp()
    async with app.run_test(size=(100, 10)) as pilot:
        app.view.show(path)
        await shown(pilot, app.view, "line 5 of the agent's reply")
        rows = visible(app.view)
        assert rows[0] == "line 1 of the agent's reply"
        assert rows[1].startswith("? line 2: invalid JSON")
        assert rows[2] == "? line 3: a JSON list, not an object"
        assert rows[3] == "· result: done: $0.5000"


async def test_a_running_step_s_file_is_followed_as_it_grows(tmp_path: Path):
    path = tmp_path / "raw_output.jsonl"
    app = TranscriptApp(poll_s=0.05)
    async with app.run_test(size=(100, 10)) as pilot:
        view = app.view
        view.show(path, follow=True, placeholder="waiting for the agent's output…")
        await shown(pilot, view, "waiting for the agent's output…")
        write_lines(path, range(1, 51))
        await shown(pilot, view, "line 50 of the agent's reply")  # at the end: follows
        with path.open("a") as file:
            file.write(text_line(51)[:20])  # half a line: not shown yet
        await pilot.pause(0.2)
        assert view.line_count == 50
        with path.open("a") as file:
            file.write(text_line(51)[20:])
        await shown(pilot, view, "line 51 of the agent's reply")

        path.write_text(text_line(1000))  # the agent's next call rewrites the file
        await shown(pilot, view, "line 1000 of the agent's reply")
        assert view.line_count == 1
        view.follow(False)
        await until(pilot, lambda: view.border_subtitle == "1 line")


async def test_no_file_shows_the_placeholder(tmp_path: Path):
    app = TranscriptApp()
    async with app.run_test(size=(60, 5)) as pilot:
        app.view.show(None, placeholder="build called no agent: no transcript")
        await shown(pilot, app.view, "build called no agent")
        app.view.show(tmp_path / "missing.jsonl", placeholder="no transcript saved")
        await shown(pilot, app.view, "no transcript saved")
        assert app.view.line_count == 0


async def test_the_file_is_read_by_the_parser_of_the_engine_that_wrote_it(
    tmp_path: Path, shouting_engine: str
):
    path = tmp_path / "raw_output.jsonl"
    write_lines(path, range(1, 3))
    app = TranscriptApp()
    async with app.run_test(size=(100, 10)) as pilot:
        app.view.show(path, engine=shouting_engine)
        await shown(pilot, app.view, "LINE 2 OF THE AGENT'S REPLY")
        app.view.show(path, engine="claude")
        await shown(pilot, app.view, "line 2 of the agent's reply")


async def test_lines_are_read_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`render_line` paints what was read and asks for the rest: the file is opened
    only by the indexer's and the reader's threads, never on the event loop."""
    path = tmp_path / "raw_output.jsonl"
    write_lines(path, range(1, 201))
    opened_in: list[str] = []
    path_open = Path.open

    def observed_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            opened_in.append(threading.current_thread().name)
        return path_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", observed_open)
    app = TranscriptApp()
    async with app.run_test(size=(100, 10)) as pilot:
        view = app.view
        view.show(path)
        await shown(pilot, view, "line 1 of the agent's reply")
        view.focus()
        await pilot.press("end")
        await shown(pilot, view, "line 200 of the agent's reply")
    assert opened_in
    assert threading.main_thread().name not in opened_in


async def test_a_huge_line_does_not_stall_the_event_loop(tmp_path: Path, callback_cpu: list[float]):
    """An agent's reply of most of a MiB (a whole file quoted, many lines): read, parsed
    and drawn while no callback of the event loop works for 50 ms, and a 10 ms
    heartbeat keeps roughly to its beat; then scrolled to its end. The heap is frozen
    first, as the dashboard freezes it once it is up (tui/heap.py): otherwise the full
    collections the reader's garbage sets off would be what is measured."""
    path = tmp_path / "raw_output.jsonl"
    content = "\n".join(f"{n:06d} " + "x" * 80 + " 漢字" for n in range(9_000))
    huge = {"type": "assistant", "message": {"content": [{"type": "text", "text": content}]}}
    path.write_text(text_line(1) + json.dumps(huge) + "\n" + text_line(3))
    assert path.stat().st_size < transcript_rows.MAX_SHOWN_LINE_BYTES
    app = TranscriptApp()
    async with app.run_test(size=(100, 10)) as pilot:
        heap.freeze()
        view = app.view
        late: list[float] = []
        beating = True

        async def heartbeat() -> None:
            while beating:
                start = time.perf_counter()
                await asyncio.sleep(0.01)
                late.append(time.perf_counter() - start - 0.01)

        beat = asyncio.create_task(heartbeat())
        await pilot.pause()  # the step that froze the heap is not measured
        callback_cpu.clear()
        view.show(path)
        await shown(pilot, view, "line 3 of the agent's reply")
        await until(pilot, lambda: not view.reading)
        assert "008999 xxx" not in visible(view)[1]

        def at_its_end() -> bool:
            # The row's width is known once it is drawn: scroll again until it is.
            view.scroll_to(x=view.max_scroll_x, animate=False, immediate=True)
            return any("008999 xxx" in line for line in visible(view))

        await until(pilot, at_its_end, within_s=10)
        beating = False
        await beat
        busiest = max(callback_cpu)  # before the app is torn down
        heap.thaw()
    assert busiest < 0.05, f"one callback held the event loop for {busiest * 1000:.0f} ms"
    # A reader thread that kept the GIL would show here, as a beat far behind.
    assert max(late) < 0.25, f"the event loop stalled for {max(late) * 1000:.0f} ms"
