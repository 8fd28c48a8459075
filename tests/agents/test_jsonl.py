"""The JSONL splitter: chunk boundaries, bad lines, huge lines."""

import json
from typing import Any

from adw_tui.agents.jsonl import BadLine, JsonLine, JsonlSplitter, ParsedLine

LINES: list[dict[str, Any]] = [
    {"type": "system", "n": 1},
    {"type": "assistant", "text": "héllo ✓"},
    {"type": "result"},
]
STREAM = b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in LINES)


def feed_all(splitter: JsonlSplitter, chunks: list[bytes]) -> list[ParsedLine]:
    parsed: list[ParsedLine] = []
    for chunk in chunks:
        parsed += splitter.feed(chunk)
    return parsed + splitter.close()


def test_every_chunk_boundary_gives_the_same_lines():
    expected = [JsonLine(i + 1, line) for i, line in enumerate(LINES)]
    for cut in range(len(STREAM) + 1):
        assert feed_all(JsonlSplitter(), [STREAM[:cut], STREAM[cut:]]) == expected, cut
    byte_by_byte = [STREAM[i : i + 1] for i in range(len(STREAM))]
    assert feed_all(JsonlSplitter(), byte_by_byte) == expected


def test_blank_lines_are_skipped_but_counted():
    parsed = feed_all(JsonlSplitter(), [b'{"a":1}\n\n   \n{"b":2}\n'])
    assert parsed == [JsonLine(1, {"a": 1}), JsonLine(4, {"b": 2})]


def test_last_line_without_newline_is_parsed_at_close():
    splitter = JsonlSplitter()
    assert list(splitter.feed(b'{"a":1}\n{"b":')) == [JsonLine(1, {"a": 1})]
    assert list(splitter.feed(b"2}")) == []
    assert splitter.close() == [JsonLine(2, {"b": 2})]


def test_bad_lines_are_reported_and_never_stop_the_stream():
    parsed = feed_all(JsonlSplitter(), [b'{not json\n[1,2]\n"text"\n{"ok":true}\n{"cut'])
    assert [type(item) for item in parsed] == [BadLine, BadLine, BadLine, JsonLine, BadLine]
    assert parsed[3] == JsonLine(4, {"ok": True})
    bad = [item for item in parsed if isinstance(item, BadLine)]
    assert "invalid JSON" in bad[0].reason
    assert "list" in bad[1].reason
    assert bad[-1].number == 5


def test_invalid_utf8_is_replaced_not_fatal():
    parsed = feed_all(JsonlSplitter(), [b'{"text":"caf\xe9 \xff"}\n'])
    assert parsed == [JsonLine(1, {"text": "caf\ufffd \ufffd"})]


def test_oversized_line_is_skipped_with_bounded_memory():
    splitter = JsonlSplitter(max_line_bytes=1000)
    huge = b'{"big":"' + b"x" * 50_000 + b'"}'
    chunks = [b'{"a":1}\n', *(huge[i : i + 700] for i in range(0, len(huge), 700)), b'\n{"b":2}\n']
    parsed: list[ParsedLine] = []
    for chunk in chunks:
        parsed += splitter.feed(chunk)
        assert len(splitter._pending) <= 1000
    parsed += splitter.close()
    assert parsed[0] == JsonLine(1, {"a": 1})
    assert isinstance(parsed[1], BadLine)
    assert parsed[1].size == len(huge)
    assert "over the 1,000-byte limit" in parsed[1].reason
    assert parsed[2] == JsonLine(3, {"b": 2})


def test_oversized_last_line_is_reported_at_close():
    splitter = JsonlSplitter(max_line_bytes=10)
    assert list(splitter.feed(b"y" * 25)) == []
    [item] = splitter.close()
    assert isinstance(item, BadLine)
    assert item.size == 25


def test_a_chunk_is_split_at_once_and_its_lines_parsed_as_taken():
    """Lines are parsed while the caller iterates, yet the splitter's count and the unfinished
    line are settled when `feed` returns: a chunk whose lines nobody took leaves the next
    chunk's lines numbered as if they had been."""
    splitter = JsonlSplitter()
    splitter.feed(b'{"a":1}\n\n{"b"')
    assert splitter.lines_seen == 2
    assert list(splitter.feed(b':2}\n{"c":3}\n')) == [JsonLine(3, {"b": 2}), JsonLine(4, {"c": 3})]
