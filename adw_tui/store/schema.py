"""The database schema as an ordered list of migrations, applied once each, for both
engines.

A migration's SQL is SQLite's; where PostgreSQL's differs beyond the column types and
table options `dialect.postgres_ddl` translates (triggers are PL/pgSQL there), it carries
its PostgreSQL form too. SQLite keeps the number of the last migration applied in
`PRAGMA user_version`, PostgreSQL in `schema_migrations` alone; both record there when
each one ran. Migrations run inside one write transaction, which holds the database's
write lock (`BEGIN IMMEDIATE`; PostgreSQL's advisory lock), so processes opening a new
database at the same time apply them exactly once.

PostgreSQL support began at schema version 15: a PostgreSQL database has never held
data older than that, so the PostgreSQL form of an older migration that rewrote stored
data (10, 11) is its schema change alone.
"""

from typing import NamedTuple

from adw_tui.domain.errors import SchemaTooNewError
from adw_tui.store.backend import Backend, Engine, now_iso, rerun_when_lost
from adw_tui.store.dialect import postgres_ddl


class Migration(NamedTuple):
    version: int
    description: str
    sql: str
    postgres: str | None = None
    """PostgreSQL's form, where more than `postgres_ddl` of `sql` differs."""

    def sql_for(self, engine: Engine) -> str:
        if engine == "sqlite":
            return self.sql
        return self.postgres if self.postgres is not None else postgres_ddl(self.sql)


