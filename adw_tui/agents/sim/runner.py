"""One run, start to end: the init line, faults, the command, the result, the exit code."""

import json
import os
from pathlib import Path

from adw_tui.agents.sim.commands import COMMANDS, CommandError, Context
from adw_tui.agents.sim.faults import EXIT_CRASH, FailOnceLedger, inject, parse_faults, select_fault
from adw_tui.agents.sim.invocation import Invocation, Knobs
from adw_tui.agents.sim.output import Sink, make_sink
from adw_tui.agents.sim.prompt import ArgumentError, CommandCall, parse_prompt
from adw_tui.agents.sim.replies import custom_commands, free_form_reply, template_reply
from adw_tui.agents.sim.session import MaxTurnsReached, Session
from adw_tui.agents.sim.stream import Message, Outcome, init_message
from adw_tui.agents.sim.tools import Toolbox


def mcp_servers(config: str | None) -> list[Message]:
    """The servers an `--mcp-config` file declares, all reported connected."""
    if not config:
        return []
    try:
        data = json.loads(Path(config).read_text(encoding="utf-8"))
        servers = data.get("mcpServers", {})
    except (OSError, ValueError, AttributeError):
        return []
    return [{"name": name, "status": "connected"} for name in sorted(servers)]


def _execute(session: Session, call: CommandCall | None) -> int:
    """Answer the prompt: a command, a repository template, or free-form text."""
    cwd = session.invocation.cwd
    if call is None:
        session.succeed(free_form_reply(session.invocation.prompt))
        return 0
    handler = COMMANDS.get(call.name)
    if handler is None:
        reply = template_reply(cwd, call)
        if reply is None:
            text = f"Unknown slash command: {call.name}"
            session.finish(Outcome(is_error=True, text=text), num_turns=0)
            return 1
        session.succeed(reply)
        return 0
    try:
        text = handler(Context(session, Toolbox(session, cwd), cwd), call.args)
    except (ArgumentError, CommandError) as error:
        session.say(f"I could not complete /{call.name}: {error}")
        session.fail_execution(f"/{call.name}: {error}")
        return 1
    session.succeed(text)
    return 0


def run(invocation: Invocation, knobs: Knobs, sink: Sink | None = None) -> int:
    """Emit one run's messages and return the process exit code."""
    sink = sink if sink is not None else make_sink(invocation.output_format)
    session = Session(invocation, knobs, sink)
    call = parse_prompt(invocation.prompt)
    command = call.name if call else ""
    session.emit(
        lambda env: init_message(
            env,
            cwd=invocation.cwd,
            model=invocation.model,
            permission_mode=invocation.permission_mode,
            custom_commands=custom_commands(invocation.cwd),
            mcp_servers=mcp_servers(invocation.mcp_config),
            home=os.environ.get("HOME", ""),
        )
    )
    try:
        fault = select_fault(parse_faults(knobs.faults), command, invocation.model)
        stopped = (
            inject(fault, session, command=command, ledger=FailOnceLedger(knobs.state_dir))
            if fault
            else None
        )
        if stopped == EXIT_CRASH:
            return stopped
        code = _execute(session, call) if stopped is None else stopped
    except MaxTurnsReached:
        session.fail_max_turns()
        code = 1
    sink.close()
    return code
