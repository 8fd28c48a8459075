"""Reading a prompt: which slash command it names, and its arguments.

Two forms name a command: `/name args...` as the first token, and a template Claude Code
expanded itself, which carries `<command-name>/name</command-name>` and
`<command-args>...</command-args>`. Anything else is a free-form prompt.
"""

import json
import re
from dataclasses import dataclass
from typing import Any

from adw_tui.domain.command_templates import shell_words, trim

_SLASH = re.compile(r"\A\s*/(?P<name>[A-Za-z0-9_][A-Za-z0-9_:.-]*)(?:\s+(?P<args>.*))?\Z", re.S)
_TAG_NAME = re.compile(r"<command-name>\s*/?(?P<name>[^<\s]+)\s*</command-name>")
_TAG_ARGS = re.compile(r"<command-args>(?P<args>.*?)</command-args>", re.S)


@dataclass(frozen=True)
class CommandCall:
    name: str
    args: str


def parse_prompt(prompt: str) -> CommandCall | None:
    """The command a prompt names, or None for a free-form prompt."""
    tagged = _TAG_NAME.search(prompt)
    if tagged:
        args = _TAG_ARGS.search(prompt)
        return CommandCall(tagged["name"], trim(args["args"]) if args else "")
    slash = _SLASH.match(prompt)
    if slash:
        return CommandCall(slash["name"], trim(slash["args"] or ""))
    return None


class ArgumentError(ValueError):
    """A command's arguments are missing or malformed."""


@dataclass(frozen=True)
class JsonArgs:
    """Arguments around one embedded JSON object: `before... {json} after...`."""

    before: list[str]
    value: dict[str, Any]
    after: list[str]


def split_json_args(args: str, *, what: str) -> JsonArgs:
    """Split `args` at their first JSON object: one inside a quoted argument (adw quotes
    what is no plain word: `'{"number":7}'`), else the first one written bare, which may
    hold spaces (`/classify_issue {"number": 7}`)."""
    words = split_words(args)
    for index, word in enumerate(words):
        value = _first_object(word)
        if value is not None:
            return JsonArgs(words[:index], value, words[index + 1 :])
    start = args.find("{")
    if start < 0:
        raise ArgumentError(f"expected {what} as a JSON object in the arguments")
    try:
        value, end = json.JSONDecoder().raw_decode(args, start)
    except json.JSONDecodeError as error:
        raise ArgumentError(f"{what} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ArgumentError(f"{what} must be a JSON object")
    return JsonArgs(args[:start].split(), value, args[end:].split())


def _first_object(word: str) -> dict[str, Any] | None:
    """The JSON object starting at `word`'s first `{` (as in `[{...}]`), if it is one."""
    start = word.find("{")
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(word, start)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def split_words(args: str) -> list[str]:
    """The arguments as Claude Code reads its positional ones (quotes group words), but
    with no length limit; text outside the shell syntax it models splits at whitespace."""
    return shell_words(args) or args.split()
