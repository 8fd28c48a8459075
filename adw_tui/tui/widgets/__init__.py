"""Reusable widgets of the dashboard (each with its own DEFAULT_CSS)."""

from adw_tui.tui.widgets.agent_pane import AgentPane

__all__ = ["AgentPane"]
