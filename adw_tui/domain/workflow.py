"""Workflow definitions: a state machine of agent steps and built-in actions.

A step either sends a prompt template (`command`) to an agent, or runs a built-in
`action`. Where it goes next depends on how it ended:

- `on_success`: it ran and its output passed (for `test_results`: every test passed; for
  `review`: no blocker);
- `on_reject`: it ran but its verdict was negative (failing tests, blocking review
  issues); defaults to `on_failure`;
- `on_failure`: it could not be done (the agent still failed after its retry policy's
  attempts, or returned something other than the promised output);
- `on_exhausted`: it was entered more than `max_visits` times (a fix-and-retest loop that
  does not converge); defaults to `on_failure`.

A scout step (`scouts: [...]` or `scale: N`) sends its `command` (default `/scout`) to
several agents at once, each on its own engine, and merges their answers (see
`domain.scouts`); it is never retried, so it takes no `retry`, `agent`, `engine` or
`model` of its own.

A step with `when` runs only if its condition holds, and otherwise goes straight to
`on_success`. A terminal step ends the run; `action: record_failure` on it dead-letters
the run.

A command step's agent call is retried under a `RetryPolicy`: the defaults come from the
settings, a step's `retry:` mapping overrides some or all of its fields, and `max_retries:
n` is a shorthand for `max_attempts: n + 1` (`retry.max_attempts` wins when both are
given).
"""

import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from adw_tui.domain.agent import ErrorClass
from adw_tui.domain.modeling import Model
from adw_tui.domain.scouts import MAX_SCALE, ScoutSpec

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
# The sections of the improved plan command; a plan file has each as a `## ` heading.
PLAN_SECTIONS = (
    "Summary",
    "Problem",
    "Inputs",
    "Approach",
    "Implementation steps",
    "Testing strategy",
    "Risks",
    "Success criteria",
)
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class StepOutput(StrEnum):
    """What a command step promises to return, checked before the run moves on."""

    TEXT = "text"
    JSON = "json"
    CLASSIFICATION = "classification"
    BRANCH_NAME = "branch_name"
    FILE = "file"
    PLAN_FILE = "plan_file"
    TEST_RESULTS = "test_results"
    REVIEW = "review"


class Action(StrEnum):
    """Built-in steps the runtime performs itself."""

    SETUP_WORKTREE = "setup_worktree"
    MERGE = "merge"
    PUSH = "push"
    OPEN_PR = "open_pr"
    # Check a plan's inputs (the issue, the scouts' file) and fetch the issue's links.
    FETCH_DOCS = "fetch_docs"
    RECORD_FAILURE = "record_failure"


class Condition(StrEnum):
    DIFF_NOT_EMPTY = "diff_not_empty"
    # The tracker hosts the repository (GitHub): branches are pushed and pull requests
    # opened there. With the local tracker a run's branch stays local.
    HOSTED = "hosted"


# Classes a step can fail with that are not an agent's ErrorClass: its template cannot be
# rendered, it needs a state value that is missing, or its answer is not the promised one.
STEP_ERROR_CLASSES = frozenset({"bad_template", "invalid_workflow", "bad_output"})
_KNOWN_ERROR_CLASSES = STEP_ERROR_CLASSES | {
    c.value for c in ErrorClass if c is not ErrorClass.NONE
}
# Failures that the same call will not get past, however often it is tried.
DEFAULT_NON_RETRYABLE = (
    "auth",
    "invalid_request",
    "not_installed",
    "bad_template",
    "max_turns",
    "memory_limit",
    "breaker_open",
    "budget",
)


def _known_error_class(name: str) -> str:
    if name not in _KNOWN_ERROR_CLASSES:
        known = ", ".join(sorted(_KNOWN_ERROR_CLASSES))
        raise ValueError(f"unknown error class {name!r}; known: {known}")
    return name


ErrorClassName = Annotated[str, AfterValidator(_known_error_class)]


