"""Dead letters: runs that failed for good, kept with what is needed to replay them."""

import builtins
import json
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from datetime import datetime
from typing import NamedTuple

from adw_tui.domain.errors import AdwError, DeadLetterNotFoundError
from adw_tui.domain.models import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetterStatus,
    NewDeadLetter,
    Replay,
    RunStatus,
)
from adw_tui.store.audit import record_audit
from adw_tui.store.backend import Backend, Row, Writer, now_iso, rerun_when_lost
from adw_tui.store.listing import Selection, count_of, listed, stored_time


class ListedLetter(NamedTuple):
    letter: DeadLetter
    issue: str | None
    """The issue of the letter's run."""


class DeadLetters:
    def __init__(self, database: Backend) -> None:
        self._db = database

    @rerun_when_lost
    async def add(self, letter: NewDeadLetter, *, actor: str) -> DeadLetter:
        """Record a dead letter and mark its run dead-lettered, in one transaction."""
        now = now_iso()
        async with self._db.transaction() as connection:
            [inserted] = await connection.execute_fetchall(
                "INSERT INTO dead_letters (adw_id, workflow, step, state_version, error_class, "
                "error_message, attempts, request, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    letter.adw_id,
                    letter.workflow,
                    letter.step,
                    letter.state_version,
                    letter.error_class,
                    letter.error_message,
                    letter.attempts,
                    json.dumps(letter.request, sort_keys=True),
                    DeadLetterStatus.PENDING,
                    now,
                ),
            )
            letter_id = int(inserted[0])
            await connection.execute(
                "UPDATE runs SET status = ?, updated_at = ? WHERE adw_id = ?",
                (RunStatus.DEAD_LETTERED, now, letter.adw_id),
            )
            await record_audit(
                connection,
                actor=actor,
                action="dead_letter.add",
                adw_id=letter.adw_id,
                detail={"letter_id": letter_id, "error_class": letter.error_class},
            )
        return await self.get(letter_id)

    async def list(self, *, include_resolved: bool = False) -> list[DeadLetter]:
        """Pending letters, oldest first, with their replays; with `include_resolved`,
        dropped and replayed ones too."""
        where = "" if include_resolved else "WHERE status = ?"
        params = () if include_resolved else (DeadLetterStatus.PENDING,)
        rows = await self._db.fetch_all(f"SELECT * FROM dead_letters {where} ORDER BY id", params)
        return await self._with_replays(rows)

    async def newest(
        self,
        selection: DeadLetterFilter = DeadLetterFilter(),  # noqa: B008 - frozen, immutable
        *,
        since: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> AsyncGenerator[ListedLetter, None]:
        """The letters `selection` takes, failed since `since` (None: any), newest first,
        each with its replays and its run's issue; at most `limit` after the first
        `offset`, read as iterated."""
        query = letters_selection(selection, since).rows(limit, offset)
        async with aclosing(listed(self._db, query)) as batches:
            async for rows in batches:
                letters = await self._with_replays(rows)
                for row, letter in zip(rows, letters, strict=True):
                    yield ListedLetter(letter, row["issue"])

    async def count(
        self,
        selection: DeadLetterFilter = DeadLetterFilter(),  # noqa: B008 - frozen, immutable
        *,
        since: datetime | None = None,
    ) -> int:
        """How many letters `newest` would give without a limit."""
        return await count_of(self._db, letters_selection(selection, since))

    async def marker(self) -> tuple[int, int]:
        """What changes whenever a letter is added or resolved: the newest id and how
        many are pending (letters are never deleted, and leave `pending` only). Two
        indexed reads, however many letters there are, for a view that asks often."""
        row = await self._db.fetch_one(
            "SELECT (SELECT max(id) FROM dead_letters), "
            "(SELECT count(*) FROM dead_letters WHERE status = ?)",
            (DeadLetterStatus.PENDING,),
        )
        assert row is not None
        return int(row[0] or 0), int(row[1])

    async def offered(self) -> tuple[builtins.list[str], builtins.list[str]]:
        """The error classes and the workflows of every letter, each sorted (read off
        the indexes that begin with them)."""
        classes = await self._db.fetch_all(
            "SELECT DISTINCT error_class FROM dead_letters ORDER BY error_class"
        )
        workflows = await self._db.fetch_all(
            "SELECT DISTINCT workflow FROM dead_letters ORDER BY workflow"
        )
        return [str(row[0]) for row in classes], [str(row[0]) for row in workflows]

    async def pending_for(self, adw_id: str) -> DeadLetter | None:
        """The run's newest pending letter, if it has one."""
        row = await self._db.fetch_one(
            "SELECT * FROM dead_letters WHERE adw_id = ? AND status = ? ORDER BY id DESC LIMIT 1",
            (adw_id, DeadLetterStatus.PENDING),
        )
        if row is None:
            return None
        [letter] = await self._with_replays([row])
        return letter

    async def get(self, letter_id: int) -> DeadLetter:
        """The letter with its replays, oldest first."""
        row = await self._db.fetch_one("SELECT * FROM dead_letters WHERE id = ?", (letter_id,))
        if row is None:
            raise DeadLetterNotFoundError(letter_id)
        [letter] = await self._with_replays([row])
        return letter

    async def _with_replays(self, rows: Sequence[Row]) -> builtins.list[DeadLetter]:
        letters = [_letter(row) for row in rows]
        if not letters:
            return letters
        by_id = {letter.id: letter for letter in letters}
        marks = ", ".join("?" for _ in by_id)
        replays = await self._db.fetch_all(
            f"SELECT * FROM dead_letter_replays WHERE letter_id IN ({marks}) ORDER BY id",
            tuple(by_id),
        )
        for replay in replays:
            by_id[replay["letter_id"]].replays.append(Replay.model_validate(dict(replay)))
        return letters

    @rerun_when_lost
    async def mark_replayed(
        self, letter_id: int, *, from_step: str, state_version: int, actor: str
    ) -> DeadLetter:
        """Take a pending letter off the queue as replayed, and record the replay."""
        now = now_iso()
        async with self._db.transaction() as connection:
            adw_id = await _pending(connection, letter_id)
            await connection.execute(
                "UPDATE dead_letters SET status = ?, resolved_at = ? WHERE id = ?",
                (DeadLetterStatus.REPLAYED, now, letter_id),
            )
            await connection.execute(
                "INSERT INTO dead_letter_replays (letter_id, adw_id, from_step, state_version, "
                "actor, replayed_at) VALUES (?, ?, ?, ?, ?, ?)",
                (letter_id, adw_id, from_step, state_version, actor, now),
            )
            await record_audit(
                connection,
                actor=actor,
                action="dead_letter.replay",
                adw_id=adw_id,
                detail={"letter_id": letter_id, "from_step": from_step},
            )
        return await self.get(letter_id)

    @rerun_when_lost
    async def drop(self, letter_id: int, *, actor: str) -> DeadLetter:
        """Mark a pending letter dropped; it leaves the queue but the row stays."""
        async with self._db.transaction() as connection:
            adw_id = await _pending(connection, letter_id)
            await connection.execute(
                "UPDATE dead_letters SET status = ?, resolved_at = ? WHERE id = ?",
                (DeadLetterStatus.DROPPED, now_iso(), letter_id),
            )
            await record_audit(
                connection,
                actor=actor,
                action="dead_letter.drop",
                adw_id=adw_id,
                detail={"letter_id": letter_id},
            )
        return await self.get(letter_id)


def letters_selection(selection: DeadLetterFilter, since: datetime | None) -> Selection:
    """The letters of a listing, newest first (indexes: dead_letters_by_status_time,
    _by_class_time, _by_workflow_time, _by_time; the id breaks ties of time, which each
    index ends with)."""
    return Selection(
        "dead_letters",
        "*, (SELECT issue FROM runs WHERE runs.adw_id = dead_letters.adw_id) AS issue",
        "created_at DESC, id DESC",
        (
            ("status = ?", selection.status),
            ("error_class = ?", selection.error_class),
            ("workflow = ?", selection.workflow),
            ("created_at >= ?", stored_time(since)),
        ),
        key="id",
    )


def _letter(row: Row) -> DeadLetter:
    """A letter from its row (a listing's `issue` column is ignored: not the letter's)."""
    return DeadLetter.model_validate({**dict(row), "request": json.loads(row["request"])})


async def _pending(connection: Writer, letter_id: int) -> str:
    """The letter's run, read inside a write transaction; only a pending letter passes."""
    rows = list(
        await connection.execute_fetchall(
            "SELECT status, adw_id FROM dead_letters WHERE id = ?", (letter_id,)
        )
    )
    if not rows:
        raise DeadLetterNotFoundError(letter_id)
    status, adw_id = str(rows[0]["status"]), str(rows[0]["adw_id"])
    if status != DeadLetterStatus.PENDING:
        raise AdwError(f"dead letter {letter_id} is already {status}")
    return adw_id
