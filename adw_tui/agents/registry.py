"""Engines by name, built from the settings."""

import os
from collections.abc import Mapping

from adw_tui.agents import ENGINE_NAMES
from adw_tui.agents.claude_code import ClaudeCodeEngine, SimulatedClaudeEngine
from adw_tui.agents.engine import Engine
from adw_tui.config import Settings
from adw_tui.domain.errors import AdwError


def engine_for(name: str, settings: Settings, env: Mapping[str, str] | None = None) -> Engine:
    """The engine called `name`; `env` adds to (or overrides) this process's environment
    before the allow-list picks what the agent sees."""
    environ = {**os.environ, **env} if env else None
    if name == "claude":
        return ClaudeCodeEngine(
            permission_mode=settings.claude_permission_mode,
            extra_env=settings.agent_env,
            environ=environ,
            kill_grace_s=settings.kill_grace,
        )
    if name == "sim":
        return SimulatedClaudeEngine(
            extra_env=settings.agent_env, environ=environ, kill_grace_s=settings.kill_grace
        )
    raise AdwError(f"unknown engine {name!r}: choose one of {', '.join(ENGINE_NAMES)}")