class RetryPolicy(Model):
    """How a step's agent call is retried: capped exponential backoff plus random jitter.

    The wait after attempt n fails is `min(initial_interval * backoff_coefficient **
    (n - 1), max_interval)` plus a uniformly random `[0, jitter]` seconds. A failure is
    retried only when its class is transient (`ErrorClass.transient`) and not listed in
    `non_retryable`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(ge=1, le=100, description="calls in all, the first included")
    initial_interval: float = Field(ge=0, description="seconds before the first retry")
    backoff_coefficient: float = Field(ge=1, description="each wait is this times the last")
    max_interval: float = Field(ge=0, description="the longest wait, before jitter")
    jitter: float = Field(ge=0, description="seconds of random extra wait, at most")
    non_retryable: list[ErrorClassName] = Field(
        default_factory=lambda: list(DEFAULT_NON_RETRYABLE),
        description="error classes that are never retried",
    )


class RetryOverrides(Model):
    """A step's `retry:` mapping: the fields it sets replace the defaults' values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int | None = Field(default=None, ge=1, le=100)
    initial_interval: float | None = Field(default=None, ge=0)
    backoff_coefficient: float | None = Field(default=None, ge=1)
    max_interval: float | None = Field(default=None, ge=0)
    jitter: float | None = Field(default=None, ge=0)
    non_retryable: list[ErrorClassName] | None = None

    def merged_over(self, defaults: RetryPolicy) -> RetryPolicy:
        """`defaults` with the fields this sets replaced."""
        return RetryPolicy.model_validate(
            {**defaults.model_dump(), **self.model_dump(exclude_none=True)}
        )


DEFAULT_MAX_VISITS = 10
"""The visits a state without `max_visits` gets: no loop goes round for ever."""


class StepDef(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    command: str | None = Field(default=None, description="prompt template, e.g. /implement")
    agent: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    args: list[str] = Field(default_factory=list)
    model: str | None = None
    engine: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(
        default=None, ge=0, le=20, description="shorthand for retry.max_attempts = this + 1"
    )
    retry: RetryOverrides | None = None
    output: StepOutput = StepOutput.TEXT
    save: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    when: Condition | None = None
    max_visits: int | None = Field(default=None, ge=1)
    on_success: str | None = None
    on_reject: str | None = None
    on_failure: str | None = None
    on_exhausted: str | None = None
    terminal: bool = False
    action: Action | None = None
    scouts: list[ScoutSpec] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SCALE,
        description="a scout step's scouts, run in parallel: [{engine, model, timeout}]",
    )
    scale: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SCALE,
        description="a scout step of the settings' first `scale` scouts (round robin)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.is_scout:
            return self._consistent_scout()
        if self.retry is not None and self.command is None:
            raise ValueError("`retry` applies to agent calls: only a command state has one")
        if self.terminal:
            if self.command or self.on_success or self.on_failure or self.on_reject:
                raise ValueError("a terminal state has no command and no transitions")
            if self.action not in (None, Action.RECORD_FAILURE):
                raise ValueError("a terminal state's only action is record_failure")
            return self
        if (self.command is None) == (self.action is None):
            raise ValueError("a state needs exactly one of `command` or `action`")
        if self.action is Action.RECORD_FAILURE:
            raise ValueError("record_failure belongs on a terminal state")
        if self.command is not None and self.agent is None:
            raise ValueError("a command state needs `agent` (its output folder and model)")
        if self.on_success is None:
            raise ValueError("a non-terminal state needs `on_success`")
        return self

    def _consistent_scout(self) -> Self:
        if self.scouts is not None and self.scale is not None:
            raise ValueError(
                "a scout state takes `scouts` (a list) or `scale` (a number), not both"
            )
        given = [
            name
            for name in ("agent", "engine", "model", "action", "retry", "max_retries")
            if getattr(self, name) is not None
        ]
        if self.terminal:
            given.append("terminal")
        if given:
            raise ValueError(
                f"a scout state has no {', '.join(given)}: each scout names its engine and "
                "model in `scouts`, and a scout is never retried"
            )
        if self.output is not StepOutput.TEXT:
            raise ValueError("a scout state's output is its relevant_files.json: drop `output`")
        if self.on_success is None:
            raise ValueError("a non-terminal state needs `on_success`")
        return self

    @property
    def is_scout(self) -> bool:
        """True for a scout step (`scouts` or `scale`)."""
        return self.scouts is not None or self.scale is not None

    @property
    def scout_command(self) -> str:
        """The prompt template a scout step sends: its `command`, else `/scout`."""
        return self.command or "/scout"

    @property
    def visit_limit(self) -> int:
        """`max_visits`, else `DEFAULT_MAX_VISITS`."""
        return self.max_visits or DEFAULT_MAX_VISITS

    def transitions(self) -> dict[str, str]:
        """Field name to target state, for every transition this step declares."""
        fields = ("on_success", "on_reject", "on_failure", "on_exhausted")
        return {field: target for field in fields if (target := getattr(self, field))}

    def retry_policy(self, defaults: RetryPolicy) -> RetryPolicy:
        """This step's policy: `retry` over `defaults`, with `max_retries` as the number
        of retries when `retry` does not set `max_attempts`."""
        overrides = self.retry or RetryOverrides()
        if overrides.max_attempts is None and self.max_retries is not None:
            overrides = overrides.model_copy(update={"max_attempts": self.max_retries + 1})
        return overrides.merged_over(defaults)

    def variables(self) -> set[str]:
        """The `${name}` variables its command and arguments read."""
        texts = [self.command or "", *self.args]
        return {match for text in texts for match in _VARIABLE.findall(text)}


