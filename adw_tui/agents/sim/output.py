"""Where messages go: a JSONL stream, one JSON array at the end, or the result text only."""

import json
import re
import sys
from typing import Any, BinaryIO, Protocol

from adw_tui.agents.sim.stream import Message

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encode(value: Any) -> str:
    """Compact JSON, non-ASCII kept as UTF-8 and a lone surrogate (which UTF-8 cannot
    hold) escaped, `\\ud800`: as JSON.stringify writes them."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _LONE_SURROGATE.sub(lambda found: f"\\u{ord(found[0]):04x}", text)


class Sink(Protocol):
    def emit(self, message: Message) -> None: ...

    def emit_raw(self, line: str) -> None:
        """Write `line` as is (a deliberately broken line); formats that cannot, drop it."""

    def close(self) -> None:
        """Called once after the last message of a run that ended normally."""


class _Writer:
    def __init__(self, out: BinaryIO | None = None) -> None:
        self._out = out if out is not None else sys.stdout.buffer

    def write_line(self, text: str) -> None:
        self._out.write(text.encode("utf-8") + b"\n")
        self._out.flush()


class StreamJsonSink(_Writer):
    """`--output-format stream-json`: every message is a line, flushed as it is written."""

    def emit(self, message: Message) -> None:
        self.write_line(encode(message))

    def emit_raw(self, line: str) -> None:
        self.write_line(line)

    def close(self) -> None:
        pass


class JsonArraySink(_Writer):
    """`--output-format json`: all messages as one JSON array, printed at the end."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        super().__init__(out)
        self._messages: list[Message] = []

    def emit(self, message: Message) -> None:
        self._messages.append(message)

    def emit_raw(self, line: str) -> None:
        pass

    def close(self) -> None:
        self.write_line(encode(self._messages))


class TextSink(_Writer):
    """`--output-format text` (the default): only the final result text."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        super().__init__(out)
        self._result: dict[str, Any] | None = None

    def emit(self, message: Message) -> None:
        if message.get("type") == "result":
            self._result = message

    def emit_raw(self, line: str) -> None:
        pass

    def close(self) -> None:
        if self._result is None:
            return
        text = self._result.get("result")
        if text is None:
            text = "\n".join(self._result.get("errors") or []) or "Error"
        self.write_line(str(text))


def make_sink(output_format: str) -> Sink:
    if output_format == "stream-json":
        return StreamJsonSink()
    if output_format == "json":
        return JsonArraySink()
    return TextSink()
