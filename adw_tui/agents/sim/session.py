"""One simulated conversation: ids, turns, token totals, and the lines it emits.

Every id (session, line uuid, message id, tool-use id) and every timestamp comes from a
counter and a UUID5 namespace, so two runs with the same inputs emit identical lines;
only `duration_ms` measures real time.
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adw_tui.agents.sim.invocation import Invocation, Knobs
from adw_tui.agents.sim.output import Sink
from adw_tui.agents.sim.stream import (
    Envelope,
    Message,
    Outcome,
    assistant_message,
    result_message,
    text_block,
    tool_result_message,
    tool_use_block,
)
from adw_tui.agents.sim.usage import (
    API_MS_PER_TURN,
    CONTEXT_GROWTH_PER_TURN,
    Tally,
    estimate_tokens,
    message_usage,
    output_tokens_for,
)

SIM_NAMESPACE = uuid.UUID("5d1b7a52-6c1e-4f0e-9a57-3c0f2d9e4a11")
# Timestamps run on a simulated clock: a fixed start and a fixed step per line.
SIM_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SIM_STEP = timedelta(milliseconds=25)


class MaxTurnsReached(Exception):
    """The next model turn would exceed `--max-turns`."""


@dataclass(frozen=True)
class ToolOutcome:
    """What a simulated tool returned: the text the model sees and the CLI's metadata."""

    content: str
    is_error: bool = False
    metadata: dict[str, Any] | str = field(default_factory=dict)
    exit_code: int | None = None


def session_id_for(invocation: Invocation) -> str:
    """Resumed sessions keep their id; new ones get a UUID5 of the cwd and the prompt."""
    if invocation.resume:
        return invocation.resume
    return str(uuid.uuid5(SIM_NAMESPACE, f"{invocation.cwd}\0{invocation.prompt}"))


class Session:
    """Emits one run's messages through a sink and keeps its turn and token accounting."""

    def __init__(self, invocation: Invocation, knobs: Knobs, sink: Sink) -> None:
        self.invocation = invocation
        self.session_id = session_id_for(invocation)
        self.tally = Tally(model=invocation.model)
        self.turns = 0
        self._knobs = knobs
        self._sink = sink
        self._namespace = uuid.uuid5(SIM_NAMESPACE, self.session_id)
        self._lines = 0
        self._tool_uses = 0
        self._message_id = ""
        self._turn_input_tokens = 0
        self._prompt_tokens = estimate_tokens(invocation.prompt)
        self._started = time.monotonic()
        self._first_turn_hooks: list[Callable[[], None]] = []

    # -- ids and envelopes -------------------------------------------------------------

    def _derived_id(self, kind: str, n: int) -> str:
        return uuid.uuid5(self._namespace, f"{kind}-{n}").hex[:24]

    def envelope(self) -> Envelope:
        """The envelope of the next line (and advance the line counter)."""
        n = self._lines
        return Envelope(
            session_id=self.session_id,
            uuid=str(uuid.uuid5(self._namespace, f"line-{n}")),
            timestamp=(SIM_EPOCH + n * SIM_STEP).isoformat(timespec="milliseconds")[:-6] + "Z",
        )

    # -- emitting ----------------------------------------------------------------------

    def _pace(self) -> None:
        if self._lines and self._knobs.delay:
            time.sleep(self._knobs.delay)
        self._lines += 1

    def emit(self, build: Callable[[Envelope], Message]) -> Message:
        """Build a message from the next envelope and write it."""
        message = build(self.envelope())
        self._pace()
        self._sink.emit(message)
        return message

    def emit_raw(self, line: str) -> None:
        self._pace()
        self._sink.emit_raw(line)

    def on_first_turn(self, hook: Callable[[], None]) -> None:
        """Run `hook` when the first model turn starts, before its first line.

        Faults use it to put a line mid-stream without changing the turn count or the
        final text.
        """
        self._first_turn_hooks.append(hook)

    # -- turns -------------------------------------------------------------------------

    def begin_turn(self) -> None:
        """Start a model turn, unless `--max-turns` forbids it."""
        limit = self.invocation.max_turns
        if limit is not None and self.turns >= limit:
            raise MaxTurnsReached
        self.turns += 1
        self._message_id = "msg_" + self._derived_id("message", self.turns)
        self._turn_input_tokens = self._prompt_tokens + CONTEXT_GROWTH_PER_TURN * (self.turns - 1)
        self.tally.add(self._turn_input_tokens, 0)

    def assistant(self, block: Message, *, new_turn: bool = True) -> None:
        """Emit one content block as an assistant line (a new turn, or the current one)."""
        if new_turn or not self._message_id:
            self.begin_turn()
        hooks, self._first_turn_hooks = self._first_turn_hooks, []
        for hook in hooks:
            hook()
        output_tokens = output_tokens_for(str(block.get("text") or block.get("input") or ""))
        self.tally.add(0, output_tokens)
        self.emit(
            lambda env: assistant_message(
                env,
                message_id=self._message_id,
                model=self.invocation.model,
                content=[block],
                usage=message_usage(self._turn_input_tokens, output_tokens),
            )
        )

    def say(self, text: str, *, new_turn: bool = True) -> None:
        self.assistant(text_block(text), new_turn=new_turn)

    def tool(
        self,
        name: str,
        tool_input: dict[str, Any],
        run: Callable[[], ToolOutcome],
        *,
        preface: str | None = None,
    ) -> ToolOutcome:
        """One tool call: the assistant's tool_use line, the real effect, the tool_result line.

        A `preface` is a text block of the same model message, written as its own line
        before the tool_use (the CLI writes one line per content block).
        """
        self.begin_turn()
        if preface:
            self.say(preface, new_turn=False)
        self._tool_uses += 1
        tool_use_id = "toolu_" + self._derived_id("tool", self._tool_uses)
        self.assistant(tool_use_block(tool_use_id, name, tool_input), new_turn=False)
        outcome = run()
        self.emit(
            lambda env: tool_result_message(
                env,
                tool_use_id=tool_use_id,
                content=outcome.content,
                is_error=outcome.is_error,
                tool_use_result=outcome.metadata,
            )
        )
        return outcome

    # -- the end -----------------------------------------------------------------------

    def finish(self, outcome: Outcome, *, num_turns: int | None = None) -> Message:
        """Emit the `result` line."""
        turns = self.turns if num_turns is None else num_turns
        return self.emit(
            lambda env: result_message(
                env,
                outcome=outcome,
                tally=self.tally,
                num_turns=turns,
                duration_ms=int((time.monotonic() - self._started) * 1000),
                duration_api_ms=API_MS_PER_TURN * self.turns,
            )
        )

    def succeed(self, text: str) -> Message:
        """Say `text` as the final turn and end with a successful result carrying it."""
        self.say(text)
        return self.finish(Outcome(text=text))

    def fail_max_turns(self) -> Message:
        """End as the CLI does at the turn cap: it counts the turn it refused to start."""
        limit = self.invocation.max_turns or self.turns
        return self.finish(
            Outcome(
                subtype="error_max_turns",
                is_error=True,
                stop_reason="tool_use",
                terminal_reason="max_turns",
                errors=(f"Reached maximum number of turns ({limit})",),
            ),
            num_turns=self.turns + 1,
        )

    def fail_execution(self, error: str) -> Message:
        return self.finish(
            Outcome(
                subtype="error_during_execution",
                is_error=True,
                stop_reason="end_turn",
                terminal_reason="error_during_execution",
                errors=(error,),
            )
        )