class WorkflowDef(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    start: str | None = None
    states: dict[str, StepDef] = Field(min_length=1)

    @model_validator(mode="after")
    def _graph(self) -> Self:
        for state, step in self.states.items():
            if not re.fullmatch(NAME_PATTERN, state):
                raise ValueError(f'state "{state}": the name must match {NAME_PATTERN}')
            for field, target in step.transitions().items():
                if target not in self.states:
                    raise ValueError(f'state "{state}": {field}: names unknown state "{target}"')
        if self.start is not None and self.start not in self.states:
            raise ValueError(f'start: names unknown state "{self.start}"')
        if not any(step.terminal for step in self.states.values()):
            raise ValueError("a workflow needs at least one terminal state")
        stuck = self._never_ending()
        if stuck:
            names = ", ".join(f'"{name}"' for name in stuck)
            raise ValueError(
                f"states {names} can never reach a terminal state (every transition leads "
                "back among them): point an on_failure or on_exhausted at a terminal state"
            )
        return self

    def _never_ending(self) -> list[str]:
        """The states a run can enter but never leave for a terminal state. A state with
        no `on_failure` can: its failures go to the dead letter."""
        ending = {n for n, step in self.states.items() if step.terminal or not step.on_failure}
        grew = True
        while grew:
            grew = False
            for name, step in self.states.items():
                if name not in ending and ending & set(step.transitions().values()):
                    ending.add(name)
                    grew = True
        entered = self.reachable_states()
        return [name for name in self.states if name in entered and name not in ending]

    def reachable_states(self) -> set[str]:
        """The states some run can enter: those the start state leads to."""
        seen = {self.first_state}
        pending = [self.first_state]
        while pending:
            for target in self.states[pending.pop()].transitions().values():
                if target not in seen:
                    seen.add(target)
                    pending.append(target)
        return seen

    @property
    def first_state(self) -> str:
        return self.start or next(iter(self.states))


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace `${name}` with `values[name]`; unknown names raise KeyError(name)."""
    return _VARIABLE.sub(lambda match: values[match.group(1)], text)
