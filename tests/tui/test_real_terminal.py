"""The whole dashboard on a real terminal: what an agent prints cannot drive the terminal.

`adw demo` runs on a pseudo-terminal (160x50, TERM=xterm-256color) twice: as it is, to
learn the control sequences Textual writes of its own accord, and with its first agent
call printing every kind of terminal control (the simulated agent's `hostile` fault: C0
and C1 controls, CSI, OSC 52 clipboard, OSC 0/2 titles, OSC 8 links, DCS, APC, PM and
SOS ended by BEL or ST, the alternate screen, cursor hiding, bidi overrides, lone
surrogates, TAB and CR, in what the agent says and in a tool's result) and then a line of
150 CJK characters. Each session ends with `q` once its agent pane shows what it waits
for. pyte, a terminal emulator, is fed the bytes as they come.
"""

import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyte
import pytest

from adw_tui.agents.sim.faults import CJK_LINE, HOSTILE_TEXT
from bench.pty_app import COLUMNS, ROWS, PtyChild

ADW = str(Path(sys.executable).parent / "adw")
READ_TIMEOUT_S = 60
QUIET_S = 0.05
# The sequences a terminal acts on, ended as ECMA-48 ends them. Textual draws with two
# kinds only: cursor positions (CSI ... H) and colours (CSI ... m).
SEQUENCE = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC, ended by BEL or ST
    rb"|\x1b[PX^_].*?(?:\x07|\x1b\\)"  # DCS, SOS, PM, APC
    rb"|\x1b[^\[\]PX^_]",  # any other escape
    re.S,
)
DRAWING = re.compile(rb"\x1b\[[0-9;]*[Hm]")
pytestmark = pytest.mark.slow
C1_OR_BIDI = re.compile("[\x80-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass
class Session:
    """One dashboard session: every byte written, every screen row ever shown, and the
    screen when the awaited text was on it (as text rows, and cell by cell: a wide
    character's second cell is "").

    Rows are read from the cells, not with `Screen.display`: pyte keeps the second cell
    of a wide character that a narrow one overwrote (a real terminal clears it), which
    `display` cannot render."""

    data: bytes
    shown: set[str]
    rows: list[str]
    cells: list[list[str]]
    title: str

    @property
    def controls(self) -> Counter[bytes]:
        """The sequences written other than drawing, with how often each was."""
        return Counter(s for s in SEQUENCE.findall(self.data) if not DRAWING.fullmatch(s))


def demo_session(tmp_path: Path, name: str, *, faults: str, awaited: str) -> Session:
    """`adw demo` in a pseudo-terminal until `awaited`'s characters are all on screen
    between two frames, then `q`; one run at a time, so one agent pane."""
    env = {
        "ADW_MAX_CONCURRENT": "1",
        "ADW_SIM_DELAY": "0.05",
        "ADW_SIM_FAULTS": faults,
        "ADW_SIM_STATE_DIR": str(tmp_path / f"{name}-sim"),
        "ADW_CONFIG_DIR": str(tmp_path / f"{name}-config"),
    }
    ours = [key for key in os.environ if key.startswith("ADW_") or key == "CLAUDE_CODE_PATH"]
    child = PtyChild(
        [ADW, "demo", "--dir", str(tmp_path / name)], cwd=tmp_path, env=env, unset=ours
    )
    screen = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.ByteStream(screen)
    data, shown = bytearray(), set()
    cells: list[list[str]] = []
    text = ""
    try:
        for chunk in child.output(READ_TIMEOUT_S, quiet_s=QUIET_S):
            data += chunk
            stream.feed(chunk)
            now = [[screen.buffer[y][x].data for x in range(COLUMNS)] for y in range(ROWS)]
            text = "\n".join(map("".join, now))
            shown.update(text.split("\n"))
            # Looked at only between frames, when the app has gone quiet.
            if not chunk and not cells and set(awaited) <= set(text):
                cells = now
                child.type(b"q")
    finally:
        child.stop()
    assert cells, f"{awaited!r} never showed:\n{text}"
    return Session(bytes(data), shown, list(map("".join, cells)), cells, screen.title)


def boxes(cells: list[list[str]]) -> list[tuple[int, int, int, int]]:
    """(top, left, bottom, right) of every rounded box on screen: its corners, joined by
    unbroken borders."""
    found = []
    for top, row in enumerate(cells):
        for left, char in enumerate(row):
            if char != "╭":
                continue
            right = row.index("╮", left)
            bottom = top + 1
            while cells[bottom][left] == "│":
                bottom += 1
            found.append((top, left, bottom, right))
    return found


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Session, Session]:
    """(clean, hostile) dashboard sessions."""
    root = tmp_path_factory.mktemp("terminal")
    clean = demo_session(root, "clean", faults="", awaited="issue_classifier")
    hostile = demo_session(root, "hostile", faults="classify_issue=hostile", awaited=CJK_LINE)
    return clean, hostile


