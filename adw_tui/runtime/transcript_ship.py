"""Shipping an agent's transcript to the database as it streams (fleet runs), for
dashboards on other hosts (see `adw_tui.store.transcripts`).

The agent's own file is the source: every `interval_s` the complete lines appended to
the attempt's transcript since the last look go into the next chunk; the last, partial
line waits for its end. Nothing in the agent's path waits on it: a slow database delays
the copy, never the agent.
"""

import asyncio
import contextlib
import logging
from pathlib import Path

from adw_tui.store import Store

logger = logging.getLogger(__name__)

SHIP_INTERVAL_S = 0.2
MAX_CHUNK_BYTES = 1024 * 1024
"""At most this much of the file goes into one chunk."""


class TranscriptShipper:
    def __init__(
        self, store: Store, path: Path, attempt_id: int, *, interval_s: float = SHIP_INTERVAL_S
    ) -> None:
        self._store = store
        self._path = path
        self._attempt_id = attempt_id
        self._interval_s = interval_s
        self._offset = 0
        self._seq = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"adw-ship-{self._attempt_id}")

    async def close(self) -> None:
        """Stop, after shipping what the file holds now (a last line without its newline
        included: the agent has ended)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):  # logged in _ship; the run goes on
            await self._ship(final=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self._ship(final=False)
            except Exception:
                logger.exception("transcript of attempt %s not shipped", self._attempt_id)

    async def _ship(self, *, final: bool) -> None:
        chunk = await asyncio.to_thread(self._read)
        end = len(chunk) if final else chunk.rfind(b"\n") + 1
        if end <= 0:
            return
        self._seq += 1
        await self._store.transcripts.append(
            self._attempt_id, self._seq, chunk[:end].decode("utf-8", errors="replace")
        )
        self._offset += end

    def _read(self) -> bytes:
        try:
            with self._path.open("rb") as file:
                file.seek(self._offset)
                return file.read(MAX_CHUNK_BYTES)
        except FileNotFoundError:
            return b""
