"""Which process executes a run: claimed by compare-and-set, kept alive by heartbeats,
and asked through its row to pause it (`requested`, which the owner polls)."""

from typing import NoReturn

from adw_tui.domain.errors import RunClaimedError, RunNotFoundError
from adw_tui.domain.models import RunStatus
from adw_tui.store.audit import record_audit
from adw_tui.store.backend import Backend, Writer, now_iso, rerun_when_lost

CLAIMABLE = (RunStatus.QUEUED, RunStatus.INTERRUPTED)
PAUSE_REQUEST = "pause"
# Polled twice a second by every orchestrator with runs: through the partial index
# `runs_requested`, it reads only the rows with a request.
PAUSE_REQUESTS_SQL = "SELECT adw_id FROM runs WHERE owner = ? AND requested = ?"


class Claims:
    def __init__(self, database: Backend) -> None:
        self._db = database

    @rerun_when_lost
    async def claim(self, adw_id: str, owner: str) -> None:
        """Make `owner` the one process running the run; only a queued or interrupted run
        can be claimed, so of two processes racing for it exactly one wins."""
        now = now_iso()
        async with self._db.transaction() as connection:
            cursor = await connection.execute(
                "UPDATE runs SET status = ?, owner = ?, heartbeat_at = ?, updated_at = ? "
                f"WHERE adw_id = ? AND status IN ({', '.join('?' for _ in CLAIMABLE)})",
                (RunStatus.RUNNING, owner, now, now, adw_id, *CLAIMABLE),
            )
            if cursor.rowcount == 0:
                await _raise_for(connection, adw_id)
            await record_audit(connection, actor=owner, action="run.claim", adw_id=adw_id)

    @rerun_when_lost
    async def requeue(self, adw_id: str, *, actor: str, workflow: str | None = None) -> None:
        """Queue a run again to continue it, unless a process is executing it now; with
        `workflow`, the run goes on with that workflow (recovery resumes it too)."""
        async with self._db.transaction() as connection:
            cursor = await connection.execute(
                "UPDATE runs SET status = ?, updated_at = ?, workflow = COALESCE(?, workflow) "
                "WHERE adw_id = ? AND status != ?",
                (RunStatus.QUEUED, now_iso(), workflow, adw_id, RunStatus.RUNNING),
            )
            if cursor.rowcount == 0:
                await _raise_for(connection, adw_id)
            await record_audit(connection, actor=actor, action="run.requeue", adw_id=adw_id)

    @rerun_when_lost
    async def heartbeat(self, adw_id: str, owner: str) -> None:
        async with self._db.transaction() as connection:
            await connection.execute(
                "UPDATE runs SET heartbeat_at = ? WHERE adw_id = ? AND owner = ?",
                (now_iso(), adw_id, owner),
            )

    @rerun_when_lost
    async def release(self, adw_id: str, owner: str) -> None:
        """Drop the claim (the run's status stays as its executor left it), and with it
        any request to the owner it did not act on: it no longer executes the run."""
        async with self._db.transaction() as connection:
            await connection.execute(
                "UPDATE runs SET owner = NULL, requested = NULL WHERE adw_id = ? AND owner = ?",
                (adw_id, owner),
            )

    @rerun_when_lost
    async def request_pause(self, adw_id: str, *, actor: str) -> None:
        """Ask the process executing the run to pause it (see `pause_requests`); only a
        running run with an owner can be asked, else RunClaimedError (or not found)
        says what the run is."""
        async with self._db.transaction() as connection:
            cursor = await connection.execute(
                "UPDATE runs SET requested = ? "
                "WHERE adw_id = ? AND status = ? AND owner IS NOT NULL",
                (PAUSE_REQUEST, adw_id, RunStatus.RUNNING),
            )
            if cursor.rowcount == 0:
                await _raise_for(connection, adw_id)
            await record_audit(connection, actor=actor, action="run.pause_request", adw_id=adw_id)

    async def pause_requests(self, owner: str) -> list[str]:
        """The runs `owner` executes that it is asked to pause."""
        rows = await self._db.fetch_all(PAUSE_REQUESTS_SQL, (owner, PAUSE_REQUEST))
        return [str(row["adw_id"]) for row in rows]


async def _raise_for(connection: Writer, adw_id: str) -> NoReturn:
    """Why a claim or requeue did not apply: the run is missing, or someone has it."""
    rows = list(
        await connection.execute_fetchall(
            "SELECT status, owner FROM runs WHERE adw_id = ?", (adw_id,)
        )
    )
    if not rows:
        raise RunNotFoundError(adw_id)
    raise RunClaimedError(adw_id, rows[0]["status"], rows[0]["owner"])
