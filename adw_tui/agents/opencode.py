"""The OpenCode engine (`opencode run --format json`) and the parser of its stream.

OpenCode prints one JSON object per line, `{type, timestamp, sessionID, ...}`:
`step_start`, `text{part.text}`, `reasoning{part.text}`, `tool_use{part{tool, state{status,
input, output | error}}}` (once, when the tool has run), `step_finish{part{reason, cost,
tokens}}` (one per model request) and `error{error{name, data{message, statusCode,
isRetryable}}}`. There is no result line: a run succeeded when its last step finished
with reason `stop`, no `error` line came, and the process exited 0. OpenCode retries a
failing model request by itself (5 times, 2 s to 30 s apart, or as `retry-after` says)
and prints only the last failure.
"""

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

from adw_tui.agents import stream_fields as fields
from adw_tui.agents.engine import AgentStream, ProcessEnding, StartHook
from adw_tui.agents.environment import agent_environment
from adw_tui.agents.jsonl import BadLine, ParsedLine
from adw_tui.agents.pricing import estimate_cost
from adw_tui.agents.runner import run_cli_engine
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentRequest, AgentResult, ErrorClass

BINARY_VARIABLE = "ADW_OPENCODE_PATH"
OPENCODE_ENV = (
    "OPENCODE_*",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
)
"""What OpenCode reads besides the common allow-list: its own settings (`OPENCODE_CONFIG`,
`OPENCODE_CONFIG_DIR`, `OPENCODE_CONFIG_CONTENT`, `OPENCODE_DISABLE_*`, ...) and where its
config (`$XDG_CONFIG_HOME/opencode`), credentials and sessions (`$XDG_DATA_HOME/opencode`)
live. Provider keys other than `ANTHROPIC_*` (OPENAI_API_KEY, ...) pass through
`agent_env`."""

# Which input field best names what a tool call does, by OpenCode tool.
_TOOL_SUBJECT = {
    "write": "filePath",
    "edit": "filePath",
    "read": "filePath",
    "bash": "command",
    "glob": "pattern",
    "grep": "pattern",
    "list": "path",
    "webfetch": "url",
    "task": "description",
    "skill": "name",
}
_ERROR_NAME_CLASSES = {
    "ProviderAuthError": ErrorClass.AUTH,
    "ContextOverflowError": ErrorClass.INVALID_REQUEST,
}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class OpenCodeEngine:
    """`opencode run --format json`, one process per call, the prompt on its stdin.

    The prompt goes through stdin (`run` reads it when stdin is not a terminal) for
    Claude Code's reasons (no argument size limit, kept out of `ps`), and because a
    positional prompt with spaces reaches the model wrapped in literal double quotes.
    `--title` names a new session, which also spares the model request OpenCode makes
    otherwise to title it. `--auto` approves every permission the user's config does not
    deny (an unattended `run` rejects what would ask).
    """

    name = "opencode"
    resumes_sessions = True  # `--session SESSION`
    expands_commands = False

    def __init__(
        self,
        *,
        binary: str | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
        extra_env: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
        kill_grace_s: float = 5.0,
    ) -> None:
        """`prices` (the settings' price table) price calls whose model OpenCode has no
        cost for; `extra_env` names (or `PREFIX_*` patterns) join the allow-list."""
        self._environ = os.environ if environ is None else environ
        self._binary = binary or self._environ.get(BINARY_VARIABLE) or "opencode"
        self._prices = dict(prices or {})
        self._extra_env = tuple(extra_env)
        self._kill_grace_s = kill_grace_s

    def check_installed(self) -> str | None:
        if shutil.which(self._binary, path=self._environ.get("PATH")) is not None:
            return None
        return (
            f"OpenCode CLI {self._binary!r} not found: install it with "
            f"`npm install -g opencode-ai`, set {BINARY_VARIABLE} to its path, "
            "or choose another engine (--engine)"
        )

    def environment(self) -> dict[str, str]:
        """The allow-listed environment; OpenCode's self-update off unless set."""
        env = agent_environment(self._environ, (*OPENCODE_ENV, *self._extra_env))
        env.setdefault("OPENCODE_DISABLE_AUTOUPDATE", "1")
        return env

    def interactive_resume(self, session_id: str) -> list[str]:
        """OpenCode's own interface on `session_id`, for a person to go on with it."""
        return [self._binary, "--session", session_id]

    def command(self, request: AgentRequest) -> list[str]:
        """The command line; the prompt is not on it (see the class docstring).
        OpenCode has no turn limit per call: `max_turns` is not passed."""
        argv = [
            self._binary,
            "run",
            "--format",
            "json",
            "--model",
            request.model,
            "--dir",
            str(request.cwd),
            "--auto",
            "--thinking",
        ]
        if request.resume_session_id:
            argv += ["--session", request.resume_session_id]
        else:
            argv += ["--title", f"adw {request.adw_id} {request.agent_name}"]
        return argv

    def run(self, request: AgentRequest, *, on_start: StartHook | None = None) -> AgentStream:
        problem = self.check_installed()
        if problem is None and "/" not in request.model:
            return _ended(
                AgentResult(
                    success=False,
                    error_class=ErrorClass.INVALID_REQUEST,
                    error_message=f"OpenCode names a model provider/model (e.g. "
                    f"anthropic/claude-sonnet-4-5), not {request.model!r}: set the opencode "
                    "models of engine_models in the settings, or pass --model",
                )
            )
        parser = OpenCodeStreamParser(str(request.cwd), model=request.model, prices=self._prices)
        return run_cli_engine(
            problem,
            request,
            self.command(request),
            self.environment(),
            parser,
            stdin=request.prompt.encode(),
            kill_grace_s=self._kill_grace_s,
            on_start=on_start,
        )


