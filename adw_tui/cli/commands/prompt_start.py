"""`adw prompt`'s head start: its agent is started before adw imports the rest of itself.

An agent CLI takes a while to start (an interpreter and its modules), and so does adw
(asyncio, pydantic and the settings' validation, rich). Started first, the agent boots
while adw imports, on another core. Only what its command line and environment need is
read here, from the settings' sources as they are and with the standard library alone.
`run_prompt` takes the process over only when the validated settings give the very same
command line, environment and working directory; otherwise (or on a bad setting, or any
error) it is ended and the call starts as usual. The agent gets its prompt, on stdin,
only once taken over: one that is ended has been given nothing to do.

Claude Code waits 3 s for the first byte of its stdin, then goes on without it (and
fails). On a machine so loaded that adw's imports take longer than `HANDOVER_S`, the
head start is ended by a timer and the call starts as usual.
"""

import argparse
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adw_tui.agents.claude_code import ClaudeCodeEngine, SimulatedClaudeEngine
from adw_tui.agents.spawn import end_spawned, spawn_agent
from adw_tui.cli.repository import find_repo
from adw_tui.config_sources import source_values
from adw_tui.domain.errors import AdwError
from adw_tui.domain.model_sets import engine_model_set

HANDOVER_S = 2.0
"""How long a head start waits to be taken over (and its agent for its prompt)."""
# The settings the command lines below are made of, and those of them that hold JSON.
_NAMES = ("agent_env", "claude_permission_mode", "engine_models")
_JSON_NAMES = ("agent_env", "engine_models")


def _claude(permission_mode: str | None, extra_env: list[str]) -> ClaudeCodeEngine:
    return ClaudeCodeEngine(permission_mode=permission_mode, extra_env=extra_env)


def _sim(_permission_mode: str | None, extra_env: list[str]) -> ClaudeCodeEngine:
    return SimulatedClaudeEngine(extra_env=extra_env)


# The engines that take their prompt on stdin, and so wait for it once started.
_ENGINES: dict[str, Callable[[str | None, list[str]], ClaudeCodeEngine]] = {
    "claude": _claude,
    "sim": _sim,
}


class EarlyAgent:
    """An agent process started ahead of its call, with what it was started with; ended
    unless taken within `handover_s`.

    A plain class, not a dataclass: `dataclasses` imports `inspect` (some 15 ms), all
    before the agent could start."""

    def __init__(
        self,
        argv: list[str],
        cwd: Path,
        env: dict[str, str],
        process: "subprocess.Popen[bytes] | None",
        handover_s: float = HANDOVER_S,
    ) -> None:
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.process = process
        self.taken = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(handover_s, self.discard)
        self._timer.daemon = True
        self._timer.start()

    def take(
        self, argv: list[str], cwd: Path, env: dict[str, str]
    ) -> "subprocess.Popen[bytes] | None":
        """The process, now the caller's, when it is what `argv`, `cwd` and `env` would
        start and it has not been ended; else None (and it is ended)."""
        if (argv, cwd, env) != (self.argv, self.cwd, self.env):
            self.discard()
        with self._lock:
            self._timer.cancel()
            process, self.process = self.process, None
        self.taken = process is not None
        return process

    def discard(self) -> None:
        """End the process (its whole group) unless it was taken; safe to call twice."""
        with self._lock:
            self._timer.cancel()
            process, self.process = self.process, None
        if process is not None:
            end_spawned(process)


def start_agent(args: argparse.Namespace) -> EarlyAgent | None:
    """The agent of `adw prompt` with `args`, started; None when it is left to the usual
    start (an engine that does not wait for its prompt, settings this reading cannot
    use, a CLI that is not installed, a working directory that is not there, or any
    error: the head start only saves time, and the usual start reports errors properly)."""
    try:
        return _start_agent(args)
    except Exception:
        return None


def _start_agent(args: argparse.Namespace) -> EarlyAgent | None:
    make = _ENGINES.get(args.engine)
    if make is None:
        return None
    here = Path.cwd()
    cwd = (args.cwd or here).expanduser().resolve()
    if not cwd.is_dir():
        return None
    values = _settings(args.repo, here)
    if values is None:
        return None
    permission_mode, extra_env, models = values
    engine = make(permission_mode, extra_env)
    if engine.check_installed() is not None:
        return None
    model = args.model or engine_model_set(args.engine, models)["base"]
    if not isinstance(model, str):
        return None
    argv = engine.command_line(
        model=model, cwd=cwd, max_turns=args.max_turns, resume_session_id=args.resume
    )
    env = engine.environment()
    try:
        process = spawn_agent(argv, cwd=cwd, env=env, stdin=True)
    except OSError:
        return None
    return EarlyAgent(argv, cwd, env, process)


def _settings(
    repo_option: Path | None, here: Path
) -> tuple[str | None, list[str], dict[str, Any]] | None:
    """(claude_permission_mode, agent_env, engine_models) as the sources give them, or
    None when they are not of those types (validation will say what is wrong)."""
    try:
        values = source_values(_likely_repo(repo_option, here), os.environ, _NAMES, _JSON_NAMES)
    except (OSError, ValueError):  # tomllib's TOMLDecodeError is a ValueError
        return None
    permission_mode = values.get("claude_permission_mode")
    extra_env = values.get("agent_env", [])
    models = values.get("engine_models", {})
    if not (permission_mode is None or isinstance(permission_mode, str)):
        return None
    if not (isinstance(extra_env, list) and all(isinstance(name, str) for name in extra_env)):
        return None
    if not (isinstance(models, dict) and all(isinstance(m, dict) for m in models.values())):
        return None
    return permission_mode, extra_env, models


def _likely_repo(repo_option: Path | None, here: Path) -> Path | None:
    """The repository `find_repo` will name, found without running git (which would take
    its few milliseconds before the agent starts): `--repo`, else the nearest directory
    from `here` up that holds a `.git`. A wrong guess costs the head start alone: settings
    read from another repository give another command line, which is not taken over."""
    if repo_option is not None:
        try:
            return find_repo(repo_option, here)
        except AdwError:
            return None
    return next((folder for folder in (here, *here.parents) if (folder / ".git").exists()), None)
