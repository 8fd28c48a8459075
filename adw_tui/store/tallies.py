"""What the recorded runs and agent calls add up to, for the metrics (`/metrics`).

Read from the database at each scrape rather than counted in memory: every process that
runs workflows (the dashboard, `adw run`, the webhook) writes here, so any one of them,
or `adw serve` alone, reports them all, and a restart loses nothing. Runs, attempts and
audit entries are never deleted, so the sums only grow (Prometheus counters); the number
of runs in each status moves both ways (a gauge).
"""

from dataclasses import dataclass

from adw_tui.store.backend import Backend

DURATION_BUCKETS_S = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
"""Upper bounds of the step duration histogram: agent calls take seconds to an hour
(Prometheus's default buckets stop at 10 s)."""


@dataclass(frozen=True, slots=True)
class RunCount:
    workflow: str
    status: str
    runs: int


@dataclass(frozen=True, slots=True)
class CallTally:
    """The finished agent calls of one engine that ended in one error class."""

    engine: str
    error_class: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class DurationHistogram:
    """The finished attempts of one step (agent calls and built-in steps alike): how
    many took at most each bucket's seconds (cumulative, as Prometheus wants), how many
    in all, and their sum."""

    step: str
    buckets: tuple[int, ...]
    count: int
    sum_s: float


@dataclass(frozen=True, slots=True)
class Tallies:
    runs: list[RunCount]
    finished: list[RunCount]
    """How often runs ended in each final status, by workflow (a run replayed after a
    failure can end twice), from the audit log's record of each ending."""
    calls: list[CallTally]
    durations: list[DurationHistogram]


_BUCKET_SUMS = ", ".join(
    f"SUM(CASE WHEN seconds <= {bound} THEN 1 ELSE 0 END)" for bound in DURATION_BUCKETS_S
)


async def read_run_counts(db: Backend) -> list[RunCount]:
    """How many runs are in each status now, by workflow."""
    rows = await db.fetch_all(
        "SELECT workflow, status, COUNT(*) FROM runs GROUP BY workflow, status "
        "ORDER BY workflow, status"
    )
    return [RunCount(row[0], row[1], row[2]) for row in rows]


async def read_tallies(db: Backend) -> Tallies:
    """The tallies, each query one pass over its table in one read."""
    runs = await read_run_counts(db)
    finished = await db.fetch_all(
        "SELECT r.workflow, CASE WHEN a.action = 'dead_letter.add' THEN 'dead_lettered' "
        "ELSE json_extract(a.detail, '$.status') END, COUNT(*) "
        "FROM audit_log AS a JOIN runs AS r ON r.adw_id = a.adw_id "
        "WHERE a.action = 'dead_letter.add' OR (a.action = 'run.status' AND "
        "json_extract(a.detail, '$.status') IN ('succeeded', 'failed', 'cancelled')) "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    )
    calls = await db.fetch_all(
        # An agent's attempt without an engine is from before engines were recorded:
        # Claude Code's. Built-in steps (no agent) are no agent calls.
        "SELECT COALESCE(engine, 'claude'), COALESCE(NULLIF(error_class, ''), 'none'), "
        "COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cost_usd) "
        "FROM step_attempts WHERE finished_at IS NOT NULL AND agent IS NOT NULL "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    )
    # Wall time from the attempt's start to its end: an agent's own `duration_ms` leaves
    # out its start-up, and built-in steps have none.
    durations = await db.fetch_all(
        f"SELECT step, COUNT(*), SUM(seconds), {_BUCKET_SUMS} FROM ("
        "SELECT step, round((julianday(finished_at) - julianday(started_at)) * 86400.0, 3) "
        "AS seconds "
        "FROM step_attempts WHERE finished_at IS NOT NULL"
        ") AS finished GROUP BY step ORDER BY step"
    )
    return Tallies(
        runs=runs,
        finished=[RunCount(row[0], row[1], row[2]) for row in finished],
        calls=[CallTally(row[0], row[1], row[2], row[3], row[4], row[5]) for row in calls],
        durations=[
            DurationHistogram(
                step=row[0],
                buckets=tuple(int(n) for n in tuple(row)[3:]),
                count=row[1],
                sum_s=row[2],
            )
            for row in durations
        ],
    )
