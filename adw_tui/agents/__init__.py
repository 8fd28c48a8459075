"""Execution engines: one module per agent CLI, turning its stream into AgentEvents."""

ENGINE_NAMES = ("claude", "sim")
