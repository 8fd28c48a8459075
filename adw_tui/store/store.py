"""The state store: runs and their append-only, versioned state.

Every state change writes version n+1 and moves the run row from n to n+1 by
compare-and-set, in one transaction; nothing is updated in place or deleted. A rollback
is a fork: a new version whose data equals an old one and whose parent is that old one.
"""

import json
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, aclosing
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from adw_tui import __version__
from adw_tui.domain.control import RunControl
from adw_tui.domain.diff import StateChange, diff_versions
from adw_tui.domain.errors import (
    ActiveRunError,
    AdwError,
    RunActiveError,
    RunExistsError,
    RunNotFoundError,
    SchemaMovedError,
    StaleVersionError,
    VersionNotFoundError,
)
from adw_tui.domain.modeling import Model
from adw_tui.domain.models import (
    RunRecord,
    RunState,
    RunStatus,
    RunWithState,
    StateVersion,
    VersionInfo,
)
from adw_tui.domain.redaction import Redactor
from adw_tui.store.audit import AuditLog, audit_entry, record_audit
from adw_tui.store.backend import Backend, Engine, IntegrityError, Row, now_iso, rerun_when_lost
from adw_tui.store.breakers import Breakers
from adw_tui.store.budgets import Budgets
from adw_tui.store.changes import ChangeFeed, Subscription
from adw_tui.store.claims import Claims
from adw_tui.store.dead_letters import DeadLetters
from adw_tui.store.deliveries import Deliveries
from adw_tui.store.fleet import Fleet
from adw_tui.store.group_commit import SyncWriter, Write
from adw_tui.store.issues import Issues
from adw_tui.store.leases import Leases
from adw_tui.store.listing import Selection, count_of, listed, stored_time
from adw_tui.store.location import DatabaseLocation, PostgresDsn, database_location
from adw_tui.store.schema import LATEST_VERSION, apply_migrations
from adw_tui.store.steps import AttemptEnd, StepAttempts, write_attempt_end
from adw_tui.store.tallies import RunCount, Tallies, read_run_counts, read_tallies
from adw_tui.store.transcripts import Transcripts

# The experiments' and the KPIs' shapes are imported by the calls that read them: every
# command that opens the store (and the dashboard's first frame) does without them. Each
# engine's driver is imported by `Store.open` when that engine is asked for.
if TYPE_CHECKING:
    from adw_tui.domain.experiments import DecidedRun
    from adw_tui.domain.kpis import RunOutcome, StepFailures
    from adw_tui.store.database import Synchronous

StateData = RunState | Mapping[str, Any]
StateChangeFn = Callable[[dict[str, Any]], StateData]
# A run in these statuses is its issue's run of its workflow: a second one is refused
# unless forced (a paused run goes on later: it would race the second one).
HOLDS_ISSUE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED)
_HOLDING = ", ".join("?" for _ in HOLDS_ISSUE)