_WORKER_MOVED = " OR ".join(
    f"NEW.{column} {{distinct}} OLD.{column}"
    for column in (
        "host", "pid", "slots", "engines", "labels", "started_at", "stopped_at", "running",
        "version",
    )
)  # fmt: skip
"""A worker's row moved beyond its heartbeat (`heartbeat_at`, `memory_percent`)."""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "runs, versioned state, dead letters, audit log",
        """
        CREATE TABLE schema_migrations (
            version     INTEGER PRIMARY KEY,
            description TEXT NOT NULL,
            applied_at  TEXT NOT NULL
        );
        CREATE TABLE runs (
            adw_id       TEXT PRIMARY KEY,
            issue        TEXT,
            workflow     TEXT NOT NULL,
            status       TEXT NOT NULL,
            current_step TEXT,
            version      INTEGER NOT NULL,
            cost_usd     REAL NOT NULL DEFAULT 0,
            created_at   TEXT NOT NULL,
            updated_at   TEXT NOT NULL
        );
        CREATE INDEX runs_by_update ON runs (updated_at);
        CREATE TABLE state_versions (
            adw_id     TEXT NOT NULL REFERENCES runs (adw_id),
            version    INTEGER NOT NULL,
            parent     INTEGER,
            data       TEXT NOT NULL,
            reason     TEXT NOT NULL,
            actor      TEXT NOT NULL,
            git_head   TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (adw_id, version)
        ) WITHOUT ROWID;
        -- Compare-and-set, enforced by the database for every writer: version n+1 of a
        -- run can only be written while the run is at version n, and writing it moves
        -- the run to n+1 in the same statement.
        CREATE TRIGGER state_versions_compare_and_set BEFORE INSERT ON state_versions
        WHEN NEW.version <> 1
        BEGIN
            SELECT RAISE(ABORT, 'stale version')
            WHERE (SELECT version FROM runs WHERE adw_id = NEW.adw_id) IS NOT NEW.version - 1;
        END;
        CREATE TRIGGER state_versions_move_run AFTER INSERT ON state_versions
        BEGIN
            UPDATE runs SET version = NEW.version, updated_at = NEW.created_at
            WHERE adw_id = NEW.adw_id;
        END;
        CREATE TRIGGER state_versions_append_only_update BEFORE UPDATE ON state_versions
        BEGIN SELECT RAISE(ABORT, 'state versions are append-only'); END;
        CREATE TRIGGER state_versions_append_only_delete BEFORE DELETE ON state_versions
        BEGIN SELECT RAISE(ABORT, 'state versions are append-only'); END;
        CREATE TABLE dead_letters (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            adw_id        TEXT NOT NULL,
            workflow      TEXT NOT NULL,
            step          TEXT,
            state_version INTEGER NOT NULL,
            error_class   TEXT NOT NULL,
            error_message TEXT NOT NULL,
            attempts      INTEGER NOT NULL,
            request       TEXT NOT NULL,
            status        TEXT NOT NULL,
            created_at    TEXT NOT NULL,
            resolved_at   TEXT
        );
        CREATE INDEX dead_letters_by_status ON dead_letters (status, id);
        CREATE TABLE audit_log (
            id     INTEGER PRIMARY KEY AUTOINCREMENT,
            at     TEXT NOT NULL,
            actor  TEXT NOT NULL,
            action TEXT NOT NULL,
            adw_id TEXT,
            detail TEXT NOT NULL
        );
        CREATE INDEX audit_log_by_run ON audit_log (adw_id, id);
        """,
        # The compare-and-set locks the run's row (FOR UPDATE): a concurrent writer of
        # the same run waits for this transaction, then reads the version it wrote.
        """
        CREATE TABLE schema_migrations (
            version     INTEGER PRIMARY KEY,
            description TEXT NOT NULL,
            applied_at  TEXT NOT NULL
        );
        CREATE TABLE runs (
            adw_id       TEXT PRIMARY KEY,
            issue        TEXT,
            workflow     TEXT NOT NULL,
            status       TEXT NOT NULL,
            current_step TEXT,
            version      INTEGER NOT NULL,
            cost_usd     DOUBLE PRECISION NOT NULL DEFAULT 0,
            created_at   TEXT NOT NULL,
            updated_at   TEXT NOT NULL
        );
        CREATE INDEX runs_by_update ON runs (updated_at);
        -- SQLite lists runs in creation order by rowid; PostgreSQL has none.
        CREATE INDEX runs_by_creation ON runs (created_at, adw_id);
        CREATE TABLE state_versions (
            adw_id     TEXT NOT NULL REFERENCES runs (adw_id),
            version    INTEGER NOT NULL,
            parent     INTEGER,
            data       TEXT NOT NULL,
            reason     TEXT NOT NULL,
            actor      TEXT NOT NULL,
            git_head   TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (adw_id, version)
        );
        CREATE FUNCTION state_versions_compare_and_set() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            current_version INTEGER;
        BEGIN
            SELECT version INTO current_version FROM runs WHERE adw_id = NEW.adw_id
            FOR UPDATE;
            IF NEW.version <> 1 AND current_version IS DISTINCT FROM NEW.version - 1 THEN
                RAISE EXCEPTION 'stale version' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER state_versions_compare_and_set BEFORE INSERT ON state_versions
        FOR EACH ROW EXECUTE FUNCTION state_versions_compare_and_set();
        CREATE FUNCTION state_versions_move_run() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE runs SET version = NEW.version, updated_at = NEW.created_at
            WHERE adw_id = NEW.adw_id;
            RETURN NULL;
        END $$;
        CREATE TRIGGER state_versions_move_run AFTER INSERT ON state_versions
        FOR EACH ROW EXECUTE FUNCTION state_versions_move_run();
        CREATE FUNCTION state_versions_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'state versions are append-only'
                USING ERRCODE = 'integrity_constraint_violation';
        END $$;
        CREATE TRIGGER state_versions_append_only BEFORE UPDATE OR DELETE ON state_versions
        FOR EACH ROW EXECUTE FUNCTION state_versions_append_only();
        CREATE TABLE dead_letters (
            id            INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            adw_id        TEXT NOT NULL,
            workflow      TEXT NOT NULL,
            step          TEXT,
            state_version INTEGER NOT NULL,
            error_class   TEXT NOT NULL,
            error_message TEXT NOT NULL,
            attempts      INTEGER NOT NULL,
            request       TEXT NOT NULL,
            status        TEXT NOT NULL,
            created_at    TEXT NOT NULL,
            resolved_at   TEXT
        );
        CREATE INDEX dead_letters_by_status ON dead_letters (status, id);
        CREATE TABLE audit_log (
            id     INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at     TEXT NOT NULL,
            actor  TEXT NOT NULL,
            action TEXT NOT NULL,
            adw_id TEXT,
            detail TEXT NOT NULL
        );
        CREATE INDEX audit_log_by_run ON audit_log (adw_id, id);
        """,
    ),
    Migration(
        2,
        "local issues and their comments; step attempts (the run timeline)",
        """
        CREATE TABLE issues (
            number     INTEGER PRIMARY KEY AUTOINCREMENT,
            title      TEXT NOT NULL,
            body       TEXT NOT NULL,
            state      TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE issue_comments (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            issue_number INTEGER NOT NULL REFERENCES issues (number),
            author       TEXT NOT NULL,
            body         TEXT NOT NULL,
            created_at   TEXT NOT NULL
        );
        CREATE INDEX issue_comments_by_issue ON issue_comments (issue_number, id);
        CREATE TABLE step_attempts (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            adw_id        TEXT NOT NULL REFERENCES runs (adw_id),
            step          TEXT NOT NULL,
            visit         INTEGER NOT NULL,
            attempt       INTEGER NOT NULL,
            agent         TEXT,
            engine        TEXT,
            model         TEXT,
            status        TEXT NOT NULL,
            started_at    TEXT NOT NULL,
            finished_at   TEXT,
            session_id    TEXT,
            cost_usd      REAL NOT NULL DEFAULT 0,
            input_tokens  INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            duration_ms   INTEGER,
            error_class   TEXT,
            error_message TEXT
        );
        CREATE INDEX step_attempts_by_run ON step_attempts (adw_id, id);
        """,
    ),
    Migration(
        3,
        "replays of dead letters",
        """
        CREATE TABLE dead_letter_replays (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            letter_id     INTEGER NOT NULL REFERENCES dead_letters (id),
            adw_id        TEXT NOT NULL,
            from_step     TEXT NOT NULL,
            state_version INTEGER NOT NULL,
            actor         TEXT NOT NULL,
            replayed_at   TEXT NOT NULL
        );
        CREATE INDEX dead_letter_replays_by_letter ON dead_letter_replays (letter_id, id);
        """,
    ),
    Migration(
        4,
        "run ownership: which process executes a run, and its heartbeat",
        """
        ALTER TABLE runs ADD COLUMN owner TEXT;
        ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
        ALTER TABLE step_attempts ADD COLUMN pgid INTEGER;
        """,
    ),
    Migration(
        5,
        "circuit breakers of engines and trackers",
        """
        CREATE TABLE breakers (
            name                  TEXT PRIMARY KEY,
            state                 TEXT NOT NULL,
            consecutive_failures  INTEGER NOT NULL DEFAULT 0,
            consecutive_successes INTEGER NOT NULL DEFAULT 0,
            opened_at             TEXT,
            probe_started_at      TEXT,
            updated_at            TEXT NOT NULL,
            last_error            TEXT
        ) WITHOUT ROWID;
        """,
    ),
    Migration(
        6,
        "leases of run slots and port pairs, and calls per rate-limited service, shared "
        "by every process on the database",
        """
        CREATE TABLE leases (
            kind         TEXT NOT NULL,
            number       INTEGER NOT NULL,
            adw_id       TEXT NOT NULL,
            host         TEXT NOT NULL,
            pid          INTEGER NOT NULL,
            started      REAL NOT NULL,
            heartbeat_at REAL NOT NULL,
            PRIMARY KEY (kind, number)
        ) WITHOUT ROWID;
        CREATE UNIQUE INDEX leases_by_run ON leases (kind, adw_id);
        CREATE TABLE rate_calls (
            service TEXT NOT NULL,
            at      REAL NOT NULL
        );
        CREATE INDEX rate_calls_by_service ON rate_calls (service, at);
        """,
    ),
    Migration(
        7,
        "dead letters by run, for a run's pending letter",
        """
        CREATE INDEX dead_letters_by_run ON dead_letters (adw_id, status, id);
        """,
    ),
    Migration(
        8,
        "runs by issue and workflow, for the one-active-run check of a launch",
        """
        CREATE INDEX runs_by_issue ON runs (issue, workflow, status);
        """,
    ),
    Migration(
        9,
        "an index for every filter and order of the listings (adw runs, dlq ls, issue ls)",
        """
        CREATE INDEX runs_by_status_update ON runs (status, updated_at);
        CREATE INDEX runs_by_workflow_update ON runs (workflow, updated_at);
        CREATE INDEX dead_letters_by_time ON dead_letters (created_at);
        CREATE INDEX dead_letters_by_status_time ON dead_letters (status, created_at);
        CREATE INDEX dead_letters_by_class_time ON dead_letters (error_class, created_at);
        CREATE INDEX dead_letters_by_workflow_time ON dead_letters (workflow, created_at);
        CREATE INDEX issues_by_time ON issues (created_at);
        CREATE INDEX issues_by_state_time ON issues (state, created_at);
        """,
    ),
    Migration(
        10,
        "the runtime's control of a run (next state, visits, last error, engine) in its "
        "own column of each state version, moved out of the workflow's data",
        # The one rewrite of stored versions: their content is kept, only moved, so the
        # append-only guard is lifted for this statement alone.
        """
        ALTER TABLE state_versions ADD COLUMN control TEXT NOT NULL DEFAULT '{}';
        DROP TRIGGER state_versions_append_only_update;
        UPDATE state_versions SET
            control = json_object(
                'next_state', json_extract(data, '$.next_state'),
                'visits', json(coalesce(json_extract(data, '$.visits'), '{}')),
                'last_error', json(json_extract(data, '$.last_error')),
                'engine', json_extract(data, '$.engine')
            ),
            data = json_remove(data, '$.next_state', '$.visits', '$.last_error', '$.engine');
        CREATE TRIGGER state_versions_append_only_update BEFORE UPDATE ON state_versions
        BEGIN SELECT RAISE(ABORT, 'state versions are append-only'); END;
        """,
        """
        ALTER TABLE state_versions ADD COLUMN control TEXT NOT NULL DEFAULT '{}';
        """,
    ),
    Migration(
        11,
        "a run's pull request number on its row, kept by the trigger that moves the row "
        "to each new version (what listings show without reading the state)",
        """
        ALTER TABLE runs ADD COLUMN pr_number INTEGER;
        DROP TRIGGER state_versions_move_run;
        CREATE TRIGGER state_versions_move_run AFTER INSERT ON state_versions
        BEGIN
            UPDATE runs SET version = NEW.version, updated_at = NEW.created_at,
                pr_number = json_extract(NEW.data, '$.pr_number')
            WHERE adw_id = NEW.adw_id;
        END;
        UPDATE runs SET pr_number = (
            SELECT json_extract(data, '$.pr_number') FROM state_versions
            WHERE state_versions.adw_id = runs.adw_id AND state_versions.version = runs.version
        );
        """,
        """
        ALTER TABLE runs ADD COLUMN pr_number INTEGER;
        CREATE OR REPLACE FUNCTION state_versions_move_run() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE runs SET version = NEW.version, updated_at = NEW.created_at,
                pr_number = CAST(CAST(NEW.data AS jsonb) ->> 'pr_number' AS INTEGER)
            WHERE adw_id = NEW.adw_id;
            RETURN NULL;
        END $$;
        """,
    ),
    Migration(
        12,
        "deliveries: what a trigger (webhook, poller) acted on, so nothing starts twice",
        """
        CREATE TABLE deliveries (
            delivery_id TEXT PRIMARY KEY,
            source      TEXT NOT NULL,
            event       TEXT NOT NULL,
            action      TEXT,
            issue       INTEGER,
            workflow    TEXT,
            outcome     TEXT NOT NULL,
            adw_id      TEXT,
            received_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX deliveries_by_time ON deliveries (received_at);
        """,
    ),
    Migration(
        13,
        "a request to the process executing a run (pause), which that process polls",
        """
        ALTER TABLE runs ADD COLUMN requested TEXT;
        CREATE INDEX runs_requested ON runs (owner) WHERE requested IS NOT NULL;
        """,
    ),
    Migration(
        14,
        "agent calls by start, for the day's spend (the daily budget)",
        """
        CREATE INDEX step_attempts_by_start ON step_attempts (started_at);
        """,
    ),
    Migration(
        15,
        "audit entries by action, for the runs that ended (the metrics' counter)",
        """
        CREATE INDEX audit_log_by_action ON audit_log (action);
        """,
    ),
    Migration(
        16,
        "budgets an operator set while adw runs (adw budget), over the settings'",
        """
        CREATE TABLE budget_overrides (
            scope  TEXT PRIMARY KEY,
            usd    REAL,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL
        );
        """,
    ),
    Migration(
        17,
        "runs queued for the fleet (what each asks of a worker) and the workers; slots "
        "and port pairs counted per host",
        """
        CREATE TABLE host_leases (
            kind         TEXT NOT NULL,
            host         TEXT NOT NULL,
            number       INTEGER NOT NULL,
            adw_id       TEXT NOT NULL,
            pid          INTEGER NOT NULL,
            started      REAL NOT NULL,
            heartbeat_at REAL NOT NULL,
            PRIMARY KEY (kind, host, number)
        );
        INSERT INTO host_leases (kind, host, number, adw_id, pid, started, heartbeat_at)
            SELECT kind, host, number, adw_id, pid, started, heartbeat_at FROM leases;
        DROP TABLE leases;
        ALTER TABLE host_leases RENAME TO leases;
        CREATE UNIQUE INDEX leases_by_run ON leases (kind, adw_id);
        ALTER TABLE runs ADD COLUMN fleet TEXT;
        CREATE INDEX runs_fleet_queue ON runs (created_at)
            WHERE fleet IS NOT NULL AND status IN ('queued', 'interrupted');
        CREATE TABLE workers (
            name           TEXT PRIMARY KEY,
            host           TEXT NOT NULL,
            pid            INTEGER NOT NULL,
            slots          INTEGER NOT NULL,
            engines        TEXT,
            labels         TEXT NOT NULL,
            started_at     TEXT NOT NULL,
            heartbeat_at   TEXT NOT NULL,
            stopped_at     TEXT,
            memory_percent REAL,
            running        INTEGER NOT NULL DEFAULT 0
        );
        """,
    ),
    Migration(
        18,
        "agent transcripts of fleet runs, in chunks, for dashboards on other hosts",
        """
        CREATE TABLE transcript_chunks (
            attempt_id INTEGER NOT NULL,
            seq        INTEGER NOT NULL,
            lines      TEXT NOT NULL,
            at         TEXT NOT NULL,
            PRIMARY KEY (attempt_id, seq)
        );
        CREATE INDEX transcript_chunks_by_time ON transcript_chunks (at);
        """,
    ),
    Migration(
        19,
        "each worker's adw version, for `adw workers`",
        "ALTER TABLE workers ADD COLUMN version TEXT;",
    ),
    Migration(
        20,
        "change notices for live views on other processes and hosts: a run's row moved, "
        "a transcript chunk written (SQLite: rows of `changes`; PostgreSQL: NOTIFY)",
        # The newest 1000 to 2000 notices are kept: a listener reads them within
        # SQLITE_POLL_S, and one that fell further behind reads everything again.
        """
        CREATE TABLE changes (
            seq    INTEGER PRIMARY KEY,
            adw_id TEXT NOT NULL,
            kind   TEXT NOT NULL,
            ref    INTEGER NOT NULL
        );
        CREATE TRIGGER runs_created_change AFTER INSERT ON runs
        BEGIN
            INSERT INTO changes (adw_id, kind, ref) VALUES (NEW.adw_id, 'run', NEW.version);
        END;
        CREATE TRIGGER runs_moved_change AFTER UPDATE ON runs
        WHEN NEW.updated_at IS NOT OLD.updated_at OR NEW.status IS NOT OLD.status
        BEGIN
            INSERT INTO changes (adw_id, kind, ref) VALUES (NEW.adw_id, 'run', NEW.version);
        END;
        CREATE TRIGGER transcript_chunks_change AFTER INSERT ON transcript_chunks
        BEGIN
            INSERT INTO changes (adw_id, kind, ref)
                SELECT adw_id, 'transcript', NEW.seq FROM step_attempts
                WHERE id = NEW.attempt_id;
        END;
        CREATE TRIGGER changes_pruned AFTER INSERT ON changes WHEN NEW.seq % 1000 = 0
        BEGIN
            DELETE FROM changes WHERE seq <= NEW.seq - 1000;
        END;
        """,
        # Delivered at commit to the listening connections; a payload is under 100
        # bytes (an adw_id has at most 40 characters), far below NOTIFY's 8000.
        """
        CREATE FUNCTION adw_notify_run() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('adw_changes', json_build_object(
                'run', NEW.adw_id, 'kind', 'run', 'seq', NEW.version)::text);
            RETURN NULL;
        END $$;
        CREATE TRIGGER runs_created_notify AFTER INSERT ON runs
        FOR EACH ROW EXECUTE FUNCTION adw_notify_run();
        CREATE TRIGGER runs_moved_notify AFTER UPDATE ON runs FOR EACH ROW
        WHEN (NEW.updated_at IS DISTINCT FROM OLD.updated_at
              OR NEW.status IS DISTINCT FROM OLD.status)
        EXECUTE FUNCTION adw_notify_run();
        CREATE FUNCTION adw_notify_transcript() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('adw_changes', json_build_object(
                'run', adw_id, 'kind', 'transcript', 'seq', NEW.seq)::text)
            FROM step_attempts WHERE id = NEW.attempt_id;
            RETURN NULL;
        END $$;
        CREATE TRIGGER transcript_chunks_notify AFTER INSERT ON transcript_chunks
        FOR EACH ROW EXECUTE FUNCTION adw_notify_transcript();
        """,
    ),
    Migration(
        21,
        "change notices of the fleet's workers: registered, forgotten, or their slots, "
        "runs in hand or abilities moved (a heartbeat alone notifies nobody)",
        # `changes.adw_id` holds the worker's name for a 'worker' notice.
        f"""
        CREATE TRIGGER workers_registered_change AFTER INSERT ON workers
        BEGIN
            INSERT INTO changes (adw_id, kind, ref) VALUES (NEW.name, 'worker', NEW.running);
        END;
        CREATE TRIGGER workers_moved_change AFTER UPDATE ON workers
        WHEN {_WORKER_MOVED.format(distinct="IS NOT")}
        BEGIN
            INSERT INTO changes (adw_id, kind, ref) VALUES (NEW.name, 'worker', NEW.running);
        END;
        CREATE TRIGGER workers_forgotten_change AFTER DELETE ON workers
        BEGIN
            INSERT INTO changes (adw_id, kind, ref) VALUES (OLD.name, 'worker', 0);
        END;
        """,
        f"""
        CREATE FUNCTION adw_notify_worker() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                PERFORM pg_notify('adw_changes', json_build_object(
                    'worker', OLD.name, 'kind', 'worker', 'seq', 0)::text);
            ELSE
                PERFORM pg_notify('adw_changes', json_build_object(
                    'worker', NEW.name, 'kind', 'worker', 'seq', NEW.running)::text);
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER workers_registered_notify AFTER INSERT OR DELETE ON workers
        FOR EACH ROW EXECUTE FUNCTION adw_notify_worker();
        CREATE TRIGGER workers_moved_notify AFTER UPDATE ON workers FOR EACH ROW
        WHEN ({_WORKER_MOVED.format(distinct="IS DISTINCT FROM")})
        EXECUTE FUNCTION adw_notify_worker();
        """,
    ),
    Migration(
        22,
        "each claim's token in its audit entry, unique (a claim whose answer was lost is "
        "settled by it); the fleet's queue indexed without the runs already reserved",
        # The queue's index in the order workers take runs, holding only the runs still
        # free to take: a claim reads its first entries instead of every queued run.
        """
        ALTER TABLE audit_log ADD COLUMN claim TEXT;
        CREATE UNIQUE INDEX audit_log_by_claim ON audit_log (claim) WHERE claim IS NOT NULL;
        DROP INDEX runs_fleet_queue;
        CREATE INDEX runs_fleet_queue ON runs (created_at)
            WHERE fleet IS NOT NULL AND status IN ('queued', 'interrupted') AND owner IS NULL;
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


@rerun_when_lost
async def apply_migrations(database: Backend) -> int:
    """Bring the schema up to date; return the schema version now in force.

    A current schema is seen without the write lock, so opening the store to read never
    waits for another process's write transaction.
    """
    if await database.schema_version() == LATEST_VERSION:
        return LATEST_VERSION
    async with database.transaction() as connection:
        current = await database.schema_version(connection)
        if current > LATEST_VERSION:
            raise SchemaTooNewError(str(database.location), current, LATEST_VERSION)
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            await database.apply(connection, migration)
            await connection.execute(
                "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, now_iso()),
            )
    return max(current, LATEST_VERSION)
