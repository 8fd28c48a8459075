"""Fault injection: `ADW_SIM_FAULTS="implement=fail_once,*=rate_limit"`.

Each pair maps a command name (`*` for any, free-form prompts included) to a fault; the
first pair naming the command wins, then the first `*` pair. A name may be narrowed to
the calls of one model, `scout@slow=hang`: the parallel agents of one step (scouts) run
the same command and differ by model alone. `command@model` wins over `command`, which
wins over `*@model` and `*`. Faults mirror what the real CLI does in each failure, so an
orchestrator can be tested against all of them; `off_format` and `stray_edit` are an
agent's misbehaviour rather than a failure.
"""

import fcntl
import functools
import json
import os
import sys
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from adw_tui.agents.sim.session import Session, ToolOutcome
from adw_tui.agents.sim.stream import Outcome, api_error_message, api_retry_message
from adw_tui.agents.sim.tools import Toolbox

EXIT_CRASH = 3
# Over 11 MB, past the line limits of naive readers (asyncio's default is 64 KiB).
HUGE_LINE_CHARS = 12 * 1024 * 1024
MALFORMED_LINE = '{"type":"assistant","message":{"id":"msg_truncated","content":[{"type":"te'
# Every kind of control a terminal acts on, in what an agent says and in a tool's result
# (the `hostile` fault): a view that prints any of it raw lets the agent drive the terminal.
# Each line, its controls made visible, fits in an agent pane of the 160-column dashboard.
HOSTILE_TEXT = "\n".join(
    (
        "osc 52: \x1b]52;c;aGVsbG8=\x07",
        "osc 0: \x1b]0;pwned-title\x1b\\ osc 2: \x1b]2;pwned-name\x07",
        "osc 8: \x1b]8;;http://example.invalid\x1b\\link\x1b]8;;\x1b\\",
        "dcs: \x1bPq#0;2;0;0;0#0~~\x1b\\ \x1bP+q544e\x1b\\",
        "apc: \x1b_Gf=100;AAAA\x1b\\ pm: \x1b^pm-text\x1b\\ sos: \x1bXsos-text\x07",
        "csi: \x1b[2J\x1b[H\x1b[31mred\x1b[0m \x1b[?1049h \x1b[?25l \x1b[6n",
        "esc: \x1bc \x1b7\x1b8 \x1b=",
        "c1: \x9b31m \x9d0;c1-title\x9c \x90c1-dcs\x9c \x98c1-sos\x9c",
        "c1 more: \x84\x85\x8d\x8e\x8f\x9e\x9f",
        "c0: \x00\x01\x07\x08\x0b\x0c\x0e\x0f\x1a\x7f",
        "bidi: \u202aa\u202bb\u202cc\u202dd\u202ee",
        "isolates: \u2066f\u2067g\u2068h\u2069i",
        "surrogates: \ud800 \udfff",
        "tab:\tx\ty",
        "carriage: 50%\rcarriage: done",
    )
)
OFF_FORMAT_TEXT = "I had a look around; the code seems fine and well organised."
# 150 different wide characters: every one of them must reach the screen.
CJK_LINE = "".join(chr(0x4E00 + 3 * index) for index in range(150))


class Fault(StrEnum):
    FAIL_ONCE = "fail_once"
    FAIL_ALWAYS = "fail_always"
    CRASH = "crash"
    HANG = "hang"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    AUTH = "auth"
    MALFORMED = "malformed"
    HUGE = "huge"
    MAX_TURNS = "max_turns"
    LEAK = "leak"  # prints its whole environment, then fails with it: tests redaction
    HOSTILE = "hostile"  # says HOSTILE_TEXT, a tool returns it, says CJK_LINE; carries on
    OFF_FORMAT = "off_format"  # succeeds with prose instead of the command's answer
    STRAY_EDIT = "stray_edit"  # edits README.md (creates STRAY.md too), then carries on


@dataclass(frozen=True)
class ApiError:
    """How one HTTP failure of the model API shows in the stream."""

    status: int
    error: str  # the assistant line's top-level `error`
    error_type: str  # the API's error type
    message: str
    retries: int = 0

    @property
    def text(self) -> str:
        body = {"type": "error", "error": {"type": self.error_type, "message": self.message}}
        return f"API Error: {self.status} {json.dumps(body, separators=(',', ':'))}"


API_ERRORS = {
    Fault.RATE_LIMIT: ApiError(429, "rate_limit", "rate_limit_error", "Rate limited (simulated)"),
    Fault.OVERLOADED: ApiError(
        529, "server_error", "overloaded_error", "Overloaded (simulated)", retries=2
    ),
    Fault.AUTH: ApiError(
        401, "authentication_failed", "authentication_error", "invalid x-api-key (simulated)"
    ),
}
# The first retry delays the real CLI reported (it backs off exponentially, with jitter).
RETRY_DELAYS_MS = (524, 1176, 2249, 4308, 8943)
MAX_RETRIES = 10


def parse_faults(spec: str) -> list[tuple[str, Fault]]:
    """`cmd=fault,...` pairs; unknown faults are reported on stderr and ignored."""
    rules: list[tuple[str, Fault]] = []
    for item in spec.split(","):
        command, _, name = item.strip().partition("=")
        if not item.strip():
            continue
        try:
            rules.append((command.strip().lstrip("/"), Fault(name.strip())))
        except ValueError:
            print(f"adw-sim: ignoring unknown fault {item.strip()!r}", file=sys.stderr)
    return rules


