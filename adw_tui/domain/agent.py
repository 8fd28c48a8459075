"""What an engine is asked (AgentRequest), what it streams (AgentEvent) and what it ends
with (AgentResult), the same for every agent CLI."""

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from pydantic import Field

from adw_tui.domain.modeling import Model
from adw_tui.domain.models import AdwId


class ErrorClass(StrEnum):
    """Why an agent call failed; drives the retry policy (see `transient`)."""

    NONE = "none"
    AUTH = "auth"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    INVALID_REQUEST = "invalid_request"
    NETWORK = "network"
    TIMEOUT = "timeout"
    IDLE_TIMEOUT = "idle_timeout"
    MAX_TURNS = "max_turns"
    EXECUTION_ERROR = "execution_error"
    NO_RESULT = "no_result"
    CRASHED = "crashed"
    NOT_INSTALLED = "not_installed"
    # The agent could not be started for a reason of the call, not of the install: its
    # prompt is over the system's limit for one argument (E2BIG), or its working
    # directory (the run's worktree) is gone.
    PROMPT_TOO_LONG = "prompt_too_long"
    WORKTREE_MISSING = "worktree_missing"
    MEMORY_LIMIT = "memory_limit"
    # Not made: the engine's circuit breaker refused the call (breaker_open_action =
    # "dead_letter"). Permanent for the retry policy: retrying at once is what a breaker
    # exists to prevent.
    BREAKER_OPEN = "breaker_open"
    # Not made: the run has spent its budget (ADW_RUN_BUDGET_USD). The run is
    # dead-lettered whatever its workflow says a failure leads to; a replay, once the
    # budget is raised, goes on from the step.
    BUDGET = "budget"

    @property
    def transient(self) -> bool:
        """True when the same call may succeed if tried again later."""
        return self in _TRANSIENT


_TRANSIENT = frozenset(
    {
        ErrorClass.RATE_LIMIT,
        ErrorClass.OVERLOADED,
        ErrorClass.NETWORK,
        ErrorClass.TIMEOUT,
        ErrorClass.IDLE_TIMEOUT,
        ErrorClass.EXECUTION_ERROR,
        ErrorClass.NO_RESULT,
        ErrorClass.CRASHED,
    }
)


class AgentRequest(Model):
    """One call of an agent CLI."""

    prompt: str
    adw_id: AdwId
    agent_name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    model: str = "sonnet"
    cwd: Path
    output_dir: Path = Field(description="the agents/ root: files go to <it>/<adw_id>/<agent>/")
    timeout_s: float | None = Field(default=3600.0, gt=0, description="whole call")
    idle_timeout_s: float | None = Field(default=600.0, gt=0, description="no output for this")
    resume_session_id: str | None = None
    max_turns: int | None = Field(default=None, ge=1)
    env: dict[str, str] = Field(
        default_factory=dict,
        description="variables this call's agent gets beyond its engine's allow-listed "
        "environment: the run's context (ADW_ID, ADW_AGENT, TRACEPARENT)",
    )

    @property
    def run_dir(self) -> Path:
        """`<output_dir>/<adw_id>/<agent_name>`: where this call's files are written."""
        return self.output_dir / self.adw_id / self.agent_name

    @property
    def command_name(self) -> str:
        """`implement` for a prompt `/implement specs/x.md`; `prompt` for free text."""
        first = self.prompt.lstrip().split(maxsplit=1)[0] if self.prompt.strip() else ""
        name = first.removeprefix("/") if first.startswith("/") else ""
        safe = "".join(c for c in name if c.isalnum() or c in "_-.")
        return safe or "prompt"


class AgentEventKind(StrEnum):
    INIT = "init"
    TEXT = "text"
    THINKING = "thinking"
    TOOL_USE = "tool_use"
    TOOL_RESULT = "tool_result"
    RETRY = "retry"
    RATE_LIMIT = "rate_limit"
    WARNING = "warning"
    """Something the agent reports that does not stop it (Codex's error items)."""
    ERROR = "error"
    RESULT = "result"
    UNKNOWN = "unknown"


class AgentEvent(NamedTuple):
    """One normalised thing an agent did, as it happened.

    `text` is what a person reads: the message text, a tool call's one-line summary, a
    folded tool result, or an error. `detail` keeps kind-specific facts (retry attempt
    and delay, model, the raw type of an unknown line).

    A named tuple, not a pydantic model: a parser makes one or more per line of an
    agent's stream, and validating each cost as much as parsing the line's JSON. The
    parsers check the types of what they take from a line instead; a tuple is as
    immutable as the frozen model was (`_replace` for a changed copy).
    """

    kind: AgentEventKind
    text: str = ""
    tool_name: str | None = None
    tool_id: str | None = None
    is_error: bool = False
    line: int = 0  # 1-based line in raw_output.jsonl
    detail: Mapping[str, Any] = MappingProxyType({})


class AgentResult(Model):
    """How an agent call ended."""

    success: bool
    output: str = ""
    session_id: str | None = None
    cost_usd: float = 0.0
    cost_estimated: bool = False
    """True when adw priced the tokens itself (`agents.pricing`): the engine reports no
    cost of its own."""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    num_turns: int = 0
    duration_ms: int = 0
    exit_code: int | None = None
    stderr_tail: str = ""
    error_class: ErrorClass = ErrorClass.NONE
    error_message: str = ""
    retries: int = 0

    @property
    def transient(self) -> bool:
        return self.error_class.transient
