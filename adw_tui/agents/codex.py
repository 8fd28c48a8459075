"""The Codex engine (`codex exec --json`, @openai/codex), and its stream parser.

Codex's JSONL (checked with 0.171.0 against a loopback Responses API; the transcripts are
in shared/reference/codex): `thread.started{thread_id}` first (the session id, also when
a thread is resumed), `turn.started`, `item.started` / `item.updated` / `item.completed`
carrying an `item{id, type, ...}` (`agent_message`, `reasoning`, `command_execution`,
`file_change`, `mcp_tool_call`, `web_search`, `todo_list`, `collab_tool_call`, `plan`, and
`error`: a warning, not a failure), top-level `error{message}` lines (the CLI's own
retries, "Reconnecting... 1/5 (...)", and the fatal error before a failed turn), and last
`turn.completed{usage}` or `turn.failed{error{message}}` (exit code 1).

What shapes the parser: the only failure signal is `turn.failed` and the exit code, and
the error is a sentence (the HTTP status appears in some, "unexpected status 401
Unauthorized: ...", "exceeded retry limit, last status: 429 ...", not in others); there
is no cost, only tokens, which are the thread's totals (a resumed thread counts its
earlier calls too); and a refused connection is retried forever ("Reconnecting...
waiting for network"), so only adw's timeouts end such a call.
"""

import os
import re
import shlex
import shutil
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from adw_tui.agents import stream_fields as fields
from adw_tui.agents.engine import AgentStream, ProcessEnding, StartHook
from adw_tui.agents.environment import agent_environment
from adw_tui.agents.jsonl import BadLine, ParsedLine
from adw_tui.agents.pricing import estimate_cost
from adw_tui.agents.runner import run_cli_agent
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentRequest, AgentResult, ErrorClass

BINARY_VARIABLE = "ADW_CODEX_PATH"
BYPASS_SANDBOX = "--dangerously-bypass-approvals-and-sandbox"
# What Codex reads besides the common allow-list: its home (config.toml, auth.json,
# sessions) and the API key variables of its built-in provider. A custom provider's
# `env_key` goes in ADW_AGENT_ENV.
CODEX_ENV_NAMES = ("CODEX_*", "OPENAI_*")
# OpenAI bills cached input tokens at a tenth of the input price (the GPT-5 family).
CACHED_INPUT_PRICE_FACTOR = 0.1

Sandbox = Literal["read-only", "workspace-write", "danger-full-access"]

K = AgentEventKind
# "Reconnecting... 2/5 (cause)", "Reconnecting... waiting for network (cause)"
_RECONNECT = re.compile(r"Reconnecting\.\.\.\s*(?:(\d+)/(\d+)\s*)?(.*)", re.DOTALL)
_SHELL_WRAPPER = re.compile(r"(?:\S*/)?(?:ba|z|da)?sh -l?c (.*)", re.DOTALL)
_HTTP_STATUS = re.compile(r"(?:unexpected status|last status:)\s*(\d{3})\b")
# Codex's errors that carry no HTTP status, by a phrase of their message (codex-rs
# core/src/error.rs), most specific first.
_MESSAGE_CLASSES = (
    ("context window", ErrorClass.INVALID_REQUEST),
    ("Quota exceeded", ErrorClass.AUTH),
    ("upgrade to Plus", ErrorClass.AUTH),
    ("Missing environment variable", ErrorClass.AUTH),
    ("refresh token", ErrorClass.AUTH),
    ("hit your usage limit", ErrorClass.RATE_LIMIT),
    ("high demand", ErrorClass.OVERLOADED),
    ("stream disconnected", ErrorClass.NETWORK),
    ("Connection failed", ErrorClass.NETWORK),
    ("Error while reading the server response", ErrorClass.NETWORK),
)


