"""Step attempts: every try of every step, with what its agent call cost."""

from dataclasses import dataclass
from functools import partial
from itertools import groupby

from adw_tui.domain.agent import AgentResult
from adw_tui.domain.steps import StepAttempt, StepStatus, StepSummary
from adw_tui.store.backend import Backend, now_iso, rerun_when_lost
from adw_tui.store.group_commit import SyncWriter


@dataclass(frozen=True)
class AttemptEnd:
    """How an attempt ended, to be written with the state version it produced."""

    attempt_id: int
    status: StepStatus
    result: AgentResult | None = None
    error: str | None = None


def write_attempt_end(connection: SyncWriter, end: AttemptEnd) -> None:
    """Close an attempt inside the caller's transaction. Its agent call's cost is added to
    the run's in the same transaction, so `runs.cost_usd` always equals the sum of its
    attempts."""
    result = end.result
    cost = result.cost_usd if result else 0.0
    connection.send(
        "UPDATE step_attempts SET status = ?, finished_at = ?, session_id = ?, "
        "cost_usd = ?, input_tokens = ?, output_tokens = ?, duration_ms = ?, "
        "error_class = ?, error_message = ? WHERE id = ?",
        (
            end.status,
            now_iso(),
            result.session_id if result else None,
            cost,
            result.input_tokens if result else 0,
            result.output_tokens if result else 0,
            result.duration_ms if result else None,
            str(result.error_class) if result and not result.success else None,
            end.error,
            end.attempt_id,
        ),
    )
    connection.send(
        "UPDATE runs SET cost_usd = cost_usd + ?, updated_at = ? WHERE adw_id = "
        "(SELECT adw_id FROM step_attempts WHERE id = ?)",
        (cost, now_iso(), end.attempt_id),
    )


class StepAttempts:
    def __init__(self, database: Backend) -> None:
        self._db = database

    @rerun_when_lost
    async def start(
        self,
        adw_id: str,
        step: str,
        *,
        visit: int,
        attempt: int,
        agent: str | None = None,
        engine: str | None = None,
        model: str | None = None,
    ) -> int:
        """Record that an attempt began; returns its id for `finish`."""
        async with self._db.transaction() as connection:
            [inserted] = await connection.execute_fetchall(
                "INSERT INTO step_attempts (adw_id, step, visit, attempt, agent, engine, model, "
                "status, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (adw_id, step, visit, attempt, agent, engine, model, StepStatus.RUNNING, now_iso()),
            )
            await connection.execute(
                "UPDATE runs SET current_step = ?, updated_at = ? WHERE adw_id = ?",
                (step, now_iso(), adw_id),
            )
        return int(inserted[0])

    @rerun_when_lost
    async def set_pgid(self, attempt_id: int, pgid: int) -> None:
        """The agent's process group, so recovery can kill it if this process dies."""
        async with self._db.transaction() as connection:
            await connection.execute(
                "UPDATE step_attempts SET pgid = ? WHERE id = ?", (pgid, attempt_id)
            )

    @rerun_when_lost
    async def set_session(self, attempt_id: int, session_id: str) -> None:
        """The agent's session as soon as it says it, so that a step stopped before its
        end (a pause) can go on from it."""
        async with self._db.transaction() as connection:
            await connection.execute(
                "UPDATE step_attempts SET session_id = ? WHERE id = ?", (session_id, attempt_id)
            )

    async def finish(
        self,
        attempt_id: int,
        status: StepStatus,
        *,
        result: AgentResult | None = None,
        error: str | None = None,
    ) -> None:
        """Close an attempt on its own (a retried attempt, or one recovery settles)."""
        await self._db.write(
            partial(write_attempt_end, end=AttemptEnd(attempt_id, status, result, error))
        )

    @rerun_when_lost
    async def close_running(
        self, adw_id: str, *, error: str, status: StepStatus = StepStatus.FAILED
    ) -> None:
        """Close the run's attempts still open as `status` (failed, or paused) with
        `error`: the run was stopped while they ran, so no state version will ever close
        them."""
        async with self._db.transaction() as connection:
            await connection.execute(
                "UPDATE step_attempts SET status = ?, finished_at = ?, error_message = ? "
                "WHERE adw_id = ? AND status = ?",
                (status, now_iso(), error, adw_id, StepStatus.RUNNING),
            )

    async def paused_session(self, adw_id: str) -> tuple[str, str] | None:
        """(step, session id) of the run's last attempt when a pause stopped it with a
        session: where and from what the run goes on."""
        row = await self._db.fetch_one(
            "SELECT step, status, session_id FROM step_attempts WHERE adw_id = ? "
            "ORDER BY id DESC LIMIT 1",
            (adw_id,),
        )
        if row is None or row["status"] != StepStatus.PAUSED or not row["session_id"]:
            return None
        return str(row["step"]), str(row["session_id"])

    async def for_run(self, adw_id: str) -> list[StepAttempt]:
        rows = await self._db.fetch_all(
            "SELECT * FROM step_attempts WHERE adw_id = ? ORDER BY id", (adw_id,)
        )
        return [StepAttempt.model_validate(dict(row)) for row in rows]

    async def last_engine(self, adw_id: str) -> str | None:
        """The engine the run's last agent call used (a resumed run goes on with it)."""
        row = await self._db.fetch_one(
            "SELECT engine FROM step_attempts WHERE adw_id = ? AND engine IS NOT NULL "
            "ORDER BY id DESC LIMIT 1",
            (adw_id,),
        )
        return None if row is None else str(row["engine"])

    async def abandoned_process_groups(self, error: str, since: str) -> set[int]:
        """The process groups of attempts closed with `error` (by recovery: their process
        died) since `since`, but for any a running attempt uses now (a reused id)."""
        rows = await self._db.fetch_all(
            "SELECT DISTINCT pgid FROM step_attempts WHERE pgid IS NOT NULL AND status = ? "
            "AND error_message = ? AND finished_at >= ? AND pgid NOT IN (SELECT pgid FROM "
            "step_attempts WHERE status = ? AND pgid IS NOT NULL)",
            (StepStatus.FAILED, error, since, StepStatus.RUNNING),
        )
        return {int(row["pgid"]) for row in rows}

    async def timeline(self, adw_id: str) -> list[StepSummary]:
        """One line per step visit, in the order they ran."""
        attempts = await self.for_run(adw_id)
        return [
            StepSummary.of(list(group))
            for _, group in groupby(attempts, key=lambda a: (a.step, a.visit))
        ]
