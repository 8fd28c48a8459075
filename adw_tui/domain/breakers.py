"""Circuit breakers: one per engine and per tracker, so that a service that keeps failing
is left alone for a while instead of being called in a hot retry loop.

    closed ──N consecutive transient failures──▶ open
    open ──cool-down passed, one caller probes──▶ half_open
    half_open ──M consecutive successes──▶ closed
    half_open ──a transient failure──▶ open (a new cool-down)

Only outcomes that say something about the service move a breaker: a success, or a
transient failure (`ErrorClass.transient`). A permanent failure (auth, a bad request, a
template error) or a cancelled call is neutral: the same call would fail however healthy
the service is, so it neither trips the breaker nor resets its count.

While half-open, one caller at a time holds the probe; a probe that has not reported
within `probe_timeout_s` is presumed lost with its process, and the next caller probes.

Everything here is pure: every transition takes `now`, and the store persists the result.
"""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field

from adw_tui.domain.modeling import Model

BreakerOpenAction = Literal["wait", "dead_letter"]
"""What a step does when its breaker refuses it: wait for the cool-down, or fail at once."""


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Outcome(StrEnum):
    """What one call tells a breaker about its service."""

    SUCCESS = "success"
    FAILURE = "failure"  # transient: the service may be down or overloaded
    NEUTRAL = "neutral"  # a permanent error or an interrupted call: nothing learned


class BreakerPolicy(Model):
    model_config = ConfigDict(frozen=True)

    failure_threshold: int = Field(ge=1, description="consecutive transient failures to open")
    success_threshold: int = Field(ge=1, description="consecutive half-open successes to close")
    cooldown_s: float = Field(gt=0, description="seconds open before a probe may go through")
    probe_timeout_s: float = Field(gt=0, description="seconds before a silent probe is lost")


class Breaker(Model):
    """One breaker's state; a name never seen is a closed breaker with no history."""

    model_config = ConfigDict(frozen=True)

    name: str
    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    opened_at: datetime | None = None
    probe_started_at: datetime | None = None
    updated_at: datetime | None = None
    last_error: str | None = None

    def blocked_until(self, policy: BreakerPolicy) -> datetime | None:
        """When a call may next go through; None when one may go now (closed, or
        half-open with no probe in flight)."""
        if self.state is BreakerState.OPEN:
            assert self.opened_at is not None
            return self.opened_at + timedelta(seconds=policy.cooldown_s)
        if self.state is BreakerState.HALF_OPEN and self.probe_started_at is not None:
            return self.probe_started_at + timedelta(seconds=policy.probe_timeout_s)
        return None

    def allows(self, now: datetime, policy: BreakerPolicy) -> bool:
        until = self.blocked_until(policy)
        return until is None or now >= until

    def probe(self, now: datetime, policy: BreakerPolicy) -> "Breaker | None":
        """The breaker once a caller is let through at `now`, or None if it is refused.

        A closed breaker lets everyone through unchanged; an open one whose cool-down
        has passed, or a half-open one with no live probe, becomes half-open with the
        caller as its probe."""
        if self.state is BreakerState.CLOSED:
            return self
        if not self.allows(now, policy):
            return None
        successes = self.consecutive_successes if self.state is BreakerState.HALF_OPEN else 0
        return self._changed(
            now,
            state=BreakerState.HALF_OPEN,
            consecutive_successes=successes,
            probe_started_at=now,
        )

    def after(
        self,
        outcome: Outcome,
        now: datetime,
        policy: BreakerPolicy,
        error: str | None = None,
    ) -> "Breaker":
        """The breaker once a call ended with `outcome` (`error`: the failure's message)."""
        if outcome is Outcome.SUCCESS:
            return self._after_success(now, policy)
        if outcome is Outcome.FAILURE:
            return self._after_failure(now, policy, error)
        if self.state is BreakerState.HALF_OPEN:
            return self._changed(now, probe_started_at=None)  # let the next caller probe
        return self

    def _after_success(self, now: datetime, policy: BreakerPolicy) -> "Breaker":
        if self.state is BreakerState.CLOSED:
            return self._changed(now, consecutive_failures=0)
        if self.state is BreakerState.OPEN:
            # A call that started before the breaker opened: too old to close it.
            return self
        successes = self.consecutive_successes + 1
        if successes >= policy.success_threshold:
            return self._changed(
                now,
                state=BreakerState.CLOSED,
                consecutive_failures=0,
                consecutive_successes=0,
                opened_at=None,
                probe_started_at=None,
            )
        return self._changed(now, consecutive_successes=successes, probe_started_at=None)

    def _after_failure(self, now: datetime, policy: BreakerPolicy, error: str | None) -> "Breaker":
        failures = self.consecutive_failures + 1
        opens = self.state is BreakerState.HALF_OPEN or (
            self.state is BreakerState.CLOSED and failures >= policy.failure_threshold
        )
        if not opens:
            # Closed below the threshold, or a late failure while open: count it, but
            # never extend a cool-down already running.
            return self._changed(now, consecutive_failures=failures, last_error=error)
        return self._changed(
            now,
            state=BreakerState.OPEN,
            consecutive_failures=failures,
            consecutive_successes=0,
            opened_at=now,
            probe_started_at=None,
            last_error=error,
        )

    def refusal(self, policy: BreakerPolicy) -> str:
        """Why a call is held back now, for the operator."""
        if self.state is BreakerState.HALF_OPEN:
            return f"breaker {self.name} is half-open: another call is probing {self.name}"
        until = self.blocked_until(policy)
        last = f" (last: {self.last_error})" if self.last_error else ""
        when = f"; it lets a probe through at {until:%H:%M:%S} UTC" if until else ""
        return (
            f"breaker {self.name} is {self.state} after {self.consecutive_failures} "
            f"consecutive transient failures{last}{when}"
        )

    def _changed(self, now: datetime, **changes: Any) -> "Breaker":
        """`self` with `changes` and `updated_at = now`; `self` itself if nothing changes,
        so the store can skip the write."""
        if all(getattr(self, key) == value for key, value in changes.items()):
            return self
        return self.model_copy(update={**changes, "updated_at": now})