async def _ended(result: AgentResult) -> AgentStream:
    """A call that ends before it starts, with `result`."""
    yield result


class OpenCodeStreamParser:
    """Stateful: one parser per agent call. `model` and `prices` price the call when
    OpenCode reports no cost (a model missing from its catalogue costs 0 there)."""

    def __init__(
        self,
        cwd: str | None = None,
        *,
        model: str | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        self._cwd = fields.cwd_prefix(cwd)
        self._model = model
        self._prices = prices or {}
        self.session_id: str | None = None
        self._error: dict[str, Any] | None = None
        self._last_reason: str | None = None
        self._last_text = ""
        self._steps = 0
        self._cost = 0.0
        self._tokens = dict.fromkeys(("input", "output", "reasoning", "read", "write"), 0)

    def events(self, line: ParsedLine) -> list[AgentEvent]:
        if isinstance(line, BadLine):
            return [fields.bad_line_event(line)]
        value, number = line.value, line.number
        events = self._session(value, number)
        kind = value.get("type")
        part = fields.obj(value, "part")
        if kind == "text":
            self._last_text = fields.text(part, "text") or ""
            events.append(AgentEvent(AgentEventKind.TEXT, self._last_text, line=number))
        elif kind == "reasoning":
            events.append(
                AgentEvent(AgentEventKind.THINKING, fields.text(part, "text") or "", line=number)
            )
        elif kind == "tool_use":
            events += self._tool(part, number)
        elif kind == "step_finish":
            self._step_finish(part)
        elif kind == "error":
            self._error = fields.obj(value, "error")
            events.append(
                AgentEvent(
                    AgentEventKind.ERROR, _error_text(self._error), is_error=True, line=number
                )
            )
        elif kind != "step_start":
            events.append(
                AgentEvent(
                    AgentEventKind.UNKNOWN,
                    f"{fields.clip(str(kind))} line",
                    line=number,
                    detail={"type": kind if isinstance(kind, str) else None},
                )
            )
        return events

    def _session(self, value: dict[str, Any], number: int) -> list[AgentEvent]:
        """An INIT event for the first line naming the session (OpenCode has no init line)."""
        session_id = fields.text(value, "sessionID")
        if session_id is None or self.session_id is not None:
            return []
        self.session_id = session_id
        model = self._model or "?"
        return [
            AgentEvent(
                AgentEventKind.INIT,
                f"session {session_id} · model {model}",
                line=number,
                detail={"session_id": session_id, "model": model},
            )
        ]

    def _tool(self, part: dict[str, Any], number: int) -> list[AgentEvent]:
        """A tool call and its result: OpenCode prints one line once the tool has run."""
        name = fields.text(part, "tool") or "?"
        state = fields.obj(part, "state")
        call_id = fields.text(part, "callID")
        subject = fields.tool_summary(state.get("input"), _TOOL_SUBJECT.get(name), self._cwd)
        failed = fields.text(state, "status") == "error"
        output = fields.text(state, "error" if failed else "output") or ""
        return [
            AgentEvent(
                AgentEventKind.TOOL_USE,
                name if subject is None else subject,
                tool_name=name,
                tool_id=call_id,
                line=number,
            ),
            AgentEvent(
                AgentEventKind.TOOL_RESULT,
                fields.fold(output),
                tool_id=call_id,
                is_error=failed,
                line=number,
            ),
        ]

    def _step_finish(self, part: dict[str, Any]) -> None:
        self._steps += 1
        self._last_reason = fields.text(part, "reason")
        self._cost += float(fields.number(part, "cost") or 0)
        tokens = fields.obj(part, "tokens")
        cache = fields.obj(tokens, "cache")
        for key in ("input", "output", "reasoning"):
            self._tokens[key] += int(fields.number(tokens, key) or 0)
        for key in ("read", "write"):
            self._tokens[key] += int(fields.number(cache, key) or 0)

    def finish(self, ending: ProcessEnding) -> AgentResult:
        error_class = self._classify(ending)
        tokens = self._tokens
        output_tokens = tokens["output"] + tokens["reasoning"]
        cost, estimated = self._cost, False
        if cost == 0 and self._model is not None:
            # Every prompt token at the input price: an upper bound when some were cached.
            prompt_tokens = tokens["input"] + tokens["read"] + tokens["write"]
            estimate = estimate_cost(self._prices, self._model, prompt_tokens, output_tokens)
            if estimate is not None:
                cost, estimated = estimate, True
        return AgentResult(
            success=error_class is ErrorClass.NONE,
            output=self._last_text,
            session_id=self.session_id,
            cost_usd=cost,
            cost_estimated=estimated,
            input_tokens=tokens["input"],
            output_tokens=output_tokens,
            cache_read_tokens=tokens["read"],
            cache_creation_tokens=tokens["write"],
            num_turns=self._steps,
            duration_ms=ending.duration_ms,
            exit_code=ending.exit_code,
            stderr_tail=ending.stderr_tail,
            error_class=error_class,
            error_message=self._message(error_class, ending),
        )

    def _classify(self, ending: ProcessEnding) -> ErrorClass:
        if ending.limit is not None:
            return ending.limit
        if self._error is not None:
            return _error_class(self._error)
        if ending.exit_code not in (0, None):
            return ErrorClass.CRASHED
        return ErrorClass.NONE if self._last_reason == "stop" else ErrorClass.NO_RESULT

    def _message(self, error_class: ErrorClass, ending: ProcessEnding) -> str:
        if error_class is ErrorClass.NONE:
            return ""
        if ending.limit is not None:
            return fields.stopped_message(ending.limit)
        if self._error is not None:
            return fields.clip(_error_text(self._error))
        if error_class is ErrorClass.CRASHED:
            lines = _ANSI.sub("", ending.stderr_tail).strip().splitlines()
            last = lines[-1] if lines else "no stderr"
            return f"exited with code {ending.exit_code}: {fields.clip(last)}"
        reason = self._last_reason or "none"
        return (
            f"exited without finishing: OpenCode's last step ended with reason {reason!r}, "
            "not 'stop'"
        )


def _error_class(error: dict[str, Any]) -> ErrorClass:
    """The class of an `error` line: by its name, its HTTP status, then whether OpenCode
    found it worth retrying (a connection that failed is)."""
    name = fields.text(error, "name") or ""
    data = fields.obj(error, "data")
    status = fields.number(data, "statusCode")
    if name in _ERROR_NAME_CLASSES:
        return _ERROR_NAME_CLASSES[name]
    if isinstance(status, int):
        return fields.http_status_class(status)
    if name == "APIError":
        return ErrorClass.NETWORK if data.get("isRetryable") is True else ErrorClass.INVALID_REQUEST
    return ErrorClass.EXECUTION_ERROR


def _error_text(error: dict[str, Any]) -> str:
    """`Name (HTTP status): message` of an `error` line."""
    name = fields.text(error, "name") or "error"
    data = fields.obj(error, "data")
    status = fields.number(data, "statusCode")
    label = f"{name} (HTTP {status})" if status is not None else name
    message = fields.text(data, "message")
    return f"{label}: {message}" if message else label
