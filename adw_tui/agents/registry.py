"""The engines adw can drive, as a table: name -> how to build it from the settings, the
parser of its transcript lines, how a person resumes one of its sessions, and what it
is. Adding an engine is its module (the engine and its stream parser) and one entry
here."""

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from adw_tui.agents.claude_code import ClaudeCodeEngine, SimulatedClaudeEngine
from adw_tui.agents.claude_stream import ClaudeStreamParser
from adw_tui.agents.engine import Engine, StreamParser
from adw_tui.agents.names import ENGINE_NAMES as ENGINE_NAMES  # re-exported
from adw_tui.config import Settings
from adw_tui.domain.errors import AdwError

Environ = Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class EngineEntry:
    name: str
    description: str
    build: Callable[[Settings, Environ], Engine]
    """The engine, from the settings and the environment its agent starts from."""
    parser: Callable[[str | None], StreamParser]
    """A parser for the lines of a transcript this engine wrote; the argument is the
    agent's working directory, left out of the paths shown in tool calls."""
    resume: Callable[[Settings, Environ, str], "Interactive"] | str
    """How a person takes over one of its sessions (`adw attach`): the interactive
    command resuming a session id; or, for an engine without an interactive mode, why
    not (a sentence saying what to do instead)."""


@dataclass(frozen=True, slots=True)
class Interactive:
    """An engine's interactive session: its command line and the environment it gets
    (the allow-listed one its agents get)."""

    argv: list[str]
    env: dict[str, str]


def _claude(settings: Settings, environ: Environ) -> Engine:
    return ClaudeCodeEngine(
        permission_mode=settings.claude_permission_mode,
        extra_env=settings.agent_env,
        environ=environ,
        kill_grace_s=settings.kill_grace,
    )


class _Resumable(Protocol):
    """An engine whose CLI has an interactive mode that resumes a session."""

    def check_installed(self) -> str | None: ...
    def interactive_resume(self, session_id: str) -> list[str]: ...
    def environment(self) -> dict[str, str]: ...


def _interactive(engine: _Resumable, session_id: str) -> Interactive:
    problem = engine.check_installed()
    if problem is not None:
        raise AdwError(problem)
    return Interactive(engine.interactive_resume(session_id), engine.environment())


def _claude_resume(settings: Settings, environ: Environ, session_id: str) -> Interactive:
    return _interactive(ClaudeCodeEngine(extra_env=settings.agent_env, environ=environ), session_id)


def _sim(settings: Settings, environ: Environ) -> Engine:
    return SimulatedClaudeEngine(
        extra_env=settings.agent_env, environ=environ, kill_grace_s=settings.kill_grace
    )


class _ResumableEngine(Engine, _Resumable, Protocol):
    """An engine a person can also take a session of over."""


class _CliEngine(Protocol):
    """The constructor of an engine that prices its tokens from the settings' table."""

    def __call__(
        self,
        *,
        prices: Mapping[str, tuple[float, float]] | None = None,
        extra_env: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
        kill_grace_s: float = 5.0,
    ) -> "_ResumableEngine": ...


def _priced(make: _CliEngine) -> Callable[[Settings, Environ], Engine]:
    """How the registry builds such an engine from the settings."""

    def build(settings: Settings, environ: Environ) -> Engine:
        return make(
            prices=settings.price_table(),
            extra_env=settings.agent_env,
            environ=environ,
            kill_grace_s=settings.kill_grace,
        )

    return build


def _resumed(make: _CliEngine) -> Callable[[Settings, Environ, str], Interactive]:
    def resume(settings: Settings, environ: Environ, session_id: str) -> Interactive:
        return _interactive(make(extra_env=settings.agent_env, environ=environ), session_id)

    return resume


def _imported(module: str, name: str) -> Callable[..., Any]:
    """`adw_tui.agents.<module>.<name>`, imported when first called: a command imports the
    engine it runs (Claude Code's and the sim's above), not every engine."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(f"adw_tui.agents.{module}"), name)(*args, **kwargs)

    return call


_CodexEngine = _imported("codex", "CodexEngine")
_GeminiEngine = _imported("gemini", "GeminiEngine")
_OpenCodeEngine = _imported("opencode", "OpenCodeEngine")


def _codex(settings: Settings, environ: Environ) -> Engine:
    engine: Engine = _CodexEngine(
        sandbox=settings.codex_sandbox,
        prices=settings.price_table(),
        extra_env=settings.agent_env,
        environ=environ,
        kill_grace_s=settings.kill_grace,
    )
    return engine


ENGINES: dict[str, EngineEntry] = {
    entry.name: entry
    for entry in (
        EngineEntry(
            "claude",
            "Claude Code (`claude -p`, stream-json)",
            _claude,
            ClaudeStreamParser,
            _claude_resume,
        ),
        EngineEntry(
            "sim",
            "the simulated agent: Claude Code's stream, no model",
            _sim,
            ClaudeStreamParser,
            "the simulated agent has no interactive mode (its sessions exist only in its "
            "transcripts): open a shell in the run's worktree instead (`s`, `adw shell`)",
        ),
        EngineEntry(
            "codex",
            "OpenAI Codex (`codex exec --json`; cost estimated from the price table)",
            _codex,
            _imported("codex", "CodexStreamParser"),
            _resumed(_CodexEngine),
        ),
        EngineEntry(
            "gemini",
            "Gemini CLI (`gemini -p`, stream-json; cost estimated from the price table)",
            _priced(_GeminiEngine),
            _imported("gemini_stream", "GeminiStreamParser"),
            _resumed(_GeminiEngine),
        ),
        EngineEntry(
            "opencode",
            "OpenCode (`opencode run`, JSON events; its cost, else estimated)",
            _priced(_OpenCodeEngine),
            _imported("opencode", "OpenCodeStreamParser"),
            _resumed(_OpenCodeEngine),
        ),
    )
}
if tuple(ENGINES) != ENGINE_NAMES:  # not an assert: it must hold under `python -O` too
    raise RuntimeError(f"adw_tui.agents.names lists {ENGINE_NAMES}, the registry {tuple(ENGINES)}")
# Attempts recorded before engines were named wrote Claude Code's stream.
DEFAULT_TRANSCRIPT_ENGINE = "claude"


def engine_for(name: str, settings: Settings, env: Mapping[str, str] | None = None) -> Engine:
    """The engine called `name`; `env` adds to (or overrides) this process's environment
    before the allow-list picks what the agent sees."""
    environ = {**os.environ, **env} if env else None
    return _entry(name).build(settings, environ)


def parser_for(engine: str | None, cwd: str | None = None) -> StreamParser:
    """A parser for a transcript the engine called `engine` wrote (None: an attempt from
    before the engine was recorded)."""
    return _entry(engine or DEFAULT_TRANSCRIPT_ENGINE).parser(cwd)


def interactive_resume(
    name: str, settings: Settings, session_id: str, env: Mapping[str, str] | None = None
) -> Interactive:
    """The interactive command of engine `name` resuming `session_id` (see `engine_for`
    for `env`); an AdwError naming the engine when it has no interactive mode."""
    entry = _entry(name)
    if isinstance(entry.resume, str):
        raise AdwError(f"engine {name}: {entry.resume}")
    return entry.resume(settings, {**os.environ, **env} if env else None, session_id)


def _entry(name: str) -> EngineEntry:
    entry = ENGINES.get(name)
    if entry is None:
        raise AdwError(f"unknown engine {name!r}: choose one of {', '.join(ENGINE_NAMES)}")
    return entry
