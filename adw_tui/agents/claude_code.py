"""The Claude Code engine, and the simulated agent that stands in for it.

Building one, its command line and its environment imports neither asyncio nor pydantic
(the stream's parser and the runner are imported by `run`): `adw prompt` starts its agent
before it imports them."""

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from adw_tui.agents.environment import agent_environment

if TYPE_CHECKING:
    from adw_tui.agents.engine import AgentStream, StartHook
    from adw_tui.domain.agent import AgentRequest

SKIP_PERMISSIONS = "--dangerously-skip-permissions"


class ClaudeCodeEngine:
    """`claude -p --output-format stream-json --verbose`, one process per call, with the
    prompt on its standard input.

    The prompt always goes through stdin, whatever its size, rather than as the argument
    of `-p`: Linux caps one argument at 128 KiB (and all of them with the environment at
    ARG_MAX), so an issue of a few hundred KB could never run; a size threshold would
    keep two ways of passing a prompt, the rarer one hardly ever exercised. `claude -p`
    with no prompt argument reads stdin to its end and takes it byte for byte as the
    prompt, a `/name args` slash command included (checked with Claude Code 2.1.328;
    tests/integration has the test). The prompt, often issue text, is then also kept
    out of `ps` and `/proc/<pid>/cmdline`.
    """

    name = "claude"
    resumes_sessions = True  # `--resume SESSION`
    expands_commands = True

    def __init__(
        self,
        *,
        binary: str | None = None,
        permission_mode: str | None = None,
        extra_env: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
        kill_grace_s: float = 5.0,
    ) -> None:
        """`permission_mode` None runs with --dangerously-skip-permissions, as the original
        ADW did; otherwise it is passed as --permission-mode. `extra_env` names (or
        `PREFIX_*` patterns) join the environment allow-list."""
        self._environ = os.environ if environ is None else environ
        self._binary = binary or self._environ.get("CLAUDE_CODE_PATH") or "claude"
        self._permission_mode = permission_mode
        self._extra_env = tuple(extra_env)
        self._kill_grace_s = kill_grace_s

    def executable(self) -> list[str]:
        return [self._binary]

    def check_installed(self) -> str | None:
        if shutil.which(self._binary, path=self._environ.get("PATH")) is not None:
            return None
        return (
            f"Claude Code CLI {self._binary!r} not found: install it with "
            "`npm install -g @anthropic-ai/claude-code`, set CLAUDE_CODE_PATH, "
            "or use --engine sim"
        )

    def environment(self) -> dict[str, str]:
        return agent_environment(self._environ, self._extra_env)

    def interactive_resume(self, session_id: str) -> list[str]:
        """The command line of Claude Code's own interactive session, resumed where the
        agent left `session_id`, for a person to go on with it (`adw attach`). No
        permission flag: the person answers its questions."""
        return [*self.executable(), "--resume", session_id]

    def command(self, request: "AgentRequest") -> list[str]:
        """The command line; the prompt is not on it (see the class docstring)."""
        return self.command_line(
            model=request.model,
            cwd=request.cwd,
            max_turns=request.max_turns,
            resume_session_id=request.resume_session_id,
        )

    def command_line(
        self, *, model: str, cwd: Path, max_turns: int | None, resume_session_id: str | None
    ) -> list[str]:
        """`command` of a request with these fields."""
        argv = [*self.executable(), "-p", "--model", model, "--output-format", "stream-json"]
        argv.append("--verbose")
        if self._permission_mode is None:
            argv.append(SKIP_PERMISSIONS)
        else:
            argv += ["--permission-mode", self._permission_mode]
        if max_turns is not None:
            argv += ["--max-turns", str(max_turns)]
        if resume_session_id:
            argv += ["--resume", resume_session_id]
        mcp_config = cwd / ".mcp.json"
        if mcp_config.is_file():
            argv += ["--mcp-config", str(mcp_config)]
        return argv

    def run(
        self,
        request: "AgentRequest",
        *,
        on_start: "StartHook | None" = None,
        spawned: "subprocess.Popen[bytes] | None" = None,
    ) -> "AgentStream":
        """`spawned`: this call's process, already started with `command(request)` and
        `environment()` and a stdin pipe (`adw prompt`'s head start)."""
        from adw_tui.agents.claude_stream import ClaudeStreamParser
        from adw_tui.agents.runner import run_cli_engine

        return run_cli_engine(
            self.check_installed(),
            request,
            self.command(request),
            self.environment(),
            ClaudeStreamParser(str(request.cwd)),
            stdin=request.prompt.encode(),
            kill_grace_s=self._kill_grace_s,
            on_start=on_start,
            spawned=spawned,
        )


class SimulatedClaudeEngine(ClaudeCodeEngine):
    """The simulated agent CLI (`python -m adw_tui.agents.sim`): same flags, same stream,
    no network. Its `ADW_SIM_*` knobs pass the environment allow-list."""

    name = "sim"

    def __init__(
        self,
        *,
        extra_env: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
        kill_grace_s: float = 5.0,
    ) -> None:
        super().__init__(
            binary=sys.executable,
            extra_env=("ADW_SIM_*", *extra_env),
            environ=environ,
            kill_grace_s=kill_grace_s,
        )

    def executable(self) -> list[str]:
        return [sys.executable, "-m", "adw_tui.agents.sim"]

    def check_installed(self) -> str | None:
        return None
