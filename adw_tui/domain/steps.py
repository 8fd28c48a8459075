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

    @classmethod
    def of(cls, attempts: list[StepAttempt]) -> "StepSummary":
        last = attempts[-1]
        return cls(
            step=last.step,
            visit=last.visit,
            agent=last.agent,
            status=last.status,
            attempts=len(attempts),
            duration_ms=sum(a.duration_ms or 0 for a in attempts),
            cost_usd=sum(a.cost_usd for a in attempts),
            session_id=last.session_id,
            error=last.error_message,
            input_tokens=sum(a.input_tokens for a in attempts),
            output_tokens=sum(a.output_tokens for a in attempts),
            started_at=attempts[0].started_at,
            attempt_ids=[attempt.id for attempt in attempts],
            attempt_engines=[attempt.engine for attempt in attempts],
        )