def test_the_terminal_gets_no_control_sequence_but_textuals_own(
    sessions: tuple[Session, Session],
) -> None:
    clean, hostile = sessions
    # Every escape written starts a complete sequence (none is cut or left half open).
    for session in sessions:
        found = SEQUENCE.findall(session.data)
        assert session.data.count(b"\x1b") == sum(s.count(b"\x1b") for s in found)
    # Besides drawing, exactly what Textual writes on its own: the same sequences, as often.
    assert hostile.controls == clean.controls
    # The alternate screen is Textual's, once, before anything is drawn.
    assert hostile.controls[b"\x1b[?1049h"] == 1
    first_drawing = DRAWING.search(hostile.data)
    assert first_drawing is not None
    assert hostile.data.index(b"\x1b[?1049h") < first_drawing.start()
    # Clipboard, titles, links, DCS, SOS, PM, APC, reset, clear, reports: none at all.
    for sequence in (b"\x1b]52", b"\x1b]0;", b"\x1b]2;", b"\x1b]8;", b"\x1bP", b"\x1bX"):
        assert sequence not in hostile.data
    for sequence in (b"\x1b^", b"\x1b_", b"\x1bc", b"\x1b[2J", b"\x1b[6n", b"\x1b7", b"\x1b="):
        assert sequence not in hostile.data
    assert C1_OR_BIDI.search(hostile.data.decode()) is None
    assert hostile.title == clean.title  # pyte reads Textual's OSC 22 as one


def test_the_hostile_text_shows_as_visible_escapes(sessions: tuple[Session, Session]) -> None:
    shown = "\n".join(sessions[1].shown)
    for visible in (
        "osc 52: ␛]52;c;aGVsbG8=␇",
        "osc 0: ␛]0;pwned-title␛\\ osc 2: ␛]2;pwned-name␇",
        "osc 8: ␛]8;;http://example.invalid␛\\link␛]8;;␛\\",
        "dcs: ␛Pq#0;2;0;0;0#0~~␛\\ ␛P+q544e␛\\",
        "apc: ␛_Gf=100;AAAA␛\\ pm: ␛^pm-text␛\\ sos: ␛Xsos-text␇",
        "csi: ␛[2J␛[H␛[31mred␛[0m ␛[?1049h ␛[?25l ␛[6n",
        "esc: ␛c ␛7␛8 ␛=",
        "c1: ␛[31m ␛]0;c1-title␛\\ ␛Pc1-dcs␛\\ ␛Xc1-sos␛\\",
        "c1 more: ␛D␛E␛M␛N␛O␛^␛_",
        "c0: ␀␁␇␈␋␌␎␏␚␡",
        "bidi: ⟨U+202A⟩a⟨U+202B⟩b⟨U+202C⟩c⟨U+202D⟩d⟨U+202E⟩e",
        "isolates: ⟨U+2066⟩f⟨U+2067⟩g⟨U+2068⟩h⟨U+2069⟩i",
        "surrogates: \ufffd \ufffd",
        "tab:    x       y",
        "carriage: done",
    ):
        assert visible in shown, visible
    assert "50%" not in shown  # a carriage return leaves what a terminal would show
    assert HOSTILE_TEXT.splitlines()[0] not in shown


def test_every_wide_character_is_on_screen_and_the_borders_line_up(
    sessions: tuple[Session, Session],
) -> None:
    hostile = sessions[1]
    assert CJK_LINE in "".join(row.strip("│ ▂▃▄▅▆▇█") for row in hostile.rows)
    found = boxes(hostile.cells)
    assert len(found) == 2, "\n".join(hostile.rows)  # the runs table and the agent pane
    for top, left, bottom, right in found:
        assert hostile.cells[bottom][left] == "╰", "\n".join(hostile.rows)
        assert hostile.cells[bottom][right] == "╯", "\n".join(hostile.rows)
        for row in hostile.cells[top + 1 : bottom]:
            assert row[right] == "│", "\n".join(hostile.rows)
        # All line, but for a table's "N of M" subtitle.
        edge = "".join(hostile.cells[bottom][left + 1 : right])
        assert re.fullmatch(r"─+( [\d,]+ of [\d,]+ ─)?", edge), edge
