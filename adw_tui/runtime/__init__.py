"""The orchestrator: run lifecycle, resources, worktrees, resilience and live events."""