class CodexEngine:
    """`codex exec --json`, one process per call, with the prompt on its standard input
    (`-`: any size, and kept out of `ps`, as for Claude Code).

    A paused step goes on with `codex exec resume THREAD -`. Codex reads no
    `.claude/commands` (adw expands a repository's templates for it) and has no turn
    limit (`max_turns` is not passed). Its sessions, configuration and login live in
    `$CODEX_HOME` (default `~/.codex`), which every call shares.
    """

    name = "codex"
    resumes_sessions = True  # `codex exec resume THREAD`
    expands_commands = False

    def __init__(
        self,
        *,
        binary: str | None = None,
        sandbox: Sandbox | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
        extra_env: Sequence[str] = (),
        environ: Mapping[str, str] | None = None,
        kill_grace_s: float = 5.0,
    ) -> None:
        """`sandbox` None runs with --dangerously-bypass-approvals-and-sandbox (as Claude
        Code runs with --dangerously-skip-permissions); otherwise it is passed as
        --sandbox. `prices` (per million input / output tokens, by model name) price the
        tokens Codex reports; without it a call's cost is unknown (0). `extra_env` names
        (or `PREFIX_*` patterns) join the environment allow-list."""
        self._environ = os.environ if environ is None else environ
        self._binary = binary or self._environ.get(BINARY_VARIABLE) or "codex"
        self._sandbox = sandbox
        self._prices = dict(prices or {})
        self._extra_env = (*CODEX_ENV_NAMES, *extra_env)
        self._kill_grace_s = kill_grace_s

    def check_installed(self) -> str | None:
        if shutil.which(self._binary, path=self._environ.get("PATH")) is not None:
            return None
        return (
            f"Codex CLI {self._binary!r} not found: install it with "
            f"`npm install -g @openai/codex`, set {BINARY_VARIABLE}, or use another --engine"
        )

    def environment(self) -> dict[str, str]:
        return agent_environment(self._environ, self._extra_env)

    def interactive_resume(self, session_id: str) -> list[str]:
        """Codex's interactive session resuming `session_id`, for a person (`adw attach`);
        no sandbox flag: the person answers its approvals."""
        return [self._binary, "resume", session_id]

    def command(self, request: AgentRequest) -> list[str]:
        """The command line; the prompt is not on it (`-`: read from stdin). Every option
        goes before `resume`, which takes only the thread and the prompt."""
        argv = [
            self._binary,
            "exec",
            "--json",
            "--model",
            request.model,
            "--cd",
            str(request.cwd),
            "--skip-git-repo-check",  # adw chooses where agents run
        ]
        if self._sandbox is None:
            argv.append(BYPASS_SANDBOX)
        else:
            argv += ["--sandbox", self._sandbox]
        if request.resume_session_id:
            argv += ["resume", request.resume_session_id]
        argv.append("-")
        return argv

    def run(self, request: AgentRequest, *, on_start: StartHook | None = None) -> AgentStream:
        problem = self.check_installed()
        if problem is not None:
            return _failed(
                AgentResult(
                    success=False, error_class=ErrorClass.NOT_INSTALLED, error_message=problem
                )
            )
        return run_cli_agent(
            request,
            self.command(request),
            self.environment(),
            CodexStreamParser(str(request.cwd), model=request.model, prices=self._prices),
            stdin=request.prompt.encode(),
            kill_grace_s=self._kill_grace_s,
            on_start=on_start,
        )


async def _failed(result: AgentResult) -> AgentStream:
    yield result


