"""The one sanitiser for untrusted text: nothing a terminal acts on survives it."""

import json

import pytest

from adw_tui.domain.sanitize import cell_width, json_terminal_safe, terminal_safe

ESC = "\x1b"

# Every kind of sequence the issue names, each with the endings it may take.
SEQUENCES = {
    "csi colour": "\x1b[31mred\x1b[0m",
    "csi clear screen": "\x1b[2J\x1b[H",
    "csi alternate screen": "\x1b[?1049h",
    "csi hide cursor": "\x1b[?25l",
    "osc 52 clipboard, bel": "\x1b]52;c;aGVsbG8=\x07",
    "osc title, st": "\x1b]0;pwned\x1b\\",
    "dcs, st": "\x1bPq#0;2;0;0;0\x1b\\",
    "apc, st": "\x1b_payload\x1b\\",
    "pm, st": "\x1b^privacy\x1b\\",
    "sos, st": "\x1bXstart\x1b\\",
    "c1 csi": "\x9b31m",
    "c1 osc, c1 st": "\x9d0;title\x9c",
    "c1 dcs": "\x90q\x9c",
}


@pytest.mark.parametrize("sequence", SEQUENCES.values(), ids=SEQUENCES.keys())
def test_no_escape_sequence_survives(sequence):
    shown = terminal_safe(f"before {sequence} after")
    assert ESC not in shown
    assert not any(0x80 <= ord(c) < 0xA0 for c in shown)
    assert not any(ord(c) < 0x20 for c in shown)
    assert shown.startswith("before ")
    assert shown.endswith(" after")


def test_escapes_are_shown_not_dropped():
    assert terminal_safe("\x1b[31mred") == "␛[31mred"
    assert terminal_safe("\x1b]52;c;aGk=\x07") == "␛]52;c;aGk=␇"
    assert terminal_safe("\x9b2J") == "␛[2J"
    assert terminal_safe("a\x7fb\x00c\x08d") == "a␡b␀c␈d"


def test_every_c0_and_c1_control_is_replaced():
    controls = "".join(chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)])
    shown = terminal_safe(controls.replace("\n", "").replace("\r", "").replace("\t", ""))
    assert all(c.isprintable() for c in shown), repr(shown)


def test_newlines_are_kept():
    assert terminal_safe("one\ntwo\n\nthree\n") == "one\ntwo\n\nthree\n"


def test_tab_expands_to_the_next_stop():
    assert terminal_safe("\tx") == " " * 8 + "x"
    assert terminal_safe("abc\tx") == "abc     x"
    assert terminal_safe("12345678\tx") == "12345678" + " " * 8 + "x"
    assert terminal_safe("a\tb\tc") == "a       b       c"
    # The column restarts on each line.
    assert terminal_safe("abcdef\nab\tx") == "abcdef\nab      x"


def test_tab_counts_wide_characters_as_two_cells():
    # 漢字 fill 4 cells, so the tab adds 4 spaces to reach column 8.
    assert terminal_safe("漢字\tx") == "漢字    x"


def test_carriage_return_keeps_the_text_after_the_last_one():
    assert terminal_safe("10%\r50%\r100%") == "100%"
    assert terminal_safe("first\rsecond\nthird") == "second\nthird"


def test_crlf_is_a_plain_line_end():
    assert terminal_safe("one\r\ntwo\r\n") == "one\ntwo\n"


def test_a_trailing_carriage_return_keeps_the_line():
    assert terminal_safe("done\r") == "done"
    assert terminal_safe("\r") == ""


@pytest.mark.parametrize("code", [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
def test_bidi_controls_are_neutralised(code):
    shown = terminal_safe(f"abc{chr(code)}def")
    assert chr(code) not in shown
    assert shown == f"abc⟨U+{code:04X}⟩def"


def test_lone_surrogates_are_replaced():
    shown = terminal_safe("a\ud800b\udfffc")
    assert shown == "a\ufffdb\ufffdc"
    shown.encode("utf-8")  # would raise on a surrogate


def test_plain_text_is_unchanged():
    text = "Fix the login bug: ünïcödé, 漢字, emoji 🐛, :bug: and [bold]markup[/]"
    assert terminal_safe(text) == text


def test_cell_width():
    assert cell_width("a") == 1
    assert cell_width("漢") == 2
    assert cell_width("\u0301") == 0


def test_json_keeps_the_value_and_escapes_what_a_terminal_acts_on() -> None:
    value = {"text": "a\x1b[2J\x7f\x85\x9b31m\u202e\u2066\ud800\\\x9b é 一 \U0001f600"}
    encoded = json_terminal_safe(json.dumps(value, ensure_ascii=False))
    assert encoded == (
        '{"text": "a\\u001b[2J\\u007f\\u0085\\u009b31m\\u202e\\u2066\\ud800\\\\\\u009b é 一 😀"}'
    )
    assert json.loads(encoded) == value
