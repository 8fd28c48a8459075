"""Execution engines: one module per agent CLI, turning its stream into AgentEvents."""
