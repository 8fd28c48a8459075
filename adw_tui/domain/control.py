"""The runtime's own bookkeeping of a run: where it goes next, how often each step ran,
why it last failed and which engine it runs on.

It is versioned with the run's state (a rollback rewinds it too) but kept apart from the
workflow's data, so a step's `save` can never overwrite it and a prompt never sees it.
"""

from typing import Any

from pydantic import Field

from adw_tui.domain.modeling import Model


class LastError(Model):
    """The failure that sent the run to its failure state: what its dead letter says."""

    step: str | None = None
    error_class: str = "unknown"
    message: str = ""
    attempts: int = Field(default=0, ge=0)
    request: dict[str, Any] = Field(default_factory=dict)


class RunControl(Model):
    """Where a run is in its workflow. `next_state` None: the run has not finished a
    step yet and starts at the workflow's first state."""

    next_state: str | None = None
    visits: dict[str, int] = Field(default_factory=dict)
    last_error: LastError | None = None
    engine: str | None = Field(default=None, description="the engine the run launched with")

    def restarted_at(self, state: str) -> "RunControl":
        """The control of this run sent (again) to `state`: visits counted afresh, no
        error carried over, the same engine."""
        return RunControl(next_state=state, engine=self.engine)
