"""Claude Code's template rules, as adw reproduces them (checked against the real binary by
tests/integration/test_command_expansion.py)."""

import json

import pytest

from adw_tui.domain.command_templates import (
    PARSED_LIMIT,
    expand,
    quote_arguments,
    shell_words,
    split_arguments,
    split_front_matter,
    trim,
)


def test_positions_count_from_zero_and_all_arguments_are_as_typed() -> None:
    template = "all=$ARGUMENTS first=$0 second=$1 third=$2 again=$ARGUMENTS[1]"
    assert expand(template, "a 'b c' d") == "all=a 'b c' d first=a second=b c third=d again=b c"


def test_a_position_past_the_last_argument_stays_as_written() -> None:
    assert expand("$0 $1 $ARGUMENTS[1] $ARGUMENTS[5]", "a") == "a $1 $ARGUMENTS[1] $ARGUMENTS[5]"


def test_positions_take_every_digit() -> None:
    arguments = "a b c d e f g h i j k"
    assert expand("$10 $ARGUMENTS[10] $01 $1a $1_ $1.", arguments) == "k k b $1a $1_ b."


def test_a_backslash_keeps_a_placeholder_literal() -> None:
    assert expand("\\$0 \\$ARGUMENTS \\\\$0", "x") == "$0 $ARGUMENTS \\\\x"


def test_arguments_is_replaced_wherever_it_occurs() -> None:
    assert expand("$ARGUMENTSX $ARGUMENTS[x] $$0 $ $x", "v") == "vX v[x] $v $ $x"


def test_a_value_is_never_expanded_again() -> None:
    assert expand("$0|$1|$ARGUMENTS", "'$1' '$ARGUMENTS'") == "$1|$ARGUMENTS|'$1' '$ARGUMENTS'"


def test_a_template_that_fills_nothing_in_gets_the_arguments_line() -> None:
    assert expand("Do it.\n", "x y") == "Do it.\n\n\nARGUMENTS: x y"
    assert expand("Only $3.\n", "x y") == "Only $3.\n\n\nARGUMENTS: x y"
    assert expand("Do it.\n", "") == "Do it.\n"
    assert expand("$ARGUMENTS|$0", "") == "|$0"


def test_a_bang_in_a_value_cannot_start_a_shell_command() -> None:
    assert expand("[$0] [$ARGUMENTS]", "wow! !bang `!x`") == "[wow!] [wow! \\!bang ` \\!x`]"
    assert expand("$0", "'a\n!b'") == "a\n\\!b"
    assert expand("Go.", "!x") == "Go.\n\nARGUMENTS: \\!x"


def test_claude_codes_markers_become_replacement_characters() -> None:
    assert expand("a\uffffb\ufffe $0", "x\ufffey") == "a\ufffdb\ufffd x\ufffdy"


@pytest.mark.parametrize(
    ("template", "body"),
    [
        ("---\ndescription: d\nargument-hint: [a]\n---\n\n\n  Body\n\n", "Body\n\n"),
        ("---\ndescription: a---b\n---\nBody", "b\n---\nBody"),  # the first --- closes it
        ("---\r\ndescription: d\r\n---\r\nBody\r\n", "Body\r\n"),
        ("\ufeff---\ndescription: d\n---\nBody", "Body"),
        ("---\n---\nBody", "Body"),
        ("---\nnot closed\nBody", "---\nnot closed\nBody"),
        ("\n---\ndescription: d\n---\nBody", "\n---\ndescription: d\n---\nBody"),
        ("No front matter", "No front matter"),
    ],
)
def test_front_matter_is_cut_as_claude_code_cuts_it(template: str, body: str) -> None:
    assert split_front_matter(template)[1] == body
    assert expand(template, "") == body


