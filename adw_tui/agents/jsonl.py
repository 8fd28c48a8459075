"""The one JSONL line reader: bytes in, parsed lines out, with bounded memory.

Agent CLIs write one JSON object per line, but a pipe delivers arbitrary chunks: a line
may arrive in pieces, be blank, carry invalid UTF-8, be cut off at the end, or be huge
(a tool result holding a whole file). The splitter keeps at most `max_line_bytes` of an
unfinished line; a longer line is skipped (the raw file still holds it) and reported.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_LINE_BYTES = 10 * 1024 * 1024


@dataclass(slots=True)
class JsonLine:
    """A line that held a JSON object. Not frozen: a frozen dataclass's `__init__` sets
    each field through `object.__setattr__`, which cost a tenth of parsing the line; nothing
    changes one after the splitter made it."""

    number: int
    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that could not be used, and why; it is kept in the raw output file."""

    number: int
    reason: str
    size: int


ParsedLine = JsonLine | BadLine


class JsonlSplitter:
    """Feed it chunks; it returns the complete lines they finish, parsed."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._max = max_line_bytes
        self._pending = bytearray()
        self._skipped: int | None = None  # bytes of an oversized line being skipped
        self._number = 0

    @property
    def lines_seen(self) -> int:
        return self._number

    def feed(self, chunk: bytes) -> Iterator[ParsedLine]:
        """The lines `chunk` completes, each parsed as the caller takes it.

        The chunk is split (and its unfinished end kept) at once; parsing waits for the
        iteration, so that a line's objects are freed before the next line is parsed. A
        chunk's lines parsed all at once (some hundreds of objects each) kept the garbage
        collector walking them over and over: a sixth of the reader's time."""
        oversized: BadLine | None = None
        if self._skipped is not None:
            end = chunk.find(b"\n")
            if end < 0:
                self._skipped += len(chunk)
                return iter(())
            oversized = self._oversized(self._skipped + end)
            chunk = chunk[end + 1 :]
        complete: list[bytes | bytearray] = [*chunk.split(b"\n")]
        rest = complete.pop()
        if complete and self._pending:
            # Appending to a bytearray keeps a line that arrives in many chunks linear.
            self._pending += complete[0]
            complete[0] = self._pending
            self._pending = bytearray()
        first = self._number + 1
        self._number += len(complete)
        self._hold(rest)
        parsed = _parsed(complete, first)
        return parsed if oversized is None else _after(oversized, parsed)

    def _hold(self, partial: bytes | bytearray) -> None:
        self._pending += partial
        if len(self._pending) > self._max:
            self._skipped, self._pending = len(self._pending), bytearray()

    def close(self) -> list[ParsedLine]:
        """The last line, when the stream ended without a newline."""
        parsed: list[ParsedLine] = []
        if self._skipped is not None:
            parsed.append(self._oversized(self._skipped))
        elif self._pending.strip():
            self._number += 1
            parsed.extend(_parsed([self._pending], self._number))
        self._pending = bytearray()
        return parsed

    def _oversized(self, size: int) -> BadLine:
        self._number += 1
        self._skipped = None
        return BadLine(
            self._number,
            f"line of {size:,} bytes is over the {self._max:,}-byte limit; "
            "it is kept in raw_output.jsonl but not parsed",
            size,
        )


_DECODER = json.JSONDecoder()


def _parsed(lines: list[bytes | bytearray], first: int) -> Iterator[ParsedLine]:
    """`lines` parsed, the first being line number `first`; blank ones left out."""
    for number, line in enumerate(lines, first):
        item = parse_line(line, number)
        if item is not None:
            yield item


def _after(first: ParsedLine, rest: Iterator[ParsedLine]) -> Iterator[ParsedLine]:
    yield first
    yield from rest


def parse_line(line: bytes | bytearray, number: int) -> ParsedLine | None:
    """One line (without its newline) parsed as line `number`; None for a blank line.

    Used by the splitter, and on its own by readers that jump to a line of a saved file.
    """
    if not line or line.isspace():  # `line.strip()` would copy the line
        return None
    try:
        value = _loads(line)
    except ValueError as error:
        return BadLine(number, f"invalid JSON: {error}", len(line))
    if not isinstance(value, dict):
        return BadLine(number, f"a JSON {type(value).__name__}, not an object", len(line))
    return JsonLine(number, value)


def _loads(line: bytes | bytearray) -> Any:
    """`json.loads(line)`, invalid UTF-8 replaced. The common line (valid UTF-8, nothing
    around the value) is decoded and scanned directly, which spares `json.loads`'s
    encoding sniffing and whitespace matching; anything else takes `json.loads`, whose
    error says what is wrong."""
    try:
        text = line.decode()
        value, end = _DECODER.raw_decode(text)
        if end == len(text):
            return value
    except ValueError:  # UnicodeDecodeError and JSONDecodeError both are
        pass
    try:
        return json.loads(line)
    except UnicodeDecodeError:
        return json.loads(bytes(line).decode("utf-8", errors="replace"))
