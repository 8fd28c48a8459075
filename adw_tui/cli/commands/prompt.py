"""`adw prompt`: one agent call, shown live (the original ADW's adw_prompt.py and
adw_slash_command.py)."""

import argparse
import subprocess
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING

from adw_tui.agents.claude_code import ClaudeCodeEngine
from adw_tui.agents.engine import Engine
from adw_tui.agents.registry import engine_for
from adw_tui.agents.spawn import end_spawned, give_prompt
from adw_tui.cli.commands.prompt_start import EarlyAgent
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import print_json
from adw_tui.domain.agent import AgentEvent, AgentRequest, AgentResult
from adw_tui.domain.errors import AdwError
from adw_tui.domain.ids import new_adw_id

if TYPE_CHECKING:
    from adw_tui.cli.transcript import TranscriptPrinter


def run_prompt(args: argparse.Namespace, context: CliContext) -> int:
    """A plain function, which runs its own event loop: the agent `main` started ahead
    gets its prompt before asyncio is imported."""
    request = _request(args, context)
    engine = engine_for(args.engine, context.settings)
    spawned = _head_start(context, engine, request)
    try:
        import asyncio

        return asyncio.run(_call(args, engine, request, spawned))
    finally:
        # Taken over and given its prompt: ended here if the call stopped (an error, a
        # Ctrl-C) before its runner took charge of it, which ends and reaps it otherwise.
        if spawned is not None and spawned.poll() is None:
            end_spawned(spawned)


def _request(args: argparse.Namespace, context: CliContext) -> AgentRequest:
    cwd = (args.cwd or context.cwd).expanduser().resolve()
    if not cwd.is_dir():
        raise AdwError(f"--cwd {args.cwd}: no such directory")
    return AgentRequest(
        prompt=args.text,
        adw_id=new_adw_id(),
        agent_name=args.agent_name,
        model=args.model or context.settings.model_set(args.engine)["base"],
        cwd=cwd,
        output_dir=_output_root(context, cwd),
        timeout_s=args.timeout or context.settings.agent_timeout,
        idle_timeout_s=args.idle_timeout or context.settings.agent_idle_timeout,
        resume_session_id=args.resume,
        max_turns=args.max_turns,
    )


async def _call(
    args: argparse.Namespace,
    engine: Engine,
    request: AgentRequest,
    spawned: "subprocess.Popen[bytes] | None",
) -> int:
    printer: TranscriptPrinter | None = None
    result: AgentResult | None = None

    def started(_pid: int) -> None:
        nonlocal printer
        printer = _printer(to_stderr=args.json)

    stream = (
        engine.run(request, on_start=started, spawned=spawned)
        if isinstance(engine, ClaudeCodeEngine)
        else engine.run(request, on_start=started)
    )
    async with aclosing(stream):
        async for item in stream:
            printer = printer or _printer(to_stderr=args.json)
            if isinstance(item, AgentEvent):
                printer.event(item)
            else:
                result = item
    if result is None:
        raise AdwError(f"the {engine.name} engine ended without a result")
    (printer or _printer(to_stderr=args.json)).result(result, str(request.run_dir))
    if args.json:
        print_json(result)
    return 0 if result.success else 1


def _head_start(
    context: CliContext, engine: Engine, request: AgentRequest
) -> "subprocess.Popen[bytes] | None":
    """The agent `main` started ahead (`prompt_start`), given its prompt, when it is this
    very call's."""
    early = context.head_start
    if not isinstance(early, EarlyAgent):
        return None
    if not isinstance(engine, ClaudeCodeEngine):
        early.discard()
        return None
    spawned = early.take(engine.command(request), request.cwd, engine.environment())
    if spawned is not None:
        give_prompt(spawned, request.prompt.encode())
    return spawned


def _printer(*, to_stderr: bool) -> "TranscriptPrinter":
    """The terminal's printer, made once the agent process exists: rich is imported then,
    while the agent starts up, rather than before it could start."""
    from adw_tui.cli.output import console, error_console
    from adw_tui.cli.transcript import TranscriptPrinter

    return TranscriptPrinter(error_console if to_stderr else console)


def _output_root(context: CliContext, cwd: Path) -> Path:
    """`<repo>/agents` for the target repository; `<cwd>/agents` outside of one."""
    try:
        return context.repo / "agents"
    except AdwError:
        return cwd / "agents"
