"""The Engine protocol every agent CLI implements, and the parser protocol behind it."""

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Protocol

from adw_tui.agents.jsonl import ParsedLine
from adw_tui.domain.agent import AgentEvent, AgentRequest, AgentResult, ErrorClass

AgentStream = AsyncGenerator[AgentEvent | AgentResult, None]
StartHook = Callable[[int], None]


class Engine(Protocol):
    """Runs one agent call.

    `run` yields AgentEvents as the agent produces them and ends with exactly one
    AgentResult. Iterate it inside `contextlib.aclosing` (or to the end): closing it early
    kills the agent's process tree.
    """

    name: str
    resumes_sessions: bool
    """True when a call can go on with an earlier call's session
    (`AgentRequest.resume_session_id`): a paused step then continues its conversation
    instead of starting the step again."""

    expands_commands: bool
    """True when the agent expands a repository's `.claude/commands/<name>.md` for a
    `/name args` prompt itself (Claude Code); adw expands it for the others."""

    def check_installed(self) -> str | None:
        """None when the engine can run, else a message saying what to install or set."""
        ...

    def run(self, request: AgentRequest, *, on_start: StartHook | None = None) -> AgentStream:
        """`on_start(pid)` is called once the agent process exists and its call's
        `raw_output.jsonl` has been started (for resource watchers, and to keep the
        call's transcript)."""
        ...


class StreamParser(Protocol):
    """Turns one CLI's JSONL lines into AgentEvents and, at the end, an AgentResult."""

    def events(self, line: ParsedLine) -> list[AgentEvent]: ...

    def finish(self, ending: "ProcessEnding") -> AgentResult:
        """The result, from what the stream said and how the process ended."""
        ...


@dataclass(frozen=True, slots=True)
class ProcessEnding:
    """How the agent process ended, as the runner saw it."""

    exit_code: int | None
    stderr_tail: str
    duration_ms: int
    limit: ErrorClass | None = None  # TIMEOUT or IDLE_TIMEOUT when adw stopped it
