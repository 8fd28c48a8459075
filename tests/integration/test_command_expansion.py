"""adw expands slash-command templates exactly as the real Claude Code does.

One `claude` process (stream-json input, one user message per case) is sent `/name
arguments` for a set of templates in `.claude/commands/` and argument texts; the loopback
model server records what each turn's user message holds: Claude Code's
`<command-message>` / `<command-name>` / `<command-args>` lines and the expanded template.
Each must equal adw's own expansion (`command_markers` + `expand`), for argument texts
typed by hand and for the ones adw writes for its steps (`quote_arguments`), whose
positional arguments must come back as the values adw passed.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from adw_tui.domain.command_templates import PARSED_LIMIT, expand, quote_arguments, trim
from adw_tui.workflows.templates import command_markers
from tests.fake_anthropic import FakeAnthropic, has_tools
from tests.integration.conftest import CLAUDE_MODEL, offline_env, run_process

PLACES = " ".join(f"p{n}=[${n}]" for n in range(12))
TEMPLATES = {
    "all": f"all=[$ARGUMENTS] a0=[$ARGUMENTS[0]] a1=[$ARGUMENTS[1]] a9=[$ARGUMENTS[9]] {PLACES}\n",
    "edge": (
        "x=[$ARGUMENTSX] ax=[$ARGUMENTS[x]] e=[\\$1] ee=[\\\\$1] ea=[\\$ARGUMENTS] 1a=[$1a] "
        "1_=[$1_] 01=[$01] a01=[$ARGUMENTS[01]] dd=[$$1] d=[$] f=[$foo] s=[${X}] m=[\uffff]\n"
    ),
    "plain": "Do the thing.\n",
    "unknown": "Only $7 and $ARGUMENTS[7] here.\n",
    "front": "---\ndescription: Front matter\nargument-hint: [a] [b]\n---\n\n\nBody $0, $1.\n\n",
    "inline": "---\ndescription: a---b\n---\nafter $0\n",
    "only": "---\ndescription: nothing else\n---\n",
    "crlf": "---\r\ndescription: d\r\n---\r\nCRLF $0\r\nend\r\n",
    "open": "---\nnever closed $0\n",
    "lead": "\n\nLead $0\n",
    "team:check": "Namespaced $ARGUMENTS\n",
}
ISSUE = {"number": 7, "title": "Don't crash", "body": 'Say "hi"!\nThen: `x` & <y>\t!z'}
TYPED = [
    ("all", "a b 'c d'"),
    ("all", ""),
    ("all", "  spaced   out \n"),
    ("all", 'a "b c" d \\"e'),
    ("all", 'a"b c"d e\\ f'),
    ("all", "'line1\nline2' b"),
    ("all", "'' b ''"),
    ("all", "FOO=bar x y"),
    ("all", "export x y"),
    ("all", "a $X ${Y} b"),
    ("all", "$HOME x"),
    ("all", "a b\nc d"),
    ("all", "a;b c"),
    ("all", "a | b"),
    ("all", "a b#c #d e"),
    ("all", "a\\\nb c"),
    ("all", "wow! !bang x!y `!z`"),
    ("all", "'$1' '$ARGUMENTS' '$ARGUMENTS[0]'"),
    ("all", "p\ufffeq \u00fcn\u00ef \u2018q\u2019 a\u00a0b"),
    ("all", '7 abc {"number":7,"title":"Add a greeting helper"}'),
    ("all", "'a b' " + "c" * (PARSED_LIMIT - 6)),
    ("all", "'a b' " + "c" * (PARSED_LIMIT - 5)),
    ("edge", "a b c d e f g h i j k"),
    ("plain", "x y"),
    ("plain", ""),
    ("unknown", "p q"),
    ("front", "p q"),
    ("inline", "p"),
    ("only", "p"),
    ("crlf", "p"),
    ("open", "p"),
    ("lead", "p"),
    ("team:check", "x 'y z'"),
]
# What adw's steps pass: each value must come back whole as $0, $1, ...
VALUES = [
    ["7", "c0ffee01", json.dumps(ISSUE, separators=(",", ":"))],
    ["if", "export", "FOO=bar", "", "a'b", "$HOME", "!x", "tab\there", "cr\r\nlf", "#x", "{b}"],
    ["/feature", "specs/a b.md", "`ls`", "a;b", "x|y", "(z)", "<w>"],
]


def _expansion(body: dict[str, Any]) -> str:
    """The markers and the expanded template in a turn's user message, as one text."""
    blocks = body["messages"][-1]["content"]
    texts = [block["text"] for block in blocks if block.get("type") == "text"]
    start = next(i for i, text in enumerate(texts) if text.startswith("<command-message>"))
    return "".join(texts[start : start + 2])


def _claude_expansions(claude: Path, repo: Path, home: Path, prompts: list[str]) -> list[str]:
    """What the real CLI made of each prompt, in order, from one process."""
    commands = repo / ".claude" / "commands"
    for name, text in TEMPLATES.items():
        path = commands.joinpath(*name.split(":")).with_suffix(".md")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    messages = [{"type": "user", "message": {"role": "user", "content": p}} for p in prompts]
    argv = [
        str(claude),
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        "--dangerously-skip-permissions",
        "--model",
        CLAUDE_MODEL,
    ]
    with FakeAnthropic() as api:
        run = run_process(
            argv,
            cwd=repo,
            env=offline_env(api.base_url, home),
            timeout=60,
            stdin="".join(json.dumps(m) + "\n" for m in messages),
        )
        turns = [body for body in api.requests if has_tools(body)]
    assert run.returncode == 0, run.describe()
    assert len(turns) == len(prompts), run.describe()
    return [_expansion(turn) for turn in turns]


@pytest.fixture(scope="module")
def expansions(claude_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Claude Code's expansion of every prompt the tests below ask about."""
    root = tmp_path_factory.mktemp("expansion")
    repo, home = root / "repo", root / "home"
    repo.mkdir()
    home.mkdir()
    run_process(["git", "init", "-q", str(repo)], cwd=root, env={"PATH": "/usr/bin:/bin"})
    prompts = [_prompt(name, text) for name, text in TYPED]
    prompts += [_prompt("all", quote_arguments(values)) for values in VALUES]
    return dict(zip(prompts, _claude_expansions(claude_bin, repo, home, prompts), strict=True))


def _prompt(name: str, arguments: str) -> str:
    return f"/{name} {arguments}" if arguments else f"/{name}"


@pytest.mark.parametrize(("name", "arguments"), TYPED)
def test_typed_arguments_expand_as_claude_code_expands_them(
    expansions: dict[str, str], name: str, arguments: str
) -> None:
    typed = trim(arguments)
    ours = command_markers(name, typed) + expand(TEMPLATES[name], typed)
    assert ours == expansions[_prompt(name, arguments)]


@pytest.mark.parametrize("values", VALUES)
def test_adw_quoted_values_come_back_whole(expansions: dict[str, str], values: list[str]) -> None:
    """Claude Code fills in exactly the values adw quoted: the same text as adw's
    expansion with those values, which is also adw's reading of the quoted text."""
    arguments = quote_arguments(values)
    markers = command_markers("all", arguments)
    theirs = expansions[_prompt("all", arguments)]
    assert markers + expand(TEMPLATES["all"], arguments, values) == theirs
    assert markers + expand(TEMPLATES["all"], arguments) == theirs