class Store:
    """Runs, state versions, dead letters, circuit breakers and audit entries in one
    database: a SQLite file or a PostgreSQL database."""

    def __init__(self, database: Backend, schema_version: int) -> None:
        self._db = database
        self.schema_version = schema_version
        self.dead_letters = DeadLetters(database)
        self.audit = AuditLog(database)
        self.issues = Issues(database)
        self.steps = StepAttempts(database)
        self.claims = Claims(database)
        self.breakers = Breakers(database)
        self.leases = Leases(database)
        self.deliveries = Deliveries(database)
        self.budgets = Budgets(database)
        self.fleet = Fleet(database)
        self.transcripts = Transcripts(database)
        self._changes = ChangeFeed(database.listen)

    @classmethod
    async def open(
        cls,
        path: DatabaseLocation | str,
        *,
        create: bool = True,
        busy_timeout_s: float = 30.0,
        reconnect_s: float = 60.0,
        synchronous: "Synchronous" = "FULL",
        redactor: Redactor | None = None,
    ) -> Self:
        """Open (and with `create`, create) the database and bring its schema up to date:
        a SQLite file at `path`, or the PostgreSQL database a `postgresql://` DSN names
        (`synchronous` is SQLite's alone, `reconnect_s` PostgreSQL's: how long an
        operation waits for a server that went away).

        `redactor` removes secrets from everything written (default: token shapes only)."""
        location = database_location(path) if isinstance(path, str) else path
        database: Backend
        if isinstance(location, PostgresDsn):
            # Imported here: a SQLite store never loads the PostgreSQL driver.
            from adw_tui.store.postgres import PostgresDatabase

            database = await PostgresDatabase.open(
                location,
                create=create,
                busy_timeout_s=busy_timeout_s,
                reconnect_s=reconnect_s,
                redactor=redactor,
            )
        else:
            # Imported here: a PostgreSQL store never loads the SQLite driver.
            from adw_tui.store.database import Database

            database = await Database.open(
                location,
                create=create,
                busy_timeout_s=busy_timeout_s,
                synchronous=synchronous,
                redactor=redactor,
            )
        try:
            schema_version = await apply_migrations(database)
        except BaseException:
            await database.close()
            raise
        return cls(database, schema_version)

    async def check_schema(self) -> None:
        """Raise `SchemaMovedError` when another process, of a newer adw, migrated the
        database past what this one knows since it was opened (a long-lived process,
        such as a worker, checks before it takes more work)."""
        found = await self._db.schema_version()
        if found > LATEST_VERSION:
            raise SchemaMovedError(str(self._db.location), found, LATEST_VERSION, __version__)

    @property
    def redactor(self) -> Redactor:
        """What this store redacts; live views of the same process redact the same."""
        return self._db.redactor

    @property
    def unreachable_since(self) -> datetime | None:
        """Since when the database server has been away while this process waits for it
        (None while it answers)."""
        return self._db.unreachable_since

    async def reachable_for_s(self) -> float:
        """Seconds the database has been there for this process without a break."""
        return await self._db.reachable_for_s()

    @property
    def path(self) -> DatabaseLocation:
        """Where the database is: its file, or its DSN (shown masked)."""
        return self._db.location

    async def close(self) -> None:
        await self._changes.close()
        await self._db.close()

    def changes(self) -> AbstractAsyncContextManager[Subscription]:
        """A subscription to the notices of what any process, on any host, commits
        from now on (`adw_tui.store.changes`): `async with store.changes() as changes:
        async for batch in changes: ...`."""
        return self._changes.subscribe()

    async def checkpoint(self) -> None:
        """Empty the write-ahead log into the database file (see `Database.checkpoint`)."""
        await self._db.checkpoint()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # Runs

    async def create_run(
        self,
        state: StateData,
        *,
        workflow: str,
        actor: str,
        issue: str | None = None,
        status: RunStatus = RunStatus.QUEUED,
        reason: str = "run created",
        git_head: str | None = None,
        control: RunControl | None = None,
        exclusive: bool = False,
        with_run: Write[None] | None = None,
        owner: str | None = None,
    ) -> RunRecord:
        """Create a run with `state` (and `control`) as its version 1; `owner`, the
        process that queues it to run itself (so that a run it never got to start is
        recovered once it is gone; see `runtime.recovery`). `exclusive`: refuse
        (ActiveRunError) when `issue` has a queued, running or paused run of `workflow`,
        checked in the same write transaction, so two launches racing cannot both pass.
        `with_run` is written in that transaction too (a trigger's delivery settled as
        started: no write of its own): the run and it commit, or fail, together."""
        run_state = _as_state(state)
        now = now_iso()

        def create(connection: SyncWriter) -> None:
            if exclusive and issue is not None:
                active = connection.execute(
                    "SELECT adw_id, status FROM runs WHERE issue = ? AND workflow = ? "
                    f"AND status IN ({_HOLDING}) LIMIT 1",
                    (issue, workflow, *HOLDS_ISSUE),
                ).fetchone()
                if active is not None:
                    raise ActiveRunError(issue, workflow, active[0], active[1])
            try:
                connection.execute(
                    "INSERT INTO runs (adw_id, issue, workflow, status, version, created_at, "
                    "updated_at, owner) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                    (run_state.adw_id, issue, workflow, status, now, now, owner),
                )
            except IntegrityError as error:
                raise RunExistsError(run_state.adw_id) from error
            _insert_version(
                connection,
                run_state,
                1,
                None,
                control or RunControl(),
                reason=reason,
                actor=actor,
                git_head=git_head,
            )
            connection.execute(
                *audit_entry(
                    actor=actor,
                    action="run.create",
                    adw_id=run_state.adw_id,
                    detail={"workflow": workflow, "issue": issue},
                )
            )
            if with_run is not None:
                with_run(connection)

        await self._db.write(create)
        return await self.get_run(run_state.adw_id)

    async def get_run(self, adw_id: str) -> RunRecord:
        row = await self._db.fetch_one("SELECT * FROM runs WHERE adw_id = ?", (adw_id,))
        if row is None:
            raise RunNotFoundError(adw_id)
        return RunRecord.model_validate(dict(row))

    async def never_started(self, host: str) -> list[RunRecord]:
        """Queued runs a process of `host` created to run itself (not the fleet's) and
        that are still at their first version: read by the status index, however long
        the fleet's queue is."""
        prefix = f"{host}:"
        rows = await self._db.fetch_all(
            "SELECT * FROM runs WHERE status = ? AND version = 1 AND fleet IS NULL "
            "AND substr(owner, 1, ?) = ?",
            (RunStatus.QUEUED, len(prefix), prefix),
        )
        return [RunRecord.model_validate(dict(row)) for row in rows]

    async def list_runs(
        self, *, status: RunStatus | None = None, limit: int | None = None
    ) -> list[RunRecord]:
        """All runs (or those with `status`), most recently updated first; with `limit`,
        only that many of them."""
        return [run async for run in self.newest_runs(status=status, limit=limit)]

    async def newest_runs(
        self,
        *,
        status: RunStatus | None = None,
        workflow: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[RunRecord, None]:
        """The runs with `status`, of `workflow`, updated since `since` (None: any), most
        recently updated first, at most `limit`; read as they are iterated."""
        # (The dashboard's table reads `runs_window`: in creation order, rows stay put.)
        query = runs_selection(status, workflow, since).rows(limit)
        async with aclosing(listed(self._db, query)) as batches:
            async for rows in batches:
                for row in rows:
                    yield RunRecord.model_validate(dict(row))

    async def count_runs(
        self,
        *,
        status: RunStatus | None = None,
        workflow: str | None = None,
        since: datetime | None = None,
    ) -> int:
        """How many runs `newest_runs` would give without a limit."""
        return await count_of(self._db, runs_selection(status, workflow, since))

    async def runs_window(self, *, offset: int, limit: int) -> list[RunRecord]:
        """`limit` runs after the first `offset`, newest first by creation (SQLite: the
        table's own order, rowid, no index to read and no sort; PostgreSQL: the index
        runs_by_creation)."""
        query = NEWEST_CREATED[self._db.engine].rows(limit, offset)
        rows = await self._db.fetch_all(query.sql, query.params)
        return [RunRecord.model_validate(dict(row)) for row in rows]

    async def runs_marker(self) -> str | None:
        """The newest `updated_at` of any run: every write to a run (and a new run)
        moves it, read off the runs_by_update index."""
        row = await self._db.fetch_one("SELECT max(updated_at) FROM runs")
        return None if row is None or row[0] is None else str(row[0])

    async def run_counts(self) -> list[RunCount]:
        """How many runs are in each status now, by workflow."""
        return await read_run_counts(self._db)

    async def tallies(self) -> Tallies:
        """Runs by workflow and status, agent calls, tokens, cost and durations, summed
        (for the metrics)."""
        return await read_tallies(self._db)

    async def spent_since(self, moment: datetime) -> float:
        """US dollars spent by the agent calls started since `moment`, by every run."""
        row = await self._db.fetch_one(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM step_attempts WHERE started_at >= ?",
            (stored_time(moment),),
        )
        assert row is not None
        return float(row[0])

    async def runs_in_group(self, group: str) -> list[str]:
        """The runs of a best-of group (their latest state names it), in their order."""
        rows = await self._db.fetch_all(
            "SELECT r.adw_id FROM runs AS r JOIN state_versions AS v "
            "ON v.adw_id = r.adw_id AND v.version = r.version "
            "WHERE json_extract(v.data, '$.best_of.group') = ? "
            "ORDER BY CAST(json_extract(v.data, '$.best_of.index') AS INTEGER)",
            (group,),
        )
        return [str(row[0]) for row in rows]

    async def experiment_runs(self, experiment: str) -> list["DecidedRun"]:
        """The decided runs of `experiment`, with their variant (from their latest
        state), cost and wall time: a run of a best-of group the operator chose among
        succeeded if chosen and failed if not; any other, when it succeeded, failed or
        was dead-lettered."""
        from adw_tui.domain.experiments import DecidedRun

        rows = await self._db.fetch_all(
            "SELECT v.data, r.status, r.cost_usd, "
            "(julianday(r.updated_at) - julianday(r.created_at)) * 86400.0 "
            "FROM runs AS r JOIN state_versions AS v "
            "ON v.adw_id = r.adw_id AND v.version = r.version "
            "WHERE json_extract(v.data, '$.experiment.name') = ? "
            "AND (json_extract(v.data, '$.best_of.chosen') IS NOT NULL "
            "OR (json_extract(v.data, '$.best_of.group') IS NULL "
            "AND r.status IN ('succeeded', 'failed', 'dead_lettered')))",
            (experiment,),
        )
        decided: list[DecidedRun] = []
        for row in rows:
            # Read from the JSON here: a JSON boolean is 1 in SQLite, 'true' in PostgreSQL.
            data = json.loads(row[0])
            chosen = (data.get("best_of") or {}).get("chosen")
            succeeded = row[1] == RunStatus.SUCCEEDED if chosen is None else bool(chosen)
            variant = str(data["experiment"]["variant"])
            decided.append(DecidedRun(variant, succeeded, row[2], row[3]))
        return decided

    async def run_outcomes(
        self, *, since: datetime | None = None, workflow: str | None = None
    ) -> list["RunOutcome"]:
        """One row per run created since `since` (of `workflow`), for the KPIs."""
        from adw_tui.store.kpis import run_outcomes

        return await run_outcomes(self._db, since=stored_time(since), workflow=workflow)

    async def step_failures(
        self, *, since: datetime | None = None, workflow: str | None = None, limit: int = 10
    ) -> list["StepFailures"]:
        """The steps of runs created since `since` whose attempts failed most."""
        from adw_tui.store.kpis import step_failures

        return await step_failures(
            self._db, since=stored_time(since), workflow=workflow, limit=limit
        )

    async def active_run_for(self, issue: str, workflow: str) -> RunRecord | None:
        """A queued, running or paused run of `workflow` for `issue`, if there is one (one
        indexed lookup, however many runs there are)."""
        row = await self._db.fetch_one(
            f"SELECT * FROM runs WHERE issue = ? AND workflow = ? AND status IN ({_HOLDING}) "
            "LIMIT 1",
            (issue, workflow, *HOLDS_ISSUE),
        )
        return None if row is None else RunRecord.model_validate(dict(row))

    async def load(self, adw_id: str) -> RunWithState:
        """The run and its current state, read in one statement (one consistent snapshot)."""
        row = await self._db.fetch_one(
            "SELECT runs.*, state_versions.data AS state_data, state_versions.control FROM runs "
            "JOIN state_versions USING (adw_id) "
            "WHERE runs.adw_id = ? AND state_versions.version = runs.version",
            (adw_id,),
        )
        if row is None:
            raise RunNotFoundError(adw_id)
        fields = dict(row)
        state = RunState.model_validate_json(fields.pop("state_data"))
        control = RunControl.model_validate_json(fields.pop("control"))
        return RunWithState(run=RunRecord.model_validate(fields), state=state, control=control)

    @rerun_when_lost
    async def set_status(
        self,
        adw_id: str,
        status: RunStatus,
        *,
        actor: str,
        current_step: str | None = None,
    ) -> RunRecord:
        """Move the run to `status` (and `current_step`); an audit entry records the move."""
        async with self._db.transaction() as connection:
            cursor = await connection.execute(
                "UPDATE runs SET status = ?, current_step = ?, updated_at = ? WHERE adw_id = ?",
                (status, current_step, now_iso(), adw_id),
            )
            if cursor.rowcount == 0:
                raise RunNotFoundError(adw_id)
            await record_audit(
                connection,
                actor=actor,
                action="run.status",
                adw_id=adw_id,
                detail={"status": status, "current_step": current_step},
            )
        return await self.get_run(adw_id)

    # Versioned state

    async def save(
        self,
        adw_id: str,
        data: StateData,
        expected_version: int,
        reason: str,
        actor: str,
        git_head: str | None = None,
        *,
        control: RunControl | None = None,
        ends: Sequence[AttemptEnd] = (),
    ) -> int:
        """Write version `expected_version + 1`; raise StaleVersionError if the run moved on.

        `control` None keeps the control of version `expected_version`. `ends` close the
        step attempts that produced this version in the same transaction: an attempt is
        never recorded as finished without the state it led to, so a crash between the
        two cannot make a completed step run again."""
        state = _as_state(data, adw_id)
        new_version = expected_version + 1

        def save(connection: SyncWriter) -> None:
            run = connection.execute(RUN_VERSION, (adw_id,)).fetchone()
            if run is None:
                raise RunNotFoundError(adw_id)
            if run[0] != expected_version:
                raise StaleVersionError(adw_id, expected_version, int(run[0]))
            _insert_version(
                connection,
                state,
                new_version,
                expected_version,
                control,
                reason=reason,
                actor=actor,
                git_head=git_head,
            )
            for end in ends:
                write_attempt_end(connection, end)

        await self._db.write(save, run=adw_id, reads=RUN_VERSION)
        return new_version

    async def update(
        self,
        adw_id: str,
        change: StateChangeFn,
        *,
        reason: str,
        actor: str,
        git_head: str | None = None,
    ) -> int:
        """Read the current state, apply `change` and save it (the control unchanged), all
        inside one write transaction: no other writer can interleave, so there is nothing
        to retry. `change` runs on the database's writer thread, and again if another write
        of its group fails (see `group_commit`): it must only compute."""

        def update(connection: SyncWriter) -> int:
            version, data = _current(connection, adw_id)
            state = _as_state(change(data), adw_id)
            _insert_version(
                connection,
                state,
                version + 1,
                version,
                None,
                reason=reason,
                actor=actor,
                git_head=git_head,
            )
            return version + 1

        return await self._db.write(update, run=adw_id, reads=CURRENT_STATE)

    async def history(
        self, adw_id: str, *, limit: int = 50, before: int | None = None
    ) -> list[VersionInfo]:
        """Versions newest first, `limit` at a time; pass the last version seen as `before`."""
        return [info async for info in self.newest_versions(adw_id, limit=limit, before=before)]

    async def newest_versions(
        self,
        adw_id: str,
        *,
        since: datetime | None = None,
        before: int | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> AsyncGenerator[VersionInfo, None]:
        """The run's versions written since `since` and older than version `before` (None:
        any), newest first, at most `limit` after the first `offset`; RunNotFoundError for
        an unknown run."""
        await self.get_run(adw_id)
        query = versions_selection(adw_id, since, before).rows(limit, offset)
        async with aclosing(listed(self._db, query)) as batches:
            async for rows in batches:
                for row in rows:
                    yield VersionInfo.model_validate(dict(row))

    async def count_versions(self, adw_id: str, *, since: datetime | None = None) -> int:
        """How many versions `newest_versions` would give without a limit or `before`."""
        return await count_of(self._db, versions_selection(adw_id, since, None))

    async def get_version(self, adw_id: str, version: int) -> StateVersion:
        row = await self._db.fetch_one(
            "SELECT * FROM state_versions WHERE adw_id = ? AND version = ?", (adw_id, version)
        )
        if row is None:
            run = await self.get_run(adw_id)
            raise VersionNotFoundError(adw_id, version, run.version)
        return _state_version(row)

    async def diff(self, adw_id: str, old_version: int, new_version: int) -> list[StateChange]:
        old = await self.get_version(adw_id, old_version)
        new = await self.get_version(adw_id, new_version)
        return diff_versions(old, new)

    async def rollback(
        self,
        adw_id: str,
        version: int,
        *,
        actor: str,
        git_head: str | None = None,
    ) -> int:
        """Write a new version equal to `version` (its state and its control), with
        `version` as its parent (a fork).

        A queued or running run is refused (RunActiveError), checked in the write
        transaction so that no process can claim the run between the check and the fork.
        """

        def fork(connection: SyncWriter) -> int:
            run = connection.execute(
                "SELECT status, owner FROM runs WHERE adw_id = ?", (adw_id,)
            ).fetchone()
            if run is not None and RunStatus(run["status"]).is_active:
                raise RunActiveError(adw_id, run["status"], run["owner"])
            current, _ = _current(connection, adw_id)  # RunNotFoundError if none
            row = connection.execute(
                "SELECT data FROM state_versions WHERE adw_id = ? AND version = ?",
                (adw_id, version),
            ).fetchone()
            if row is None:
                raise VersionNotFoundError(adw_id, version, current)
            state = RunState.model_validate_json(row["data"])
            _insert_version(
                connection,
                state,
                current + 1,
                version,
                None,
                reason=f"rollback to version {version}",
                actor=actor,
                git_head=git_head,
            )
            connection.execute(
                *audit_entry(
                    actor=actor,
                    action="run.rollback",
                    adw_id=adw_id,
                    detail={
                        "from_version": current,
                        "to_version": version,
                        "new_version": current + 1,
                    },
                )
            )
            return current + 1

        return await self._db.write(fork, run=adw_id)

    async def record_takeover(
        self,
        adw_id: str,
        *,
        reason: str,
        actor: str,
        detail: dict[str, Any],
        git_head: str | None = None,
    ) -> int | None:
        """Record that a person worked on the run by hand (`adw attach`): an audit entry
        `run.attach` and, in the same transaction, a version of the run's history with
        the same state and control, `reason` and the worktree's HEAD after, so the
        history shows where the person took over (and rollback can go back before it).

        A run that became queued or running meanwhile gets the audit entry alone: a
        version would move the run under its executor's feet. Returns the new version,
        or None when none was written."""

        def record(connection: SyncWriter) -> int | None:
            run = connection.execute(
                "SELECT status FROM runs WHERE adw_id = ?", (adw_id,)
            ).fetchone()
            if run is None:
                raise RunNotFoundError(adw_id)
            new_version: int | None = None
            if not RunStatus(run["status"]).is_active:
                current, data = _current(connection, adw_id)
                new_version = current + 1
                _insert_version(
                    connection,
                    _as_state(data, adw_id),
                    new_version,
                    current,
                    None,
                    reason=reason,
                    actor=actor,
                    git_head=git_head,
                )
            connection.execute(
                *audit_entry(
                    actor=actor,
                    action="run.attach",
                    adw_id=adw_id,
                    detail={**detail, "version": new_version},
                )
            )
            return new_version

        return await self._db.write(record, run=adw_id)

    # Health

    async def health(self) -> "StoreHealth":
        """What `adw doctor` reports: schema, journal mode, integrity and sizes."""
        journal, integrity = await self._db.health()
        counts = await self._db.fetch_one(
            "SELECT (SELECT count(*) FROM runs) AS runs, "
            "(SELECT count(*) FROM dead_letters WHERE status = 'pending') AS dead_letters"
        )
        assert counts is not None
        return StoreHealth(
            schema_version=self.schema_version,
            journal_mode=journal,
            integrity=integrity,
            runs=int(counts["runs"]),
            pending_dead_letters=int(counts["dead_letters"]),
        )


class StoreHealth(Model):
    schema_version: int
    journal_mode: str
    integrity: list[str]
    runs: int
    pending_dead_letters: int

    @property
    def ok(self) -> bool:
        return self.integrity == ["ok"] and self.journal_mode == "wal"


def runs_selection(
    status: RunStatus | None, workflow: str | None, since: datetime | None
) -> Selection:
    """The runs with `status`, of `workflow`, updated since `since` (None: any), most
    recently updated first (indexes: runs_by_status_update, runs_by_workflow_update,
    runs_by_update)."""
    return Selection(
        "runs",
        "*",
        "updated_at DESC",
        (
            ("status = ?", status),
            ("workflow = ?", workflow),
            ("updated_at >= ?", stored_time(since)),
        ),
        key="adw_id",
    )


NEWEST_CREATED: dict[Engine, Selection] = {
    "sqlite": Selection("runs", "*", "rowid DESC", ()),
    "postgresql": Selection("runs", "*", "created_at DESC, adw_id DESC", ()),
}
"""Every run, newest first by creation: SQLite's rowid order; PostgreSQL has no rowid,
and reads its index runs_by_creation."""


def versions_selection(adw_id: str, since: datetime | None, before: int | None) -> Selection:
    """A run's versions written since `since`, older than `before`, newest first (the
    primary key: adw_id, version)."""
    return Selection(
        "state_versions",
        "version, parent, created_at, reason, actor, git_head",
        "version DESC",
        (
            ("adw_id = ?", adw_id),
            ("version < ?", before),
            ("created_at >= ?", stored_time(since)),
        ),
        key="version",
    )


def _as_state(data: StateData, adw_id: str | None = None) -> RunState:
    """Validate state data; a mapping without `adw_id` takes the run's."""
    if isinstance(data, RunState):
        state = data
    else:
        state = RunState.model_validate({"adw_id": adw_id, **data} if adw_id else data)
    if adw_id is not None and state.adw_id != adw_id:
        raise AdwError(f"state of run {state.adw_id} cannot be saved into run {adw_id}")
    return state


RUN_VERSION = "SELECT version FROM runs WHERE adw_id = ?"
"""A run's version: what `save` reads first."""
CURRENT_STATE = (
    "SELECT runs.version, state_versions.data FROM runs JOIN state_versions USING (adw_id) "
    "WHERE runs.adw_id = ? AND state_versions.version = runs.version"
)
"""A run's version and state: what `update` reads first (a group reads it for all its
runs at once: `group_commit`)."""


def _current(connection: SyncWriter, adw_id: str) -> tuple[int, dict[str, Any]]:
    """The run's version and state, read inside the caller's write transaction."""
    row = connection.execute(CURRENT_STATE, (adw_id,)).fetchone()
    if row is None:
        raise RunNotFoundError(adw_id)
    return int(row["version"]), json.loads(row["data"])


def _insert_version(
    connection: SyncWriter,
    state: RunState,
    version: int,
    parent: int | None,
    control: RunControl | None,
    *,
    reason: str,
    actor: str,
    git_head: str | None,
) -> None:
    """Insert version `version`, with `control` or else its parent's; the schema's
    triggers check the run is at `version - 1` (the caller has checked it in its
    transaction: the triggers guard any other writer) and move the run to `version`.
    Sent without waiting (`SyncWriter.send`): the run's next statement sees it."""
    connection.send(
        "INSERT INTO state_versions (adw_id, version, parent, data, control, reason, "
        "actor, git_head, created_at) VALUES (?, ?, ?, ?, coalesce(?, (SELECT control "
        "FROM state_versions WHERE adw_id = ? AND version = ?), '{}'), ?, ?, ?, ?)",
        (
            state.adw_id,
            version,
            parent,
            state.model_dump_json(),
            None if control is None else control.model_dump_json(),
            state.adw_id,
            parent,
            reason,
            actor,
            git_head,
            now_iso(),
        ),
    )


def _state_version(row: Row) -> StateVersion:
    fields = dict(row)
    state = RunState.model_validate_json(fields.pop("data"))
    control = RunControl.model_validate_json(fields.pop("control"))
    return StateVersion.model_validate({**fields, "state": state, "control": control})