class CodexStreamParser:
    """Stateful: one parser per agent call. Fields are read as in `ClaudeStreamParser`:
    a field of an unexpected type reads as missing, and no line raises."""

    def __init__(
        self,
        cwd: str | None = None,
        *,
        model: str | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        self._cwd = cwd.rstrip("/") + "/" if cwd else None
        self._model = model
        self._prices = prices or {}
        self.session_id: str | None = None
        self._usage: dict[str, Any] | None = None  # of turn.completed
        self._failure: str | None = None  # turn.failed's message
        self._last_error: str | None = None  # the last fatal `error` line
        self._last_text = ""
        self._retries = 0
        self._last_retry = ""
        self._started: set[str] = set()  # items whose TOOL_USE was sent

    def events(self, line: ParsedLine) -> list[AgentEvent]:
        if isinstance(line, BadLine):
            return [
                AgentEvent(
                    K.UNKNOWN,
                    f"line {line.number}: {line.reason}",
                    is_error=True,
                    line=line.number,
                    detail={"problem": line.reason, "size": line.size},
                )
            ]
        value, number = line.value, line.number
        kind = value.get("type")
        done = _ITEM_STAGES.get(kind) if isinstance(kind, str) else None
        if done is not None:
            return self._item(done, fields.obj(value, "item"), number)
        if kind == "thread.started":
            return [self._thread_started(value, number)]
        if kind == "error":
            return [self._error(fields.text(value, "message") or "error", number)]
        if kind == "turn.completed":
            self._usage = fields.obj(value, "usage")
            return [self._completed(number)]
        if kind == "turn.failed":
            self._failure = fields.text(fields.obj(value, "error"), "message") or "turn failed"
            return [AgentEvent(K.RESULT, self._failure, is_error=True, line=number)]
        if kind in ("turn.started", "item.plan.delta"):
            return []
        if kind == "request_user_input":
            return [
                AgentEvent(
                    K.WARNING,
                    "the agent asked for input, which `codex exec` cannot take",
                    line=number,
                )
            ]
        return [
            AgentEvent(
                K.UNKNOWN,
                f"{fields.clip(str(kind))} line",
                line=number,
                detail={"type": kind if isinstance(kind, str) else None},
            )
        ]

    def _thread_started(self, value: dict[str, Any], number: int) -> AgentEvent:
        self.session_id = fields.text(value, "thread_id") or self.session_id
        model = self._model or "?"
        return AgentEvent(
            K.INIT,
            f"session {self.session_id or '?'} · model {model}",
            line=number,
            detail={"session_id": self.session_id, "model": model, "cwd": self._cwd_text()},
        )

    def _error(self, message: str, number: int) -> AgentEvent:
        retry = _RECONNECT.match(message)
        if retry is None:
            self._last_error = message
            return AgentEvent(K.ERROR, message, is_error=True, line=number)
        self._retries += 1
        attempt, max_retries, rest = retry.groups()
        rest = rest.strip()
        cause = rest[1:-1] if rest.startswith("(") and rest.endswith(")") else rest
        cause = cause or "no reason given"
        self._last_retry = cause
        counted = f" {attempt}/{max_retries}" if attempt else ""
        return AgentEvent(
            K.RETRY,
            f"API retry{counted} ({fields.clip(cause)})",
            line=number,
            detail={
                "attempt": int(attempt) if attempt else self._retries,
                "max_retries": int(max_retries) if max_retries else None,
                "error": cause,
            },
        )

    def _completed(self, number: int) -> AgentEvent:
        usage = self._tokens()
        cost = self._cost(usage)
        spent = f"${cost:.4f} (estimated)" if cost is not None else "cost unknown"
        return AgentEvent(
            K.RESULT,
            f"done: {usage['input'] + usage['cached']:,} tokens in, "
            f"{usage['output']:,} out · {spent}",
            line=number,
            detail={"usage": dict(self._usage or {})},
        )

    # -- items ----------------------------------------------------------------------------

    def _item(self, done: bool, item: dict[str, Any], number: int) -> list[AgentEvent]:
        """An `item.started` / `item.updated` line, or (`done`) an `item.completed`."""
        item_type = fields.text(item, "type") or ""
        item_id = fields.text(item, "id")
        tool = _TOOLS.get(item_type)
        if tool is not None:
            return self._tool(tool, item_type, item, item_id, done, number)
        if item_type == "agent_message" or item_type == "plan":
            if not done:
                return []
            self._last_text = fields.text(item, "text") or ""
            return [AgentEvent(K.TEXT, self._last_text, line=number)]
        if item_type == "reasoning":
            return (
                [AgentEvent(K.THINKING, fields.text(item, "text") or "", line=number)]
                if done
                else []
            )
        if item_type == "error":
            return [AgentEvent(K.WARNING, fields.text(item, "message") or "warning", line=number)]
        if item_type == "todo_list":
            return self._todo_list(item, item_id, done, number)
        return [
            AgentEvent(
                K.UNKNOWN,
                f"{fields.clip(item_type)} item",
                line=number,
                detail={"type": "item", "item_type": item_type or None},
            )
        ]

    def _tool(
        self,
        tool: "_Subject",
        item_type: str,
        item: dict[str, Any],
        item_id: str | None,
        done: bool,
        number: int,
    ) -> list[AgentEvent]:
        """A tool call when first seen (also when only its completion is), its result
        when completed."""
        events: list[AgentEvent] = []
        if item_id is None or item_id not in self._started:
            if item_id is not None:
                self._started.add(item_id)
            name, subject = tool(self, item)
            events.append(
                AgentEvent(K.TOOL_USE, subject, tool_name=name, tool_id=item_id, line=number)
            )
        if done:
            text, failed = _tool_outcome(item_type, item)
            events.append(
                AgentEvent(
                    K.TOOL_RESULT, fields.fold(text), tool_id=item_id, is_error=failed, line=number
                )
            )
        return events

    def _todo_list(
        self, item: dict[str, Any], item_id: str | None, done: bool, number: int
    ) -> list[AgentEvent]:
        """The agent's plan, shown when made and each time it changes; its completion at
        the turn's end repeats the last state, unless nothing was shown yet."""
        if done and item_id in self._started:
            return []
        if item_id is not None:
            self._started.add(item_id)
        entries = item.get("items")
        steps = (
            [entry for entry in entries if isinstance(entry, dict)]
            if isinstance(entries, list)
            else []
        )
        finished = sum(1 for entry in steps if entry.get("completed") is True)
        lines = [
            f"{'[x]' if entry.get('completed') is True else '[ ]'} "
            f"{fields.text(entry, 'text') or ''}"
            for entry in steps
        ]
        return [
            AgentEvent(
                K.THINKING,
                "\n".join([f"plan: {finished}/{len(steps)} done", *lines]),
                line=number,
                detail={"todo": len(steps), "done": finished},
            )
        ]

    def _command(self, item: dict[str, Any]) -> tuple[str, str]:
        return "shell", self._relative(_shell_command(fields.text(item, "command") or ""))

    def _file_change(self, item: dict[str, Any]) -> tuple[str, str]:
        changes = item.get("changes")
        paths = [
            self._relative(fields.text(change, "path") or "?")
            for change in (changes if isinstance(changes, list) else ())
            if isinstance(change, dict)
        ]
        return "edit", fields.clip(", ".join(paths) or "?")

    def _mcp_call(self, item: dict[str, Any]) -> tuple[str, str]:
        name = f"{fields.text(item, 'server') or '?'}.{fields.text(item, 'tool') or '?'}"
        arguments = item.get("arguments")
        strings = (
            [v for v in arguments.values() if isinstance(v, str)]
            if isinstance(arguments, dict)
            else []
        )
        return name, self._relative(strings[0]) if strings else ""

    def _web_search(self, item: dict[str, Any]) -> tuple[str, str]:
        return "web_search", fields.clip(fields.text(item, "query") or "")

    def _collab_call(self, item: dict[str, Any]) -> tuple[str, str]:
        return f"agent.{fields.text(item, 'tool') or '?'}", _first_line(
            fields.text(item, "prompt") or ""
        )

    def _relative(self, text: str) -> str:
        """`text` with the working directory left out of its paths, on one clipped line."""
        if self._cwd:
            text = text.replace(self._cwd, "")
        return _first_line(text)

    def _cwd_text(self) -> str | None:
        return self._cwd.rstrip("/") if self._cwd else None

    # -- the end ----------------------------------------------------------------------------

    def _tokens(self) -> dict[str, int]:
        """The turn's usage as adw counts it: `input` without the cached part (Codex's
        `input_tokens` includes it), as Claude Code's `input_tokens` is."""
        usage = self._usage or {}
        total_input = int(fields.number(usage, "input_tokens") or 0)
        cached = min(int(fields.number(usage, "cached_input_tokens") or 0), total_input)
        return {
            "input": total_input - cached,
            "cached": cached,
            "written": int(fields.number(usage, "cache_write_input_tokens") or 0),
            "output": int(fields.number(usage, "output_tokens") or 0),  # reasoning included
        }

    def _cost(self, tokens: dict[str, int]) -> float | None:
        """US dollars for the tokens at the price table's rate for the model; None when
        the table has no price for it (or there is no model)."""
        if self._model is None:
            return None
        fresh = estimate_cost(self._prices, self._model, tokens["input"], tokens["output"])
        if fresh is None:
            return None
        cached = estimate_cost(self._prices, self._model, tokens["cached"], 0) or 0.0
        return fresh + cached * CACHED_INPUT_PRICE_FACTOR

    def finish(self, ending: ProcessEnding) -> AgentResult:
        tokens = self._tokens()
        cost = self._cost(tokens) if self._usage is not None else None
        error_class = self._classify(ending)
        return AgentResult(
            success=error_class is ErrorClass.NONE,
            output=self._last_text,
            session_id=self.session_id,
            cost_usd=cost or 0.0,
            cost_estimated=cost is not None,
            input_tokens=tokens["input"],
            output_tokens=tokens["output"],
            cache_read_tokens=tokens["cached"],
            cache_creation_tokens=tokens["written"],
            num_turns=1 if self._usage is not None or self._failure is not None else 0,
            duration_ms=ending.duration_ms,
            exit_code=ending.exit_code,
            stderr_tail=ending.stderr_tail,
            error_class=error_class,
            error_message=self._message(error_class, ending),
            retries=self._retries,
        )

    def _classify(self, ending: ProcessEnding) -> ErrorClass:
        if ending.limit is not None:
            return ending.limit
        if self._usage is not None and self._failure is None:
            return ErrorClass.NONE if ending.exit_code in (0, None) else ErrorClass.CRASHED
        message = self._failure or self._last_error
        if message is not None:
            return classify_message(message)
        if self._retries and ending.exit_code not in (0, None):
            return ErrorClass.NETWORK
        return ErrorClass.NO_RESULT if ending.exit_code == 0 else ErrorClass.CRASHED

    def _message(self, error_class: ErrorClass, ending: ProcessEnding) -> str:
        if error_class is ErrorClass.NONE:
            return ""
        retries = f" after {self._retries} API retries" if self._retries else ""
        if error_class in (ErrorClass.TIMEOUT, ErrorClass.IDLE_TIMEOUT):
            which = "whole-call" if error_class is ErrorClass.TIMEOUT else "no-output"
            last = f" (the last: {fields.clip(self._last_retry)})" if self._last_retry else ""
            return f"stopped by the {which} timeout{retries}{last}; the process tree was killed"
        message = self._failure or self._last_error
        if message is not None:
            return fields.clip(message) + retries
        last_stderr = ending.stderr_tail.strip().splitlines()[-1:] or ["no stderr"]
        return (
            f"exited with code {ending.exit_code} without an end of turn{retries}: "
            f"{fields.clip(last_stderr[0])}"
        )


def classify_message(message: str) -> ErrorClass:
    """The error class of a failed turn, from Codex's error message: the HTTP status it
    names, else a known phrase; a message that is the API's own JSON error body is what
    Codex prints for HTTP 400. Anything else may pass when tried again."""
    status = _HTTP_STATUS.search(message)
    if status is not None:
        code = int(status.group(1))
        return fields.http_status_class(code)
    for phrase, error_class in _MESSAGE_CLASSES:
        if phrase in message:
            return error_class
    if message.lstrip().startswith('{"error"'):
        return ErrorClass.INVALID_REQUEST
    return ErrorClass.EXECUTION_ERROR


def _tool_outcome(item_type: str, item: dict[str, Any]) -> tuple[str, bool]:
    """What a finished tool item says, and whether it failed."""
    status = fields.text(item, "status")
    failed = status in ("failed", "declined")
    if item_type == "command_execution":
        exit_code = fields.number(item, "exit_code")
        output = fields.text(item, "aggregated_output") or ""
        failed = failed or (exit_code is not None and exit_code != 0)
        if failed and not output.strip():
            output = f"exit code {exit_code}" if exit_code is not None else str(status)
        return output, failed
    if item_type == "file_change":
        changes = item.get("changes")
        kinds = [
            f"{fields.text(change, 'kind') or '?'} {fields.text(change, 'path') or '?'}"
            for change in (changes if isinstance(changes, list) else ())
            if isinstance(change, dict)
        ]
        return "\n".join(kinds) or str(status), failed
    if item_type == "mcp_tool_call":
        error = fields.text(fields.obj(item, "error"), "message")
        if error is not None:
            return error, True
        content = fields.obj(item, "result").get("content")
        parts = [
            str(part.get("text", "")) if isinstance(part, dict) else str(part)
            for part in (content if isinstance(content, list) else ())
        ]
        return "\n".join(parts), failed
    return str(status or "done"), failed


def _shell_command(command: str) -> str:
    """The command a shell was asked to run: Codex reports `/bin/bash -lc '<command>'`.
    A command without a quote of its own is unwrapped directly; `shlex`, which is slow
    (it would be most of the parser's time), only splits the others."""
    wrapped = _SHELL_WRAPPER.fullmatch(command)
    if wrapped is None:
        return command
    inner = wrapped.group(1)
    if inner.startswith("'") and inner.endswith("'") and "'" not in inner[1:-1]:
        return inner[1:-1]
    try:
        words = shlex.split(inner)
    except ValueError:
        return command
    return words[0] if len(words) == 1 else command


def _first_line(text: str) -> str:
    return fields.clip(text.splitlines()[0] if text else text)


_ITEM_STAGES = {"item.started": False, "item.updated": False, "item.completed": True}
_Subject = Callable[[CodexStreamParser, dict[str, Any]], tuple[str, str]]
"""A tool item's name and one-line summary."""
_TOOLS: dict[str, _Subject] = {
    "command_execution": CodexStreamParser._command,
    "file_change": CodexStreamParser._file_change,
    "mcp_tool_call": CodexStreamParser._mcp_call,
    "web_search": CodexStreamParser._web_search,
    "collab_tool_call": CodexStreamParser._collab_call,
}
