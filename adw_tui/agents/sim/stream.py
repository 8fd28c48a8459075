"""Builders of Claude Code's stream-json messages, field for field as the real CLI writes them.

The shapes are copied from real Claude Code 2.1.328 transcripts (see the reference folder
of the project). Each builder is pure: the caller supplies the envelope (session id, line
uuid, timestamp), so the same inputs always give the same line.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adw_tui.agents.sim.invocation import CLI_VERSION
from adw_tui.agents.sim.usage import Tally

Message = dict[str, Any]

TOOLS = [
    "Task", "Bash", "CronCreate", "CronDelete", "CronList", "Edit", "EnterWorktree",
    "ExitWorktree", "ListAgents", "Monitor", "NotebookEdit", "Read", "ReportFindings",
    "ScheduleWakeup", "SendMessage", "Skill", "TaskStop", "ToolSearch", "WebFetch",
    "WebSearch", "Workflow", "Write",
]  # fmt: skip
SKILLS = [
    "deep-research", "dataviz", "update-config", "verify", "debug", "code-review",
    "simplify", "batch", "fewer-permission-prompts", "doctor", "loop", "claude-api",
    "workflow-authoring", "run", "run-skill-generator", "plugin-authoring",
]  # fmt: skip
BUILTIN_SLASH_COMMANDS = [
    *SKILLS,
    "agents", "auto-mode-setup", "autocompact", "clear", "color", "compact", "config",
    "output-style", "context", "effort", "fast", "focus", "heapdump", "init", "mcp", "model",
    "__remote-workflow", "workflow-launch-exec", "reload-plugins", "reload-skills", "rename",
    "security-review", "usage", "insights", "recap", "goal", "list-agents", "team-onboarding",
]  # fmt: skip
PLUGINS = [
    {"name": name, "path": "builtin", "source": f"{name}@builtin"}
    for name in ("cc-plugin-agents-md", "cc-plugin-privacy", "cc-plugin-plugin-authoring")
]
FAST_MODE = {"fast_mode_state": "off", "fast_mode_disabled_reason": "sdk_opt_in_required"}
SUBAGENT_STATS = {
    "spawned": 0,
    "requested": {"background": 0, "foreground": 0, "unset": 0},
    "started_in_background": 0,
    "max_depth": 0,
    "spawned_by_subagents": 0,
    "completed": 0,
    "failed": 0,
    "killed": {"parent": 0, "user": 0, "system": 0},
    "refused": {"depth_limit": 0, "concurrency_limit": 0, "budget": 0},
    "by_type": {},
}
# Claude Code tells the model this after every successful Write.
WRITE_NOTE = "(file state is current in your context — no need to Read it back)"


@dataclass(frozen=True)
class Envelope:
    """The per-line fields every message carries."""

    session_id: str
    uuid: str
    timestamp: str


def text_block(text: str) -> Message:
    return {"type": "text", "text": text}


def tool_use_block(tool_use_id: str, name: str, tool_input: dict[str, Any]) -> Message:
    return {"type": "tool_use", "id": tool_use_id, "name": name, "input": tool_input}


def init_message(
    env: Envelope,
    *,
    cwd: Path,
    model: str,
    permission_mode: str,
    custom_commands: list[str],
    mcp_servers: list[Message],
    home: str,
) -> Message:
    """The `system/init` line: what the session can do."""
    project_key = str(cwd).replace("/", "-")
    return {
        "type": "system",
        "subtype": "init",
        "cwd": str(cwd),
        "session_id": env.session_id,
        "tools": TOOLS,
        "mcp_servers": mcp_servers,
        "model": model,
        "permissionMode": permission_mode,
        "slash_commands": [*custom_commands, *BUILTIN_SLASH_COMMANDS],
        "terminal_slash_commands": ["doctor", "color", "focus", "reload-plugins"],
        "apiKeySource": "none",
        "claude_code_version": CLI_VERSION,
        "output_style": "default",
        "agents": ["claude", "Explore", "general-purpose", "Plan", "statusline-setup"],
        "skills": SKILLS,
        "plugins": PLUGINS,
        "capabilities": [],
        "analytics_disabled": True,
        "product_feedback_disabled": True,
        "uuid": env.uuid,
        "memory_paths": {"auto": f"{home}/.claude/projects/{project_key}/memory/"},
        "original_cwd": str(cwd),
        "additional_directories": [],
        **FAST_MODE,
        "per_turn_effort_active": True,
        "ultrathink_available": False,
        "ultrathink_typed_raises": False,
        "view_mode": "default",
    }


def assistant_message(
    env: Envelope, *, message_id: str, model: str, content: list[Message], usage: Message
) -> Message:
    """One `assistant` line: one content block of a model message (the CLI splits them)."""
    return {
        "type": "assistant",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
            "context_management": None,
        },
        "parent_tool_use_id": None,
        "session_id": env.session_id,
        "uuid": env.uuid,
        "timestamp": env.timestamp,
    }


def api_error_message(
    env: Envelope, *, message_id: str, text: str, error: str, status: int, error_type: str
) -> Message:
    """The synthetic assistant message the CLI writes when the model API answers an error."""
    return {
        "type": "assistant",
        "message": {
            "diagnostics": None,
            "id": message_id,
            "container": None,
            "model": "<synthetic>",
            "role": "assistant",
            "stop_details": None,
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "type": "message",
            "usage": {
                "output_tokens_details": None,
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
                "service_tier": None,
                "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
                "inference_geo": None,
                "iterations": None,
                "speed": None,
                "fallback_credit": None,
            },
            "content": [text_block(text)],
            "context_management": None,
        },
        "parent_tool_use_id": None,
        "session_id": env.session_id,
        "uuid": env.uuid,
        "timestamp": env.timestamp,
        "error": error,
        "is_api_error_message": True,
        "api_error_status": status,
        "api_error_type": error_type,
    }


def tool_result_message(
    env: Envelope,
    *,
    tool_use_id: str,
    content: str,
    is_error: bool,
    tool_use_result: Message | str,
) -> Message:
    """The `user` line carrying a tool's result back to the model."""
    block: Message = {"tool_use_id": tool_use_id, "type": "tool_result", "content": content}
    if is_error:
        block["is_error"] = True
    return {
        "type": "user",
        "message": {"role": "user", "content": [block]},
        "parent_tool_use_id": None,
        "session_id": env.session_id,
        "uuid": env.uuid,
        "timestamp": env.timestamp,
        "tool_use_result": tool_use_result,
        "tool_result_meta": [
            {
                "id": tool_use_id,
                "permission_decision": {
                    "decision": "accept",
                    "source": "config",
                    "reason_type": "mode",
                },
            }
        ],
    }


