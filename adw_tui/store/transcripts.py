"""Agent transcripts in the database: the lines an agent of a fleet run wrote, in chunks
numbered per step attempt, so that a dashboard on any host can follow any run (the raw
file stays on the host that ran the agent). Secrets are redacted on the way in, as in
every write; old chunks are pruned by age, and the oldest past a total size."""

from adw_tui.store.backend import Backend, now_iso, rerun_when_lost


def whole_lines(lines: str) -> str:
    """A chunk's lines, each ended: every chunk ends with its last line's newline but
    the one holding an agent's very last line, which may have come without one."""
    return lines if lines.endswith("\n") else f"{lines}\n"


class Transcripts:
    def __init__(self, database: Backend) -> None:
        self._db = database

    @rerun_when_lost
    async def append(self, attempt_id: int, seq: int, lines: str) -> None:
        """Chunk `seq` (from 1) of the attempt: complete lines, newline-separated."""
        async with self._db.transaction() as connection:
            await connection.execute(
                "INSERT INTO transcript_chunks (attempt_id, seq, lines, at) VALUES (?, ?, ?, ?)",
                (attempt_id, seq, lines, now_iso()),
            )

    async def after(self, attempt_id: int, seq: int, *, limit: int = 500) -> list[tuple[int, str]]:
        """The attempt's chunks numbered over `seq`, in order: (seq, lines)."""
        rows = await self._db.fetch_all(
            "SELECT seq, lines FROM transcript_chunks WHERE attempt_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (attempt_id, seq, limit),
        )
        return [(int(row["seq"]), str(row["lines"])) for row in rows]

    @rerun_when_lost
    async def prune(self, before: str) -> int:
        """Delete the chunks written before `before` (ISO time); how many."""
        async with self._db.transaction() as connection:
            cursor = await connection.execute(
                "DELETE FROM transcript_chunks WHERE at < ?", (before,)
            )
            return int(cursor.rowcount)

    @rerun_when_lost
    async def prune_to_size(self, keep_chars: int) -> int:
        """Delete the oldest chunks until the rest hold at most `keep_chars` characters
        of transcript; how many were deleted. Characters, not bytes (SQLite before 3.43
        has no `octet_length`): for agents' JSON lines, mostly ASCII, about the same."""
        async with self._db.transaction() as connection:
            cursor = await connection.execute(
                "DELETE FROM transcript_chunks WHERE (attempt_id, seq) IN ("
                " SELECT attempt_id, seq FROM ("
                "  SELECT attempt_id, seq, SUM(LENGTH(lines)) OVER ("
                "   ORDER BY at DESC, attempt_id DESC, seq DESC) AS newer"
                "  FROM transcript_chunks) AS sized"
                " WHERE newer > ?)",
                (keep_chars,),
            )
            return int(cursor.rowcount)
