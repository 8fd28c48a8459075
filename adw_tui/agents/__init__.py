"""Execution engines: one module per agent CLI, turning its stream into AgentEvents; the
table of them is `adw_tui.agents.registry`."""
