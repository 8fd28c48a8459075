"""Step attempts: one row per try of a workflow step, the run's timeline."""

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from adw_tui.domain.modeling import Model


class StepStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    FAILED = "failed"
    SKIPPED = "skipped"
    # Stopped by a pause of its run; the run goes on with this step, from the attempt's
    # session where the engine can resume one.
    PAUSED = "paused"


class StepAttempt(Model):
    id: int
    adw_id: str
    step: str
    visit: int
    attempt: int
    agent: str | None = None
    engine: str | None = None
    model: str | None = None
    status: StepStatus
    started_at: datetime
    finished_at: datetime | None = None
    session_id: str | None = None
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    duration_ms: int | None = None
    error_class: str | None = None
    error_message: str | None = None
    pgid: int | None = None


class StepSummary(Model):
    """One visit of a step, its attempts folded: a line of `adw show`'s timeline."""

    step: str
    visit: int
    agent: str | None
    status: StepStatus
    attempts: int
    duration_ms: int
    cost_usd: float
    session_id: str | None
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    started_at: datetime | None = None
    """When the visit's first attempt started (a running visit's elapsed time counts
    from it)."""
    attempt_ids: list[int] = Field(default_factory=list)
    """The store ids of the visit's attempts, in order (each keeps its own transcript)."""
    attempt_engines: list[str | None] = Field(default_factory=list)
    """The engine of each of those attempts (its transcript is in that engine's format)."""
    attempt_agents: list[str | None] = Field(default_factory=list)
    """The agent of each of those attempts (its transcript's folder): one agent for a
    step's retries, one each for a scout step's scouts."""

    @classmethod
    def of(cls, attempts: list[StepAttempt]) -> "StepSummary":
        """The visit's attempts folded. One after the other (retries of one agent), the
        last says how the visit ended; side by side (a scout step's scouts, each an agent
        of its own), the visit succeeded when one of them did."""
        last = attempts[-1]
        status, error = last.status, last.error_message
        if len({attempt.agent for attempt in attempts}) > 1:
            status, error = _side_by_side(attempts)
        return cls(
            step=last.step,
            visit=last.visit,
            agent=last.agent,
            status=status,
            attempts=len(attempts),
            duration_ms=sum(a.duration_ms or 0 for a in attempts),
            cost_usd=sum(a.cost_usd for a in attempts),
            session_id=last.session_id,
            error=error,
            input_tokens=sum(a.input_tokens for a in attempts),
            output_tokens=sum(a.output_tokens for a in attempts),
            started_at=attempts[0].started_at,
            attempt_ids=[attempt.id for attempt in attempts],
            attempt_engines=[attempt.engine for attempt in attempts],
            attempt_agents=[attempt.agent for attempt in attempts],
        )


def _side_by_side(attempts: list[StepAttempt]) -> tuple[StepStatus, str | None]:
    """Running while one runs; else succeeded when one did; else failed, with each
    agent's error."""
    statuses = {attempt.status for attempt in attempts}
    for status in (StepStatus.RUNNING, StepStatus.SUCCEEDED):
        if status in statuses:
            return status, None
    errors = [f"{a.agent}: {a.error_message}" for a in attempts if a.error_message]
    return attempts[-1].status, "; ".join(errors) or None