def select_fault(rules: list[tuple[str, Fault]], command: str, model: str = "") -> Fault | None:
    """The fault for `command` called with `model` (see the module's docstring)."""
    narrowed = (f"{command}@{model}", command, f"*@{model}", "*") if model else (command, "*")
    for wanted in narrowed:
        for rule_command, fault in rules:
            if rule_command == wanted and wanted:
                return fault
    return None


class FailOnceLedger:
    """Counts calls per (cwd, command) in a JSON file shared by all sim processes.

    An exclusive `flock` on a side file serialises the read-modify-write, so parallel
    runs in the same directory still see exactly one failure.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "fail_once.json"

    def first_call(self, cwd: Path, command: str) -> bool:
        """Record a call; True only for the very first one."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        key = f"{cwd}\0{command}"
        with open(self.state_dir / "fail_once.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                data = {}
            if not isinstance(data, dict):
                data = {}
            seen = int(data.get(key, 0))
            data[key] = seen + 1
            scratch = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            scratch.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
            os.replace(scratch, self.path)
        return seen == 0


def _api_error(session: Session, api: ApiError) -> int:
    """Retry lines (if any), the synthetic assistant message, and an is_error result."""
    for attempt in range(1, api.retries + 1):
        session.emit(
            functools.partial(
                api_retry_message,
                attempt=attempt,
                max_retries=MAX_RETRIES,
                delay_ms=RETRY_DELAYS_MS[(attempt - 1) % len(RETRY_DELAYS_MS)],
                status=api.status,
                error=api.error,
            )
        )
    session.emit(
        lambda env: api_error_message(
            env,
            message_id=env.uuid,
            text=api.text,
            error=api.error,
            status=api.status,
            error_type=api.error_type,
        )
    )
    session.finish(
        Outcome(
            is_error=True,
            text=api.text,
            stop_reason="stop_sequence",
            terminal_reason="api_error",
            api_error_status=api.status,
            api_error_type=api.error_type,
        ),
        num_turns=1,
    )
    return 1


def _huge_text() -> str:
    unit = "This line is deliberately huge (simulated fault). "
    return (unit * (HUGE_LINE_CHARS // len(unit) + 1))[:HUGE_LINE_CHARS]


def inject(fault: Fault, session: Session, *, command: str, ledger: FailOnceLedger) -> int | None:
    """Apply `fault` after the init line: an exit code to stop with, or None to carry on.

    `crash` returns EXIT_CRASH having written no result; `hang` never returns.
    """
    if fault in API_ERRORS:
        return _api_error(session, API_ERRORS[fault])
    if fault is Fault.FAIL_ONCE and not ledger.first_call(session.invocation.cwd, command):
        return None
    if fault in (Fault.FAIL_ONCE, Fault.FAIL_ALWAYS):
        session.fail_execution(f"simulated fault {fault.value} for /{command or '*'}")
        return 1
    if fault is Fault.CRASH:
        session.say("Starting on it.")
        print("adw-sim: simulated crash (ADW_SIM_FAULTS)", file=sys.stderr, flush=True)
        return EXIT_CRASH
    if fault is Fault.HANG:
        while True:
            time.sleep(3600)
    if fault is Fault.LEAK:
        # Secret-looking names first: an error message is truncated when stored, and the
        # secrets must be inside what is kept whatever else the environment holds.
        ordered = sorted(os.environ.items(), key=lambda item: (not _looks_secret(item[0]), item))
        leaked = " ".join(f"{name}={value}" for name, value in ordered)
        session.say(f"My environment: {leaked}")
        session.fail_execution(f"simulated fault leak: {leaked}")
        return 1
    if fault is Fault.HOSTILE:
        for line in HOSTILE_TEXT.split("\n"):  # a message each: each reaches the screen
            session.say(line)
        session.tool(
            "Bash",
            {"command": "cat notes.txt", "description": "Read the notes"},
            lambda: ToolOutcome(HOSTILE_TEXT),
        )
        session.say(CJK_LINE)
        return None
    if fault is Fault.MAX_TURNS:
        session.say("Starting on it.")
        session.fail_max_turns()
        return 1
    if fault is Fault.OFF_FORMAT:
        session.succeed(OFF_FORMAT_TEXT)
        return 0
    if fault is Fault.STRAY_EDIT:
        tools = Toolbox(session, session.invocation.cwd)
        readme = tools.path("README.md")
        before = readme.read_text(encoding="utf-8") if readme.is_file() else ""
        tools.write("README.md", before + "\nA stray edit (simulated fault).\n")
        tools.write("STRAY.md", "A stray file (simulated fault).\n")
        return None
    if fault is Fault.MALFORMED:
        session.on_first_turn(lambda: session.emit_raw(MALFORMED_LINE))
    elif fault is Fault.HUGE:
        session.on_first_turn(lambda: session.say(_huge_text(), new_turn=False))
    return None


def _looks_secret(name: str) -> bool:
    return name.upper().endswith(("TOKEN", "SECRET", "KEY", "_PAT", "PASSWORD"))
