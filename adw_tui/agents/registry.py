"""Engines by name, built from the settings."""

from adw_tui.agents import ENGINE_NAMES
from adw_tui.agents.claude_code import ClaudeCodeEngine, SimulatedClaudeEngine
from adw_tui.agents.engine import Engine
from adw_tui.config import Settings
from adw_tui.domain.errors import AdwError


def engine_for(name: str, settings: Settings) -> Engine:
    if name == "claude":
        return ClaudeCodeEngine(
            permission_mode=settings.claude_permission_mode,
            extra_env=settings.agent_env,
            kill_grace_s=settings.kill_grace,
        )
    if name == "sim":
        return SimulatedClaudeEngine(extra_env=settings.agent_env, kill_grace_s=settings.kill_grace)
    raise AdwError(f"unknown engine {name!r}: choose one of {', '.join(ENGINE_NAMES)}")
