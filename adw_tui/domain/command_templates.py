"""Claude Code's expansion of a slash-command template (`/name arguments`), reproduced.

Claude Code expands a repository's `.claude/commands/<name>.md` itself. adw expands its
bundled templates here, for every engine, and the simulated agent expands a repository's
templates here too; both must give the text Claude Code would. The rules below were read
from Claude Code 2.1.328 and are checked against the real binary by
tests/integration/test_command_expansion.py.

- The arguments are the text after `/name`, trimmed. `$ARGUMENTS` is that text as typed,
  quotes and all. `$ARGUMENTS[n]` and `$n` are argument n counting from 0 (`$0` is the
  first, `$10` the eleventh); a placeholder past the last argument stays as written. `$1a`
  and `$1_` are no placeholders, and `\\$1` is a literal `$1`.
- The arguments are the words of the text read as one shell command (`shell_words`); past
  10,000 characters, or where the shell parse finds no words, they are the text split at
  whitespace, quotes and all.
- A value filled in is never expanded again. A `!` that starts a line of a value or follows
  whitespace becomes `\\!`, and a backquote next to a `!` gets a space, so that no value can
  start Claude Code's shell preprocessing (`` !`command` ``).
- A template in which nothing was filled in gets `\\n\\nARGUMENTS: <arguments>` at its end,
  when there are arguments.
- Front matter goes, with the whitespace after it: a first line `---`, then everything up to
  the next `---`, even one inside a line. `description` and `argument-hint` change nothing.
- U+FFFE and U+FFFF (Claude Code's own markers) become U+FFFD in what is filled in.

Not reproduced, and left as written: named arguments (`arguments:` in front matter, then
`$name`), `${CLAUDE_SESSION_ID}`, `${CLAUDE_PROJECT_DIR}`, `${CLAUDE_EFFORT}`, and the shell
preprocessing itself (adw runs no command a template names).
"""

import re
from collections.abc import Callable, Sequence

# What JavaScript's `\s` and `trim()` take for whitespace (Python's differ at the edges).
JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_SPACE = f"[{re.escape(JS_SPACE)}]"
_FRONT_MATTER = re.compile(rf"---{_SPACE}*\n(.*?)---{_SPACE}*\n?", re.S)
_WHITESPACE_RUN = re.compile(f"{_SPACE}+")
_BANG = re.compile(rf"(^|{_SPACE})!", re.M)

# Claude Code's markers, which it turns back into `$` and nothing at the end.
_LITERAL_DOLLAR = "\uffff"
_VALUE_EDGE = "\ufffe"
_ESCAPED_DOLLAR = re.compile(r"(?<!\\)\\\$(?=[0-9]|ARGUMENTS)")
_INDEXED = re.compile(r"\$ARGUMENTS\[([0-9]+)\]")
_POSITIONAL = re.compile(r"\$([0-9]+)(?![A-Za-z0-9_])")
_ALL = re.compile(re.escape("$ARGUMENTS"))

# Claude Code reads the arguments with a shell parser up to this length, splits them at
# whitespace beyond it.
PARSED_LIMIT = 10_000


def trim(text: str) -> str:
    """`text` trimmed as Claude Code trims the arguments (JavaScript's `trim()`)."""
    return text.strip(JS_SPACE)


def split_front_matter(template: str) -> tuple[str, str]:
    """(front matter, body) of `template` as Claude Code cuts it; ("", template) without."""
    text = template.removeprefix("\ufeff")
    found = _FRONT_MATTER.match(text)
    if found is None:
        return "", template
    return found[1], text[found.end() :]


def split_arguments(arguments: str) -> list[str]:
    """The positional arguments Claude Code reads from `arguments` (`$0`, `$1`, ...)."""
    if not trim(arguments):
        return []
    words = shell_words(arguments) if len(arguments) <= PARSED_LIMIT else None
    return words or [word for word in _WHITESPACE_RUN.split(arguments) if word]


def expand(template: str, arguments: str, values: Sequence[str] | None = None) -> str:
    """`template`'s body with `arguments` (the trimmed text after `/name`) filled in.

    `values` are the positional arguments when the caller has them already (adw's own
    steps, which write `arguments` with `quote_arguments(values)`); by default they are
    read from `arguments` as Claude Code reads them.
    """
    words = split_arguments(arguments) if values is None else list(values)
    filled = False

    def fill(value: str) -> str:
        nonlocal filled
        filled = True
        return _VALUE_EDGE + _unmark(_defuse(value)).replace("$", _LITERAL_DOLLAR) + _VALUE_EDGE

    def by_index(unknown: Callable[[str], str]) -> Callable[[re.Match[str]], str]:
        def replace(match: re.Match[str]) -> str:
            index = int(match[1])
            return fill(words[index]) if index < len(words) else unknown(match[0])

        return replace

    text = _unmark(split_front_matter(template)[1])
    text = _ESCAPED_DOLLAR.sub(_LITERAL_DOLLAR, text)
    # An unknown `$ARGUMENTS[9]` is kept whole, out of reach of `$ARGUMENTS` below.
    text = _INDEXED.sub(by_index(lambda kept: _LITERAL_DOLLAR + kept[1:]), text)
    text = _POSITIONAL.sub(by_index(lambda kept: kept), text)
    text = _ALL.sub(lambda _: fill(arguments), text)
    if not filled and arguments:
        text += "\n\nARGUMENTS: " + fill(arguments)
    return text.replace(_LITERAL_DOLLAR, "$").replace(_VALUE_EDGE, "")


