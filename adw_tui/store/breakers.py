"""Circuit breakers, kept in the database so every process sees one state and a restart
does not reset it.

Each change is a read-modify-write inside one `BEGIN IMMEDIATE` transaction: processes
updating the same breaker at once are serialised, so none of their outcomes is lost and
only one of them can take a half-open breaker's probe. The transitions themselves are the
pure functions of `adw_tui.domain.breakers`.
"""

import builtins
from datetime import datetime

from adw_tui.domain.breakers import Breaker, BreakerPolicy, Outcome
from adw_tui.store.audit import record_audit
from adw_tui.store.backend import Backend, Writer, rerun_when_lost


class Breakers:
    def __init__(self, database: Backend) -> None:
        self._db = database

    async def get(self, name: str) -> Breaker:
        """The breaker called `name`; one never used is closed."""
        row = await self._db.fetch_one("SELECT * FROM breakers WHERE name = ?", (name,))
        return Breaker.model_validate(dict(row)) if row is not None else Breaker(name=name)

    async def list(self) -> builtins.list[Breaker]:
        """Every breaker that has recorded something, by name."""
        rows = await self._db.fetch_all("SELECT * FROM breakers ORDER BY name")
        return [Breaker.model_validate(dict(row)) for row in rows]

    @rerun_when_lost
    async def record(
        self,
        name: str,
        outcome: Outcome,
        *,
        now: datetime,
        policy: BreakerPolicy,
        actor: str,
        error: str | None = None,
        adw_id: str | None = None,
    ) -> Breaker:
        """Apply a call's outcome; returns the breaker after it. `adw_id`: the run whose
        call it was, for the audit entry of a state change."""
        async with self._db.transaction() as connection:
            before = await _read(connection, name)
            after = before.after(outcome, now, policy, error)
            await _save(connection, before, after, actor=actor, adw_id=adw_id)
        return after

    @rerun_when_lost
    async def try_probe(
        self,
        name: str,
        *,
        now: datetime,
        policy: BreakerPolicy,
        actor: str,
        adw_id: str | None = None,
    ) -> tuple[bool, Breaker]:
        """Let a caller through if the breaker allows it at `now`: always when closed; as
        the probe when its cool-down has passed (open becomes half-open) or a half-open
        breaker has no live probe. Returns whether the caller may go, and the breaker."""
        async with self._db.transaction() as connection:
            before = await _read(connection, name)
            probing = before.probe(now, policy)
            if probing is None:
                return False, before
            await _save(connection, before, probing, actor=actor, adw_id=adw_id)
        return True, probing

    @rerun_when_lost
    async def reset(self, name: str, *, now: datetime, actor: str) -> Breaker:
        """Close the breaker and clear its counts; returns it as it was before."""
        async with self._db.transaction() as connection:
            before = await _read(connection, name)
            if before.updated_at is not None:  # a name never used has no row to reset
                await _write(connection, Breaker(name=name, updated_at=now))
            await record_audit(
                connection,
                actor=actor,
                action="breaker.reset",
                detail={
                    "name": name,
                    "from": before.state,
                    "consecutive_failures": before.consecutive_failures,
                },
            )
        return before


async def _read(connection: Writer, name: str) -> Breaker:
    """The breaker, read inside the caller's write transaction."""
    rows = list(await connection.execute_fetchall("SELECT * FROM breakers WHERE name = ?", (name,)))
    return Breaker.model_validate(dict(rows[0])) if rows else Breaker(name=name)


async def _save(
    connection: Writer,
    before: Breaker,
    after: Breaker,
    *,
    actor: str,
    adw_id: str | None,
) -> None:
    """Store `after` unless nothing changed; a change of state gets an audit entry
    `breaker.<new state>`."""
    if after == before:
        return
    await _write(connection, after)
    if after.state is not before.state:
        await record_audit(
            connection,
            actor=actor,
            action=f"breaker.{after.state}",
            adw_id=adw_id,
            detail={
                "name": after.name,
                "from": before.state,
                "consecutive_failures": after.consecutive_failures,
                "last_error": after.last_error,
            },
        )


async def _write(connection: Writer, breaker: Breaker) -> None:
    await connection.execute(
        "INSERT INTO breakers (name, state, consecutive_failures, consecutive_successes, "
        "opened_at, probe_started_at, updated_at, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET state = excluded.state, "
        "consecutive_failures = excluded.consecutive_failures, "
        "consecutive_successes = excluded.consecutive_successes, "
        "opened_at = excluded.opened_at, probe_started_at = excluded.probe_started_at, "
        "updated_at = excluded.updated_at, last_error = excluded.last_error",
        (
            breaker.name,
            breaker.state,
            breaker.consecutive_failures,
            breaker.consecutive_successes,
            _iso(breaker.opened_at),
            _iso(breaker.probe_started_at),
            _iso(breaker.updated_at),
            breaker.last_error,
        ),
    )


def _iso(moment: datetime | None) -> str | None:
    """As `now_iso()` stores times: ISO 8601 with microseconds."""
    return moment.isoformat(timespec="microseconds") if moment is not None else None
