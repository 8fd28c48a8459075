"""Command line of the simulated agent: the flags of `claude -p`, tolerant of the rest."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from adw_tui.agents.sim.invocation import CLI_VERSION, Invocation, Knobs, resolve_model
from adw_tui.agents.sim.runner import run

OUTPUT_FORMATS = ("text", "json", "stream-json")


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


def _fail(message: str) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    args, _unknown = build_parser().parse_known_args(argv)
    if args.version:
        print(f"{CLI_VERSION} (Claude Code, simulated)")
        return 0
    prompt = args.print_prompt or args.prompt
    if not prompt:
        return _fail("Input must be provided through the --print argument (-p PROMPT).")
    if args.output_format not in OUTPUT_FORMATS:
        return _fail(f"Invalid output format {args.output_format!r}.")
    if args.output_format == "stream-json" and not args.verbose:
        # The real CLI refuses this combination; so do we, to catch callers that forget.
        return _fail("When using --print, --output-format=stream-json requires --verbose")
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
