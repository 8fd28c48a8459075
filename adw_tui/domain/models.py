"""Runs, their versioned state, dead letters and the audit trail."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from adw_tui.domain.control import RunControl
from adw_tui.domain.fleet import FleetWants
from adw_tui.domain.ids import ADW_ID_PATTERN
from adw_tui.domain.modeling import Model

AdwId = Annotated[str, StringConstraints(pattern=ADW_ID_PATTERN)]


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    # Stopped by an operator to free its slot, to go on later from the step it was in
    # (see `adw_tui.runtime.pausing`): not active, not final, never resumed by recovery.
    PAUSED = "paused"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATUSES

    @property
    def is_active(self) -> bool:
        """Queued or running: a process may be executing (or about to execute) the run.
        An interrupted run is not: nothing runs it until it is resumed."""
        return self in (RunStatus.QUEUED, RunStatus.RUNNING)


_FINAL_STATUSES = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.DEAD_LETTERED, RunStatus.CANCELLED}
)


class RunState(Model):
    """The data a workflow carries from step to step.

    A superset of the original ADW `adw_state.json` fields; steps may add any other key,
    which is kept as is (`extra="allow"`).
    """

    model_config = ConfigDict(extra="allow")

    adw_id: AdwId
    issue_number: str | None = None
    branch_name: str | None = None
    plan_file: str | None = None
    issue_class: str | None = None
    worktree_path: str | None = None
    backend_port: int | None = None
    frontend_port: int | None = None
    model_set: str = "base"
    all_adws: list[str] = Field(default_factory=list)

    @field_validator("issue_number", mode="before")
    @classmethod
    def _issue_number_as_text(cls, value: object) -> object:
        # The original ADW wrote issue numbers both as "42" and as 42.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("model_set", mode="before")
    @classmethod
    def _null_model_set_is_base(cls, value: object) -> object:
        # The original ADW wrote `"model_set": null` for the default set.
        return "base" if value is None else value

    def as_data(self) -> dict[str, Any]:
        """Every field, the free-form ones included, as plain JSON-compatible data."""
        return self.model_dump(mode="json")


class RunRecord(Model):
    """One run: its identity, where it is, and the number of its newest state version."""

    adw_id: AdwId
    issue: str | None = None
    workflow: str
    status: RunStatus = RunStatus.QUEUED
    current_step: str | None = None
    version: int = Field(ge=1)
    cost_usd: float = 0.0
    created_at: datetime
    updated_at: datetime
    owner: str | None = Field(default=None, description="host:pid of the executing process")
    heartbeat_at: datetime | None = None
    pr_number: int | None = Field(default=None, description="the pull request it opened")
    requested: str | None = Field(
        default=None, description="what another process asked of its owner (pause)"
    )
    fleet: FleetWants | None = Field(
        default=None, description="queued for workers: what it needs of the one that takes it"
    )

    @field_validator("fleet", mode="before")
    @classmethod
    def _fleet_from_json(cls, value: object) -> object:
        return FleetWants.model_validate_json(value) if isinstance(value, str) else value


class StateVersion(Model):
    """One immutable version of a run's state and the runtime's control of it.

    `parent` is the version this one was derived from: the previous version for an
    ordinary save, the target version for a rollback (a fork), None for the first.
    """

    adw_id: AdwId
    version: int = Field(ge=1)
    parent: int | None
    state: RunState
    control: RunControl = Field(default_factory=RunControl)
    reason: str
    actor: str
    git_head: str | None = None
    created_at: datetime


class VersionInfo(Model):
    """A state version without its data: one line of a run's history."""

    version: int
    parent: int | None
    created_at: datetime
    reason: str
    actor: str
    git_head: str | None = None


class RunWithState(Model):
    run: RunRecord
    state: RunState
    control: RunControl = Field(default_factory=RunControl)


class DeadLetterStatus(StrEnum):
    PENDING = "pending"
    REPLAYED = "replayed"
    DROPPED = "dropped"


class Replay(Model):
    """One replay of a dead letter: the run went on from `from_step` with the state
    written as `state_version`."""

    id: int
    letter_id: int
    adw_id: AdwId
    from_step: str
    state_version: int
    actor: str
    replayed_at: datetime


class NewDeadLetter(Model):
    """What a caller hands the store to dead-letter a run."""

    adw_id: AdwId
    workflow: str
    step: str | None
    state_version: int
    error_class: str
    error_message: str
    attempts: int = Field(ge=0)
    request: dict[str, Any] = Field(default_factory=dict)


class DeadLetter(NewDeadLetter):
    """A run that exhausted its retries, with what is needed to replay it: the letter as
    handed to the store, and what the store keeps about it."""

    id: int
    status: DeadLetterStatus = DeadLetterStatus.PENDING
    created_at: datetime
    resolved_at: datetime | None = None
    replays: list[Replay] = Field(default_factory=list)


class DeadLetterFilter(Model):
    """Which dead letters a view shows or a bulk replay takes: each field that is set
    narrows the selection, None matches anything."""

    model_config = ConfigDict(frozen=True)

    error_class: str | None = None
    workflow: str | None = None
    status: DeadLetterStatus | None = None

    def matches(self, letter: DeadLetter) -> bool:
        return (
            self.error_class in (None, letter.error_class)
            and self.workflow in (None, letter.workflow)
            and self.status in (None, letter.status)
        )


class AuditEntry(Model):
    """Who did what, when: every operator action and every state-changing event."""

    id: int
    at: datetime
    actor: str
    action: str
    adw_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
