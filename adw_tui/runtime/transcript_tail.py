"""Follow the agent transcript of a run that another process executes.

A run started by another `adw` process (an `adw run` in another terminal) sends this
process no events; what its agent says reaches only its step's `raw_output.jsonl`
(see `Orchestrator.transcript_path`). `TranscriptFollower` finds the run's newest step
attempt in the store and `TranscriptTail` reads what the agent appended to that file
since the last poll (`StoredTail` the chunks a worker on another host shipped to the
database, when the run runs there): the complete lines, through the engines' JSONL
splitter and the stream parser of the engine the attempt recorded, into the same
AgentEvents a local run publishes. The file is read and
parsed in a thread, at most `chunk_bytes` a poll, so the event loop never waits on it.
"""

import asyncio
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from adw_tui.agents.jsonl import JsonlSplitter
from adw_tui.agents.registry import parser_for
from adw_tui.domain.agent import AgentEvent
from adw_tui.domain.fleet import owned_elsewhere
from adw_tui.domain.steps import StepAttempt
from adw_tui.store import Store
from adw_tui.store.transcripts import whole_lines

CHUNK_BYTES = 1024 * 1024
TAIL_BYTES = 256 * 1024
"""How much of an attempt's file, already written when following starts, is shown."""

MTIME_SLACK_S = 0.05
"""How much earlier than the attempt's start its file's mtime may read and still be its
own: a filesystem stamps mtimes from a clock that ticks every few milliseconds (Linux:
the coarse clock, a jiffy), so a file written just after the attempt began can carry a
time just before it."""

TranscriptPath = Callable[[str, str], Path]
"""(adw_id, agent name) -> its raw_output.jsonl."""


class TranscriptTail:
    """The events of the lines appended to one `raw_output.jsonl`, as they come.

    `engine`: the engine that writes the file (its parser reads the lines).
    `from_end`: start with the file's last `TAIL_BYTES` (from the first line that
    begins in them) rather than its first byte, for a file that may already be long.
    `not_before`: a file last written before that time is an older attempt's, still
    there because this attempt has not opened (and truncated) it yet: it is not read.
    A file that becomes shorter than what was read was rewritten: it is read again from
    its start.
    """

    def __init__(
        self,
        path: Path,
        *,
        engine: str | None = None,
        from_end: bool = False,
        not_before: datetime | None = None,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.path = path
        self._engine = engine
        self._from_end = from_end
        self._not_before = not_before.timestamp() - MTIME_SLACK_S if not_before else None
        self._chunk_bytes = chunk_bytes
        self._offset: int | None = None
        self._skip_partial = False
        self._splitter = JsonlSplitter()
        self._parser = parser_for(engine)

    async def read(self) -> list[AgentEvent]:
        """The events of the complete lines appended since the last read."""
        return await asyncio.to_thread(self._read)

    def _read(self) -> list[AgentEvent]:
        try:
            with self.path.open("rb") as file:
                stat = os.fstat(file.fileno())
                if self._not_before is not None and stat.st_mtime < self._not_before:
                    return []
                if self._offset is None or stat.st_size < self._offset:
                    self._restart(stat.st_size)
                assert self._offset is not None
                file.seek(self._offset)
                chunk = file.read(self._chunk_bytes)
        except FileNotFoundError:
            return []
        if self._skip_partial:
            end = chunk.find(b"\n")
            if end < 0:
                self._offset += len(chunk)
                return []
            self._skip_partial = False
            self._offset += end + 1
            chunk = chunk[end + 1 :]
        self._offset += len(chunk)
        parser = self._parser
        return [event for line in self._splitter.feed(chunk) for event in parser.events(line)]

    def _restart(self, size: int) -> None:
        """Read from the start (or, the first time and `from_end`, near the end)."""
        start = max(0, size - TAIL_BYTES) if self._offset is None and self._from_end else 0
        self._offset = start
        # Mid-file, the bytes up to the next newline end a line that began before them.
        self._skip_partial = start > 0
        self._splitter = JsonlSplitter()
        self._parser = parser_for(self._engine)


class TranscriptFollower:
    """The live transcript of one run another process executes: the file of its newest
    step attempt, switching to the next attempt's file when one starts."""

    def __init__(self, store: Store, adw_id: str, path_of: TranscriptPath) -> None:
        self.adw_id = adw_id
        self._store = store
        self._path_of = path_of
        self.attempt: StepAttempt | None = None
        """The step attempt followed (None until the run has one)."""
        self._tail: Tail | None = None

    async def poll(self) -> list[AgentEvent]:
        """What the run's agent said since the last poll."""
        attempts = await self._store.steps.for_run(self.adw_id)
        latest = attempts[-1] if attempts else None
        if latest is not None and (self.attempt is None or latest.id != self.attempt.id):
            # The first attempt seen may have been running for long: show its tail. A
            # later one starts with the run followed, so all of its file is new.
            first = self.attempt is None
            self.attempt = latest
            self._tail = await self._tail_of(latest, first=first) if latest.agent else None
        return [] if self._tail is None else await self._tail.read()

    async def _tail_of(self, attempt: StepAttempt, *, first: bool) -> "Tail":
        """The attempt's file when the run runs on this host; else (a worker on another
        host runs it) its chunks in the database."""
        assert attempt.agent is not None
        if owned_elsewhere((await self._store.get_run(self.adw_id)).owner):
            return StoredTail(self._store, attempt.id, engine=attempt.engine)
        return TranscriptTail(
            self._path_of(self.adw_id, attempt.agent),
            engine=attempt.engine,
            from_end=first,
            not_before=attempt.started_at,
        )


class StoredTail:
    """The events of an attempt's transcript chunks in the database (a fleet run's, see
    `adw_tui.runtime.transcript_ship`), as they come."""

    def __init__(self, store: Store, attempt_id: int, *, engine: str | None = None) -> None:
        self._store = store
        self._attempt_id = attempt_id
        self._seq = 0
        self._splitter = JsonlSplitter()
        self._parser = parser_for(engine)

    async def read(self) -> list[AgentEvent]:
        events: list[AgentEvent] = []
        for seq, lines in await self._store.transcripts.after(self._attempt_id, self._seq):
            self._seq = seq
            chunk = whole_lines(lines).encode("utf-8")
            events.extend(
                event for line in self._splitter.feed(chunk) for event in self._parser.events(line)
            )
        return events


Tail = TranscriptTail | StoredTail