def api_retry_message(
    env: Envelope, *, attempt: int, max_retries: int, delay_ms: int, status: int | None, error: str
) -> Message:
    """A `system/api_retry` line: the CLI is about to retry a failed model request."""
    return {
        "type": "system",
        "subtype": "api_retry",
        "attempt": attempt,
        "max_retries": max_retries,
        "retry_delay_ms": delay_ms,
        "error_status": status,
        "error": error,
        "session_id": env.session_id,
        "uuid": env.uuid,
    }


@dataclass(frozen=True)
class Outcome:
    """How a run ended, everything the final `result` line reports beyond the totals."""

    subtype: str = "success"
    is_error: bool = False
    text: str | None = None
    stop_reason: str = "end_turn"
    terminal_reason: str = "completed"
    errors: tuple[str, ...] = ()
    api_error_status: int | None = None
    api_error_type: str | None = None


def result_message(
    env: Envelope,
    *,
    outcome: Outcome,
    tally: Tally,
    num_turns: int,
    duration_ms: int,
    duration_api_ms: int,
) -> Message:
    """The final `result` line.

    Error subtypes (`error_max_turns`, `error_during_execution`) carry `errors` and a null
    `result`, as the real CLI does; API failures are `subtype: success` with `is_error`.
    """
    message: Message = {
        "type": "result",
        "subtype": outcome.subtype,
        "is_error": outcome.is_error,
        "duration_ms": duration_ms,
        "duration_api_ms": duration_api_ms,
        "num_turns": num_turns,
        "result": outcome.text,
        "stop_reason": outcome.stop_reason,
        "session_id": env.session_id,
        "total_cost_usd": tally.cost_usd,
        "usage": tally.result_usage(),
        "modelUsage": tally.model_usage(),
        "permission_denials": [],
        "terminal_reason": outcome.terminal_reason,
        **FAST_MODE,
        "subagent_stats": SUBAGENT_STATS,
        "safety_stops": 0,
        "api_error_status": outcome.api_error_status,
        "uuid": env.uuid,
        "queued_turn_count": 0,
        "result_index": 0,
        "model_usage_since_last_result": tally.model_usage(),
    }
    if outcome.api_error_type is not None:
        message["api_error_type"] = outcome.api_error_type
    if outcome.subtype != "success":
        message["errors"] = list(outcome.errors)
    return message