def _unmark(text: str) -> str:
    return text.replace(_LITERAL_DOLLAR, "\ufffd").replace(_VALUE_EDGE, "\ufffd")


def _defuse(value: str) -> str:
    """A value as Claude Code fills it in: no `!` in it can start a shell command."""
    return _BANG.sub(r"\1\\!", value.replace("`!", "` !").replace("!`", "! `"))


# --- The shell-word reading, for the part of shell syntax that is modelled.

_BLANK = " \t"
_COMMAND_END = "\n;&|"
_UNMODELLED = frozenset("()<>{}\r\v\f")
# Shell keywords: as the first word they make no simple command.
_KEYWORDS = frozenset({
    "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until",
    "do", "done", "in", "function", "coproc", "{", "}", "[[", "]]", "!",
})  # fmt: skip
_DECLARATIONS = frozenset({"export", "declare", "typeset", "readonly", "local"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
_EXPANSION = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|[0-9?$!#*@-]|\{[^{}]*\})")
# Line terminators JavaScript's `.` does not match: a backslash before one stays.
_UNESCAPABLE = "\r\u2028\u2029"


def shell_words(text: str) -> list[str] | None:
    """The words of the first command in `text`, as Claude Code's shell parse gives them;
    None for syntax this module does not model.

    Modelled: words of plain characters, single quotes (their text as is), double quotes
    (quotes removed, backslashes inside kept), a backslash escaping the character after it,
    words run together; blanks separate words, and an unquoted newline, `;`, `&`, `|`, a
    word starting with `#` or a word holding a command substitution (`` ` `` or `$(`) ends
    the command: nothing from there on counts. `NAME=value` words before the first word are
    skipped, a later word that is only `$NAME` or `${...}` is dropped, and after `export`,
    `declare`, `typeset`, `readonly` or `local` nothing counts. Not modelled: unbalanced
    quotes, a backslash ending the text, `(`, `)`, `<`, `>`, `{`, `}`, `$'`, a command
    substitution in the first word or inside double quotes, a bare carriage return, a
    shell keyword as the first word.
    """
    words: list[str] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char in _BLANK:
            at += 1
            continue
        if text.startswith("\\\n", at):  # a line continuation also separates words
            at += 2
            continue
        if char in _COMMAND_END or char == "#":
            break
        read = _read_word(text, at)
        if read is None:
            return None
        if read is _SUBSTITUTION:  # the parse keeps the words before it, and no more
            return words or None
        source, value, at = read
        if not words:
            if _ASSIGNMENT.match(source):
                continue
            if source in _KEYWORDS:
                return None
            if source in _DECLARATIONS:
                return [source]
        elif _EXPANSION.fullmatch(source):
            continue
        words.append(value)
    return words


_SUBSTITUTION = ("", "", 0)


def _read_word(text: str, start: int) -> tuple[str, str, int] | None:
    """(source, value, end) of the word at `start`; `_SUBSTITUTION` when an unquoted
    command substitution (`` `...` `` or `$(...)`) is in it; None where it leaves the
    model."""
    value: list[str] = []
    at = start
    while at < len(text) and text[at] not in _BLANK and text[at] not in _COMMAND_END:
        char = text[at]
        if char in _UNMODELLED:
            return None
        if char == "`" or text.startswith("$(", at):
            return _SUBSTITUTION
        if char == "'":
            end = text.find("'", at + 1)
            if end < 0:
                return None
            value.append(text[at + 1 : end])
            at = end + 1
        elif char == '"':
            closing = _closing_quote(text, at + 1)
            if closing is None:
                return None
            value.append(text[at + 1 : closing])
            at = closing + 1
        elif char == "\\":
            if at + 1 >= len(text):
                return None
            if text[at + 1] == "\n":
                break
            escaped = text[at + 1]
            value.append(f"\\{escaped}" if escaped in _UNESCAPABLE else escaped)
            at += 2
        elif char == "$":
            expansion = _EXPANSION.match(text, at)
            if expansion is None:
                return None
            value.append(expansion[0])
            at = expansion.end()
        else:
            value.append(char)
            at += 1
    return text[start:at], "".join(value), at


def _closing_quote(text: str, at: int) -> int | None:
    """Where the double-quoted string going on at `at` ends; None if it does not, or if it
    holds a command substitution."""
    while at < len(text):
        char = text[at]
        if char == "\\":
            at += 2
        elif char == '"':
            return at
        elif char == "`" or text.startswith("$(", at):
            return None
        else:
            at += 1
    return None


_BARE = re.compile(r"[A-Za-z0-9_@%+:,./-]+")
_RESERVED = _KEYWORDS | _DECLARATIONS


def quote_argument(value: str) -> str:
    """`value` written so that Claude Code reads it back as one whole argument: as it is
    when it is a plain word, else in single quotes (`'` itself as `'"'"'`)."""
    if _BARE.fullmatch(value) and value not in _RESERVED:
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def quote_arguments(values: Sequence[str]) -> str:
    """The argument text after `/name` that gives back exactly `values` as `$0`, `$1`, ...
    (up to `PARSED_LIMIT` characters in all: beyond, Claude Code splits at whitespace)."""
    return " ".join(map(quote_argument, values))
