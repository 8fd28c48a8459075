"""Command line of the simulated agent: the flags of `claude -p`, tolerant of the rest."""

import argparse
import select
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from adw_tui.agents.sim.invocation import CLI_VERSION, Invocation, Knobs, resolve_model
from adw_tui.agents.sim.runner import run

OUTPUT_FORMATS = ("text", "json", "stream-json")
# How long the real CLI waits for the first byte on a stdin that is not a terminal.
STDIN_WAIT_S = 3.0
NO_STDIN_WARNING = (
    f"Warning: no stdin data received in {STDIN_WAIT_S:.0f}s, proceeding without it. If piping "
    "from a slow command, redirect stdin explicitly: < /dev/null to skip, or wait longer."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adw-sim",
        description="A deterministic stand-in for the `claude` CLI in print mode.",
        allow_abbrev=False,
    )
    parser.add_argument("-v", "--version", action="store_true")
    parser.add_argument("-p", "--print", dest="print_prompt", nargs="?", const="", default=None)
    parser.add_argument("prompt", nargs="?")
    parser.add_argument("--model")
    parser.add_argument("--output-format", default="text")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--dangerously-skip-permissions", action="store_true")
    parser.add_argument("--permission-mode")
    parser.add_argument("--max-turns", type=int)
    parser.add_argument("-r", "--resume")
    parser.add_argument("--mcp-config")
    parser.add_argument("--allowedTools", "--allowed-tools", dest="allowed_tools", nargs="*")
    # Known to take values, so their values are not mistaken for the prompt.
    for flag in (
        "--disallowedTools",
        "--disallowed-tools",
        "--add-dir",
    ):
        parser.add_argument(flag, nargs="*", help=argparse.SUPPRESS)
    for flag in (
        "--append-system-prompt",
        "--system-prompt",
        "--settings",
        "--session-id",
        "--fallback-model",
        "--input-format",
        "--max-budget-usd",
    ):
        parser.add_argument(flag, help=argparse.SUPPRESS)
    return parser


def read_stdin(stdin: BinaryIO | None, wait_s: float = STDIN_WAIT_S) -> str:
    """What Claude Code 2.1.328 takes from stdin: nothing from a terminal, else every byte
    to the end, exactly (no newline translation); a pipe with no data for `wait_s` is
    given up on with the real CLI's warning."""
    if stdin is None or stdin.isatty():
        return ""
    ready, _, _ = select.select([stdin], [], [], wait_s)
    if not ready:
        print(NO_STDIN_WARNING, file=sys.stderr)
        return ""
    return stdin.read().decode("utf-8", errors="replace")


def _fail(message: str) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args, _unknown = build_parser().parse_known_args(argv)
    if args.version:
        print(f"{CLI_VERSION} (Claude Code, simulated)")
        return 0
    if args.output_format not in OUTPUT_FORMATS:
        return _fail(f"Invalid output format {args.output_format!r}.")
    if args.output_format == "stream-json" and not args.verbose:
        # The real CLI refuses this combination; so do we, to catch callers that forget.
        return _fail("When using --print, --output-format=stream-json requires --verbose")
    # As the real CLI: the prompt argument and stdin, joined by a newline when both
    # have text; the engine sends the whole prompt on stdin.
    piped = read_stdin(sys.stdin.buffer if sys.stdin is not None else None)
    prompt = "\n".join(part for part in (args.print_prompt or args.prompt, piped) if part)
    if not prompt:
        return _fail(
            "Input must be provided either through stdin or as a prompt argument when using --print"
        )
    if args.dangerously_skip_permissions:
        permission_mode = "bypassPermissions"
    else:
        permission_mode = args.permission_mode or "default"
    invocation = Invocation(
        prompt=prompt,
        cwd=Path.cwd(),
        model=resolve_model(args.model),
        output_format=args.output_format,
        verbose=args.verbose,
        permission_mode=permission_mode,
        max_turns=args.max_turns,
        resume=args.resume,
        mcp_config=args.mcp_config,
        allowed_tools=tuple(args.allowed_tools or ()),
    )
    try:
        return run(invocation, Knobs.from_environ())
    except BrokenPipeError:
        # The reader went away (killed or closed the pipe): nothing left to tell it.
        return 1