def test_the_front_matter_is_returned_for_the_keys_adw_reads() -> None:
    assert split_front_matter("---\nsections: [A]\n---\nx") == ("sections: [A]\n", "x")


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ("a b 'c d'", ["a", "b", "c d"]),
        ("a  b\tc", ["a", "b", "c"]),
        ('a "b \\" c" d\\ e', ["a", 'b \\" c', "d e"]),  # backslashes stay inside "..."
        ("a\"b c\"d 'e'f", ["ab cd", "ef"]),
        ("'' b ''", ["", "b", ""]),
        ("'line1\nline2' b", ["line1\nline2", "b"]),
        ("a b\nc d", ["a", "b"]),  # the first command is all that counts
        ("a;b c", ["a"]),
        ("a b | c", ["a", "b"]),
        ("a b & c", ["a", "b"]),
        ("a b#c #d e", ["a", "b#c"]),
        ("a\\\nb c", ["a", "b", "c"]),
        ("FOO=bar x=1 y z=2", ["y", "z=2"]),
        ("export x y", ["export"]),
        ('$HOME a $X ${Y} $1 b$X "$Z"', ["$HOME", "a", "b$X", "$Z"]),
        ("a `b c` d", ["a"]),
        ("a $(b c) d", ["a"]),
        ("a ~ * [x] ! b", ["a", "~", "*", "[x]", "!", "b"]),
        ("a\u00a0b c", ["a\u00a0b", "c"]),
    ],
)
def test_arguments_are_the_words_of_one_shell_command(arguments: str, words: list[str]) -> None:
    assert split_arguments(arguments) == words


@pytest.mark.parametrize(
    "arguments",
    [
        "a 'b c",
        'a "b c',
        "a b\\",
        "a (b) c",
        "a > f b",
        "a {b} c",
        "a $'b' c",
        'a "$(b)" c',
        "`a` b",
        "if a b",
        "a\rb c",
    ],
)
def test_shell_syntax_outside_the_model_is_said_so(arguments: str) -> None:
    assert shell_words(arguments) is None


def test_outside_the_model_or_with_no_words_arguments_split_at_whitespace() -> None:
    bare_json = '7 {"title":"Add a helper"}'
    assert split_arguments(bare_json) == ["7", '{"title":"Add', "a", 'helper"}']
    assert split_arguments("FOO=bar") == ["FOO=bar"]
    assert split_arguments("#x y") == ["#x", "y"]
    assert split_arguments(" \u3000 ") == []


def test_past_the_parse_limit_arguments_split_at_whitespace() -> None:
    at_limit = "'a b' " + "c" * (PARSED_LIMIT - 6)
    assert split_arguments(at_limit) == ["a b", "c" * (PARSED_LIMIT - 6)]
    over = at_limit + "c"
    assert split_arguments(over) == ["'a", "b'", "c" * (PARSED_LIMIT - 5)]


TRICKY = [
    "7",
    "c0ffee01",
    "/feature",
    "specs/a.md",
    "",
    "two words",
    "don't",
    "'",
    '{"title":"Don\'t \\"panic\\"","body":"line\\nnext"}',
    "line1\nline2",
    "tab\there",
    "cr\r\nlf",
    "$HOME",
    "$1 $ARGUMENTS",
    "!x",
    "`ls`",
    "$(ls)",
    "a;b|c&d",
    "#x",
    "{b}",
    "(z)",
    "<w>",
    "FOO=bar",
    "if",
    "export",
    "\\",
    "\u00fcn\u00ef\u00a0\u3000",
]


def test_quoted_values_are_read_back_whole() -> None:
    arguments = quote_arguments(TRICKY)
    assert split_arguments(arguments) == TRICKY
    assert trim(arguments) == arguments


def test_plain_words_are_not_quoted() -> None:
    assert quote_arguments(["7", "c0ffee01", "/feature", "specs/a-b_c.md"]) == (
        "7 c0ffee01 /feature specs/a-b_c.md"
    )
    assert quote_arguments(["if", "a=b", "x y", "it's"]) == "'if' 'a=b' 'x y' 'it'\"'\"'s'"


def test_values_fill_in_whole_even_past_the_parse_limit() -> None:
    issue = json.dumps({"body": "word " * PARSED_LIMIT})
    arguments = quote_arguments(["7", issue])
    assert expand("$1", arguments) != issue  # Claude Code splits it at whitespace
    assert expand("$1", arguments, ["7", issue]) == issue


def test_trim_takes_what_javascript_trims() -> None:
    assert trim("\ufeff\u3000 a b\n\u2028") == "a b"
    assert trim("\x1c a \x85") == "\x1c a \x85"  # Python's strip() would take these
