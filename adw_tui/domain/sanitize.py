"""Untrusted text (agent output, tool results, issue text, error messages) made safe to show.

The one rule for everything the TUI and the CLI print that they did not write themselves:
`terminal_safe` leaves nothing a terminal would act on. Controls are shown, not silently
dropped, so an operator sees that a text tried something: each C0 control and DEL becomes its
Unicode Control Picture (ESC → `␛`, BEL → `␇`), and each C1 control its 7-bit form with a
visible ESC (CSI U+009B → `␛[`). Once no ESC byte or C1 control is left no escape sequence
(CSI, OSC, DCS, APC, PM, SOS, ended by BEL or ST) can start, so its remaining characters are
plain text: `\\x1b]52;c;aGk=\\x07` reads `␛]52;c;aGk=␇`.

Layout is kept as a terminal would show it: `\\n` stays, a TAB becomes the spaces up to the
next tab stop (every 8 cells, wide characters counting 2), and a carriage return keeps what a
terminal would leave visible in the common case, the text after the line's last `\\r`
(progress bars redraw a line with `\\r`; `\\r\\n` is a plain line end). Bidirectional
embeddings, overrides and isolates (U+202A-202E, U+2066-2069), which can make a line read
differently from what it holds, are shown as `⟨U+202E⟩`; lone surrogates become U+FFFD.

JSON for programs (`--json`) keeps the text exact instead: `json_terminal_safe` writes
what a terminal would act on as `\\u` escapes, which decode to the same text.
"""

import re
import unicodedata

TAB_STOP = 8

_BIDI_CONTROLS = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_LINE_BREAK = re.compile(r"\r*\n")
# What JSON may hold unescaped but a terminal acts on (or, for surrogates, UTF-8 cannot
# hold): DEL, the C1 controls, the bidirectional controls. The C0 controls are escaped by
# every JSON encoder already.
_ABOVE_C0 = "\x7f-\x9f\ud800-\udfff" + "".join(map(chr, sorted(_BIDI_CONTROLS)))
_JSON_UNSAFE = re.compile(f"[{_ABOVE_C0}]")
# What `_safe_line` changes: those and the C0 controls (TAB and CR among them); in a whole
# text, `\n` aside.
_LINE_UNSAFE = re.compile(f"[\x00-\x1f{_ABOVE_C0}]")
_TEXT_UNSAFE = re.compile(f"[\x00-\x09\x0b-\x1f{_ABOVE_C0}]")


def terminal_safe(text: str) -> str:
    """`text` with no control a terminal would act on, laid out as a terminal shows it.

    Most text holds nothing to change: one regex search finds that, so the
    character-by-character pass runs only on the lines that need it (agent panes pass
    every line they show through here)."""
    if not _TEXT_UNSAFE.search(text):
        return text
    return "\n".join(_safe_line(line) for line in _LINE_BREAK.split(text))


def cell_width(char: str) -> int:
    """Terminal cells taken by one printable character: 2 for East Asian wide, 0 combining."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _safe_line(line: str) -> str:
    """One line (no `\\n`): the text after its last non-empty `\\r` segment, made visible.
    A line with nothing to change is left as it is, found in one pass in C: a character
    at a time, a MiB of an agent's reply took a second."""
    if _LINE_UNSAFE.search(line) is None:
        return line
    segments = [segment for segment in line.split("\r") if segment]
    visible = segments[-1] if segments else ""
    out: list[str] = []
    column = 0
    for char in visible:
        if char == "\t":
            spaces = TAB_STOP - column % TAB_STOP
            out.append(" " * spaces)
            column += spaces
            continue
        shown = _visible(char)
        out.append(shown)
        column += sum(cell_width(c) for c in shown)
    return "".join(out)


def _visible(char: str) -> str:
    """A printable stand-in for a control character, or the character itself."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "␡"
    if 0x80 <= code < 0xA0:
        return "␛" + chr(code - 0x40)
    if code in _BIDI_CONTROLS:
        return f"⟨U+{code:04X}⟩"
    if 0xD800 <= code < 0xE000:
        return "\ufffd"
    return char


def json_terminal_safe(encoded: str) -> str:
    """JSON text (as `json.dumps(..., ensure_ascii=False)` writes it) with DEL, C1 and
    bidirectional controls and lone surrogates written as `\\u009b`-style escapes: the
    same JSON value, which a terminal prints without acting on any of it. (Those
    characters can only be inside strings, where an escape means the character.)"""
    return _JSON_UNSAFE.sub(lambda found: f"\\u{ord(found[0]):04x}", encoded)


def safe_markup(text: str) -> str:
    """Untrusted `text` ready to sit inside rich markup: made terminal-safe, then with its
    square brackets escaped so it cannot open a style. (Emoji codes such as `:bug:` are not
    markup: the console or `Text.from_markup` that renders it must have `emoji=False`.)"""
    from rich.markup import escape  # here: most of rich, which plain output never needs

    return escape(terminal_safe(text))
