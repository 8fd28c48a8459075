"""How one visit of a step ended, and where the run goes next."""

from dataclasses import dataclass, field
from typing import Any

from adw_tui.domain.steps import StepStatus
from adw_tui.domain.workflow import StepDef
from adw_tui.store.steps import AttemptEnd


@dataclass(frozen=True)
class StepOutcome:
    status: StepStatus
    next_state: str | None
    saves: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_class: str | None = None
    attempts: int = 1
    request: dict[str, Any] = field(default_factory=dict)
    # Attempts still open: closed in the same transaction as the step's state version.
    pending: tuple[AttemptEnd, ...] = ()

    @classmethod
    def succeeded(cls, step: StepDef, saves: dict[str, Any] | None = None) -> "StepOutcome":
        return cls(StepStatus.SUCCEEDED, step.on_success, saves or {})

    @classmethod
    def skipped(cls, step: StepDef) -> "StepOutcome":
        return cls(StepStatus.SKIPPED, step.on_success)

    @classmethod
    def failed(
        cls,
        step: StepDef,
        error: str,
        *,
        error_class: str = "step_error",
        attempts: int = 1,
        request: dict[str, Any] | None = None,
    ) -> "StepOutcome":
        return cls(
            StepStatus.FAILED,
            step.on_failure,
            error=error,
            error_class=error_class,
            attempts=attempts,
            request=request or {},
        )
