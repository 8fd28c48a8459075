"""The rows the KPIs are computed from (`adw_tui.domain.kpis`): one per run, with its
latest state's model set and issue class and its agent calls summed, and the failed
attempts by step and error class.

A filter left out is a NULL parameter, typed by a CAST: PostgreSQL cannot tell the type
of a parameter only compared with NULL."""

from adw_tui.domain.kpis import DECIDED, RunOutcome, StepFailures
from adw_tui.store.backend import Backend

_OUTCOMES = """
SELECT r.workflow,
       COALESCE(json_extract(v.data, '$.model_set'), 'base'),
       COALESCE(json_extract(v.data, '$.issue_class'), ''),
       r.status,
       round((julianday(r.updated_at) - julianday(r.created_at)) * 86400.0, 3),
       r.cost_usd,
       COALESCE(calls.count, 0),
       COALESCE(calls.tokens, 0),
       substr(r.created_at, 1, 10)
FROM runs AS r
JOIN state_versions AS v ON v.adw_id = r.adw_id AND v.version = r.version
LEFT JOIN (
    SELECT adw_id, COUNT(*) AS count, SUM(input_tokens + output_tokens) AS tokens
    FROM step_attempts WHERE agent IS NOT NULL GROUP BY adw_id
) AS calls ON calls.adw_id = r.adw_id
WHERE (CAST(:since AS TEXT) IS NULL OR r.created_at >= :since)
  AND (CAST(:workflow AS TEXT) IS NULL OR r.workflow = :workflow)
"""

_FAILURES = """
SELECT r.workflow, a.step, COALESCE(NULLIF(a.error_class, ''), 'unknown'), COUNT(*)
FROM step_attempts AS a JOIN runs AS r ON r.adw_id = a.adw_id
WHERE a.status = 'failed'
  AND (CAST(:since AS TEXT) IS NULL OR r.created_at >= :since)
  AND (CAST(:workflow AS TEXT) IS NULL OR r.workflow = :workflow)
GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3 LIMIT :limit
"""


async def run_outcomes(
    db: Backend, *, since: str | None = None, workflow: str | None = None
) -> list[RunOutcome]:
    """Every run created since `since` (a stored time), of `workflow` if given."""
    params = {"since": since, "workflow": workflow}
    return [
        RunOutcome(
            workflow=row[0],
            model_set=str(row[1]),
            # The original ADW wrote the class as its command: `/feature`.
            issue_class=str(row[2]).lstrip("/"),
            status=row[3],
            duration_s=row[4] if row[3] in DECIDED else None,
            cost_usd=row[5],
            agent_calls=row[6],
            tokens=row[7],
            day=row[8],
        )
        for row in await db.fetch_all(_OUTCOMES, params)
    ]


async def step_failures(
    db: Backend, *, since: str | None = None, workflow: str | None = None, limit: int = 10
) -> list[StepFailures]:
    """The steps whose attempts failed most, by workflow and error class."""
    params = {"since": since, "workflow": workflow, "limit": limit}
    return [
        StepFailures(row[0], row[1], row[2], row[3])
        for row in await db.fetch_all(_FAILURES, params)
    ]
