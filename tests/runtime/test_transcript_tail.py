"""Following a transcript another process writes: complete lines only, from the end when
it is long, again from the start when it is rewritten, the next attempt's file next, each
read by the parser of the engine that wrote it."""

import json
import os
import time
from pathlib import Path

import pytest

from adw_tui.agents.registry import parser_for
from adw_tui.domain.agent import AgentEvent
from adw_tui.domain.clock import utc_now
from adw_tui.domain.errors import AdwError
from adw_tui.runtime import transcript_tail
from adw_tui.runtime.transcript_tail import TranscriptFollower, TranscriptTail
from adw_tui.store import Store


def said(text: str) -> bytes:
    """One Claude stream-json line in which the assistant says `text`."""
    line = {"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}}
    return json.dumps(line).encode() + b"\n"


def texts(events: list[AgentEvent]) -> list[str]:
    return [event.text for event in events]


async def test_reads_the_complete_lines_appended_since_the_last_read(tmp_path: Path):
    path = tmp_path / "raw_output.jsonl"
    tail = TranscriptTail(path)
    assert await tail.read() == []  # not written yet
    path.write_bytes(said("one") + said("two")[:10])
    assert texts(await tail.read()) == ["one"]
    with path.open("ab") as file:
        file.write(said("two")[10:] + said("three"))
    assert texts(await tail.read()) == ["two", "three"]
    assert await tail.read() == []


async def test_a_long_file_is_followed_from_its_last_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(transcript_tail, "TAIL_BYTES", len(said("line 0")) * 3 + 5)
    path = tmp_path / "raw_output.jsonl"
    path.write_bytes(b"".join(said(f"line {n}") for n in range(10)))
    tail = TranscriptTail(path, from_end=True)
    assert texts(await tail.read()) == ["line 7", "line 8", "line 9"]


async def test_a_rewritten_file_is_read_again_from_its_start(tmp_path: Path):
    path = tmp_path / "raw_output.jsonl"
    path.write_bytes(said("first call, a long line") * 3)
    tail = TranscriptTail(path)
    assert len(await tail.read()) == 3
    path.write_bytes(said("second"))
    assert texts(await tail.read()) == ["second"]


async def test_a_file_stamped_a_clock_tick_before_the_attempt_began_is_read(tmp_path: Path):
    """The filesystem's clock is coarser than the attempt's: a file written just after
    the attempt began may carry a time a few milliseconds before it."""
    started = utc_now()
    path = tmp_path / "raw_output.jsonl"
    path.write_bytes(said("this attempt, at once"))
    a_tick_before = started.timestamp() - 0.004
    os.utime(path, (a_tick_before, a_tick_before))
    tail = TranscriptTail(path, not_before=started)
    assert texts(await tail.read()) == ["this attempt, at once"]


async def test_a_file_older_than_the_attempt_waits_to_be_rewritten(tmp_path: Path):
    path = tmp_path / "raw_output.jsonl"
    path.write_bytes(said("the previous attempt"))
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    tail = TranscriptTail(path, not_before=utc_now())
    assert await tail.read() == []
    path.write_bytes(said("this attempt"))
    assert texts(await tail.read()) == ["this attempt"]


async def test_the_follower_moves_to_each_new_attempts_file(tmp_path: Path):
    async with await Store.open(tmp_path / "agents" / "adw_state.db") as store:
        await store.create_run({"adw_id": "a1b2c3d4"}, workflow="sdlc", actor="test")

        def path_of(adw_id: str, agent: str) -> Path:
            return tmp_path / "agents" / adw_id / agent / "raw_output.jsonl"

        follower = TranscriptFollower(store, "a1b2c3d4", path_of)
        assert await follower.poll() == []
        assert follower.attempt is None
        await store.steps.start("a1b2c3d4", "plan", visit=1, attempt=1, agent="planner")
        planner = path_of("a1b2c3d4", "planner")
        planner.parent.mkdir(parents=True)
        planner.write_bytes(said("planning"))
        assert texts(await follower.poll()) == ["planning"]
        assert follower.attempt is not None
        assert (follower.attempt.step, follower.attempt.agent) == ("plan", "planner")
        await store.steps.start("a1b2c3d4", "worktree", visit=1, attempt=1)
        assert await follower.poll() == []  # a step without an agent: nothing to read
        await store.steps.start("a1b2c3d4", "build", visit=1, attempt=1, agent="builder")
        builder = path_of("a1b2c3d4", "builder")
        builder.parent.mkdir(parents=True)
        builder.write_bytes(said("building") + said("built"))
        assert texts(await follower.poll()) == ["building", "built"]
        assert follower.attempt.step == "build"


async def test_each_attempt_is_read_by_its_own_engines_parser(tmp_path: Path, shouting_engine: str):
    async with await Store.open(tmp_path / "agents" / "adw_state.db") as store:
        await store.create_run({"adw_id": "a1b2c3d4"}, workflow="sdlc", actor="test")

        def path_of(adw_id: str, agent: str) -> Path:
            return tmp_path / "agents" / adw_id / agent / "raw_output.jsonl"

        follower = TranscriptFollower(store, "a1b2c3d4", path_of)
        for agent, engine in (("planner", "claude"), ("builder", shouting_engine), ("old", None)):
            await store.steps.start(
                "a1b2c3d4", agent, visit=1, attempt=1, agent=agent, engine=engine
            )
            path_of("a1b2c3d4", agent).parent.mkdir(parents=True)
            path_of("a1b2c3d4", agent).write_bytes(said(f"{agent} says hi"))
            assert follower.attempt is None or follower.attempt.agent != agent
            [text] = texts(await follower.poll())
            assert text == ("BUILDER SAYS HI" if engine == shouting_engine else f"{agent} says hi")


def test_an_unknown_engine_is_named_with_the_known_ones() -> None:
    with pytest.raises(AdwError, match="unknown engine 'nonesuch': choose one of claude, sim"):
        parser_for("nonesuch")
