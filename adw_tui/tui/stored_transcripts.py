"""Step attempts' transcripts as the database holds them (the chunks a worker on another
host ships as its agent streams, see `adw_tui.runtime.transcript_ship`), copied into local
files as the chunks come: `TranscriptFile`, which scrolls a file of any size by reading
only the lines on screen, then shows and follows a step that ran on another host as it
does a local agent's `raw_output.jsonl`.

The copies live in a temporary directory of their own, made at the first copy and
removed by `close` (the run detail screen's, as it goes)."""

import asyncio
import tempfile
from pathlib import Path

from adw_tui.store import Store
from adw_tui.store.transcripts import whole_lines

CHUNKS_PER_READ = 500


class StoredTranscripts:
    """The local copies of one screen's stored transcripts, one file per attempt."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._directory: tempfile.TemporaryDirectory[str] | None = None
        self._copied: dict[int, int] = {}
        """Each attempt copied: the number of its last chunk copied."""
        self._copying = asyncio.Lock()

    def path(self, attempt_id: int) -> Path:
        """Where the attempt's copy is (no file until a chunk came)."""
        if self._directory is None:
            self._directory = tempfile.TemporaryDirectory(
                prefix="adw-transcripts-", ignore_cleanup_errors=True
            )
        return Path(self._directory.name) / f"attempt-{attempt_id}.jsonl"

    async def pull(self, attempt_id: int) -> bool:
        """Append the attempt's chunks written since the last pull to its copy (each line
        ended, `whole_lines`); whether any came."""
        came = False
        async with self._copying:
            while chunks := await self._store.transcripts.after(
                attempt_id, self._copied.get(attempt_id, 0), limit=CHUNKS_PER_READ
            ):
                text = "".join(whole_lines(lines) for _, lines in chunks)
                await asyncio.to_thread(_append, self.path(attempt_id), text)
                self._copied[attempt_id] = chunks[-1][0]
                came = True
                if len(chunks) < CHUNKS_PER_READ:
                    break
        return came

    def close(self) -> None:
        """Remove the copies."""
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(text)
