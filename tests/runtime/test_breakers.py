"""Circuit breakers: the pure transitions on a fake clock, their state in the store
(shared by processes, kept across restarts), the gate a call passes, and a run whose
engine keeps failing, end to end with the simulated agent."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adw_tui.domain.agent import AgentResult, ErrorClass
from adw_tui.domain.breakers import (
    Breaker,
    BreakerOpenAction,
    BreakerPolicy,
    BreakerState,
    Outcome,
)
from adw_tui.domain.errors import IssueNotFoundError
from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.breakers import BreakerGate, BreakerOpenError
from adw_tui.runtime.events import EventBus, RuntimeEvent, RunWaiting
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.runtime.test_orchestrator import fast_settings

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = BreakerPolicy(failure_threshold=3, success_threshold=2, cooldown_s=60, probe_timeout_s=600)
ERROR = "overloaded: 529 (simulated)"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def failed(breaker: Breaker, seconds: float) -> Breaker:
    return breaker.after(Outcome.FAILURE, at(seconds), POLICY, ERROR)


def opened(seconds: float = 2) -> Breaker:
    """A breaker that opened at `seconds` after three transient failures."""
    breaker = Breaker(name="claude")
    for moment in (seconds - 2, seconds - 1, seconds):
        breaker = failed(breaker, moment)
    return breaker


def half_open() -> Breaker:
    """Opened at 2 s, probed at 62 s (right after its cool-down)."""
    probing = opened(2).probe(at(62), POLICY)
    assert probing is not None
    return probing


# The transitions


def test_opens_after_n_consecutive_transient_failures() -> None:
    breaker = failed(failed(Breaker(name="claude"), 0), 1)
    assert (breaker.state, breaker.consecutive_failures) == (BreakerState.CLOSED, 2)
    assert breaker.allows(at(1), POLICY)

    breaker = failed(breaker, 2)
    assert breaker.state is BreakerState.OPEN
    assert (breaker.opened_at, breaker.updated_at, breaker.last_error) == (at(2), at(2), ERROR)


def test_a_success_resets_the_count_and_a_permanent_failure_changes_nothing() -> None:
    twice = failed(failed(Breaker(name="claude"), 0), 1)
    assert twice.after(Outcome.NEUTRAL, at(2), POLICY) is twice  # nothing for the store to write
    assert failed(twice.after(Outcome.NEUTRAL, at(2), POLICY), 3).state is BreakerState.OPEN
    reset = twice.after(Outcome.SUCCESS, at(2), POLICY)
    assert (reset.state, reset.consecutive_failures) == (BreakerState.CLOSED, 0)
    assert failed(reset, 3).state is BreakerState.CLOSED


def test_refuses_while_open_then_lets_one_probe_through_after_the_cooldown() -> None:
    breaker = opened(2)
    assert not breaker.allows(at(61.9), POLICY)
    assert breaker.probe(at(61.9), POLICY) is None
    assert breaker.blocked_until(POLICY) == at(62)
    assert "lets a probe through at 12:01:02 UTC" in breaker.refusal(POLICY)

    probing = breaker.probe(at(62), POLICY)
    assert probing is not None
    assert (probing.state, probing.probe_started_at) == (BreakerState.HALF_OPEN, at(62))
    assert probing.probe(at(63), POLICY) is None  # one probe at a time
    assert "another call is probing" in probing.refusal(POLICY)


def test_closes_after_m_successes() -> None:
    once = half_open().after(Outcome.SUCCESS, at(63), POLICY)
    assert (once.state, once.consecutive_successes) == (BreakerState.HALF_OPEN, 1)
    again = once.probe(at(64), POLICY)  # the first probe is done: the next caller probes
    assert again is not None
    assert again.consecutive_successes == 1

    closed = again.after(Outcome.SUCCESS, at(65), POLICY)
    assert closed == Breaker(name="claude", updated_at=at(65), last_error=ERROR)
    assert closed.probe(at(65), POLICY) is closed


def test_a_failure_while_half_open_reopens_for_a_new_cooldown() -> None:
    reopened = failed(half_open(), 70)
    assert (reopened.state, reopened.opened_at) == (BreakerState.OPEN, at(70))
    assert reopened.consecutive_failures == 4
    assert reopened.blocked_until(POLICY) == at(130)


def test_a_late_failure_while_open_does_not_extend_the_cooldown() -> None:
    late = failed(opened(2), 30)
    assert (late.state, late.consecutive_failures, late.opened_at) == (BreakerState.OPEN, 4, at(2))
    assert opened(2).after(Outcome.SUCCESS, at(30), POLICY) == opened(2)


def test_an_interrupted_probe_lets_the_next_caller_probe_and_a_lost_one_expires() -> None:
    released = half_open().after(Outcome.NEUTRAL, at(63), POLICY)
    assert released.probe(at(63), POLICY) is not None
    assert half_open().probe(at(62 + 599), POLICY) is None
    assert half_open().probe(at(62 + 600), POLICY) is not None


# The store


async def record_failures(store: Store, count: int, start: float = 0) -> Breaker:
    breaker = Breaker(name="claude")
    for n in range(count):
        breaker = await store.breakers.record(
            "claude", Outcome.FAILURE, now=at(start + n), policy=POLICY, actor="t", error=ERROR
        )
    return breaker


async def test_a_breaker_never_used_is_closed_and_has_no_row(store: Store) -> None:
    assert await store.breakers.get("claude") == Breaker(name="claude")
    await store.breakers.record("claude", Outcome.SUCCESS, now=T0, policy=POLICY, actor="t")
    assert await store.breakers.list() == []


async def test_the_state_survives_a_restart(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        breaker = await record_failures(store, 3)
        assert breaker.state is BreakerState.OPEN
    async with await Store.open(db_path) as reopened:
        assert await reopened.breakers.get("claude") == breaker
        assert await reopened.breakers.list() == [breaker]
        allowed, _ = await reopened.breakers.try_probe(
            "claude", now=at(30), policy=POLICY, actor="t"
        )
        assert not allowed
        [audit] = [e for e in await reopened.audit.entries() if e.action.startswith("breaker.")]
        assert (audit.action, audit.detail["from"]) == ("breaker.open", "closed")


async def test_two_processes_share_one_breaker_and_only_one_of_them_probes(db_path: Path) -> None:
    async with await Store.open(db_path) as first, await Store.open(db_path) as second:
        await record_failures(first, 2)
        await record_failures(second, 1, start=2)  # the third consecutive failure, counted
        assert (await first.breakers.get("claude")).state is BreakerState.OPEN

        results = await asyncio.gather(
            *(
                store.breakers.try_probe("claude", now=at(62), policy=POLICY, actor="t")
                for store in (first, second, first, second)
            )
        )
        assert sorted(allowed for allowed, _ in results) == [False, False, False, True]
        assert (await second.breakers.get("claude")).state is BreakerState.HALF_OPEN


async def test_reset_closes_a_breaker_and_audits_it(store: Store) -> None:
    await record_failures(store, 3)
    before = await store.breakers.reset("claude", now=at(10), actor="cli")
    assert before.state is BreakerState.OPEN
    assert await store.breakers.get("claude") == Breaker(name="claude", updated_at=at(10))
    never = await store.breakers.reset("nope", now=at(10), actor="cli")
    assert never == Breaker(name="nope")
    assert [b.name for b in await store.breakers.list()] == ["claude"]
    resets = [e for e in await store.audit.entries() if e.action == "breaker.reset"]
    assert [(e.actor, e.detail["name"], e.detail["from"]) for e in resets] == [
        ("cli", "nope", "closed"),
        ("cli", "claude", "open"),
    ]


# The gate


class FakeTime:
    """The gate's clock and sleep: each wait is recorded and moves the clock on."""

    def __init__(self) -> None:
        self.now = T0
        self.waits: list[float] = []

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += timedelta(seconds=seconds)


class RecordingBus(EventBus):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[RuntimeEvent] = []

    def publish(self, event: RuntimeEvent) -> None:
        self.events.append(event)
        super().publish(event)


def make_gate(
    store: Store, time: FakeTime, action: BreakerOpenAction = "wait"
) -> tuple[BreakerGate, RecordingBus]:
    bus = RecordingBus()
    gate = BreakerGate(store, bus, POLICY, action=action, sleep=time.sleep, clock=time.clock)
    return gate, bus


def transient_failure() -> AgentResult:
    return AgentResult(success=False, error_class=ErrorClass.OVERLOADED, error_message="529")


async def test_a_call_waits_out_the_cooldown_then_probes_and_closes_the_breaker(
    store: Store,
) -> None:
    time = FakeTime()
    gate, bus = make_gate(store, time)
    for _ in range(3):
        await gate.record_result("claude", transient_failure(), adw_id="a1")
    time.now = at(10)

    await gate.wait_until_allowed("claude", adw_id="a1", step="plan")

    assert time.waits == [50.0]  # one wait, to the end of the cool-down
    [waiting] = bus.events
    assert isinstance(waiting, RunWaiting)
    assert (waiting.adw_id, waiting.step, waiting.wait_s) == ("a1", "plan", 50.0)
    assert "breaker claude is open after 3 consecutive transient failures" in waiting.reason
    assert "(last: overloaded: 529)" in waiting.reason
    assert (await store.breakers.get("claude")).state is BreakerState.HALF_OPEN
    for _ in range(2):
        await gate.record_result("claude", AgentResult(success=True), adw_id="a1")
        await gate.wait_until_allowed("claude", adw_id="a1", step="plan")
    assert (await store.breakers.get("claude")).state is BreakerState.CLOSED
    assert time.waits == [50.0]


async def test_permanent_failures_and_interrupted_calls_do_not_trip_the_breaker(
    store: Store,
) -> None:
    gate, _ = make_gate(store, FakeTime())
    auth = AgentResult(success=False, error_class=ErrorClass.AUTH, error_message="401")
    for result in (transient_failure(), auth, None, auth, transient_failure()):
        await gate.record_result("claude", result, adw_id="a1")
    breaker = await store.breakers.get("claude")
    assert (breaker.state, breaker.consecutive_failures) == (BreakerState.CLOSED, 2)


async def test_with_dead_letter_an_open_breaker_refuses_at_once(store: Store) -> None:
    time = FakeTime()
    gate, bus = make_gate(store, time, action="dead_letter")
    await record_failures(store, 3)
    with pytest.raises(BreakerOpenError, match="adw breakers reset claude") as refused:
        await gate.wait_until_allowed("claude", adw_id="a1", step="plan")
    assert time.waits == []
    assert bus.events == []
    result = refused.value.result()
    assert (result.success, result.error_class) == (False, ErrorClass.BREAKER_OPEN)
    time.now = at(62)  # the cool-down is over: even dead_letter lets the probe through
    await gate.wait_until_allowed("claude", adw_id="a1", step="plan")


async def test_callers_wait_while_another_one_probes(store: Store) -> None:
    time = FakeTime()
    sleeping, wake = asyncio.Event(), asyncio.Event()

    async def held_sleep(seconds: float) -> None:
        time.waits.append(seconds)
        sleeping.set()
        await wake.wait()
        time.now += timedelta(seconds=seconds)

    bus = RecordingBus()
    gate = BreakerGate(store, bus, POLICY, action="wait", sleep=held_sleep, clock=time.clock)
    await record_failures(store, 3)
    time.now = at(62)
    await gate.wait_until_allowed("claude", adw_id="prober", step="plan")

    other = asyncio.create_task(gate.wait_until_allowed("claude", adw_id="other", step="plan"))
    await sleeping.wait()
    assert time.waits == [60.0]  # polls once a cool-down while the probe is in flight
    [waiting] = bus.events
    assert isinstance(waiting, RunWaiting)
    assert "another call is probing claude" in waiting.reason
    # The first of two successes: still half-open, but the probe is released.
    await gate.record("claude", Outcome.SUCCESS, adw_id="prober")
    wake.set()
    await other
    breaker = await store.breakers.get("claude")
    assert (breaker.state, breaker.probe_started_at) == (BreakerState.HALF_OPEN, at(122))


async def test_a_tracker_call_behind_its_breaker(store: Store) -> None:
    gate, _ = make_gate(store, FakeTime())

    async def unreachable() -> str:
        raise ConnectionError("tracker unreachable")

    async def missing() -> str:
        raise IssueNotFoundError(7)

    async def posted() -> str:
        return "posted"

    for call in (unreachable, missing, unreachable):
        with pytest.raises((ConnectionError, IssueNotFoundError)):
            await gate.call("github", call, adw_id="a1", step="comment")
    breaker = await store.breakers.get("github")
    assert breaker.consecutive_failures == 2  # an unknown issue is not the tracker's fault
    assert breaker.last_error == "ConnectionError: tracker unreachable"
    assert await gate.call("github", posted, adw_id="a1", step="comment") == "posted"
    assert (await store.breakers.get("github")).consecutive_failures == 0


# End to end


async def test_an_open_breaker_dead_letters_the_step_with_breaker_open(
    repo: Path, store: Store
) -> None:
    failing = await store.issues.create("Add a slugify helper", "x")
    healthy = await store.issues.create("Add a reverse helper", "x")
    time = FakeTime()
    settings = fast_settings(
        repo, breaker_failure_threshold=2, breaker_open_action="dead_letter", retry_max_attempts=3
    )
    orchestrator = Orchestrator(store, repo, settings, sleep=time.sleep)
    adw_id = await orchestrator.launch(
        failing.number, workflow="plan", engine_env={"ADW_SIM_FAULTS": "classify_issue=fail_always"}
    )
    run = await orchestrator.wait(adw_id)
    # The breaker is the engine's: another run is refused too, at its first call.
    other_id = await orchestrator.launch(healthy.number, workflow="plan")
    other = await orchestrator.wait(other_id)
    await orchestrator.aclose()

    assert run.status is other.status is RunStatus.DEAD_LETTERED
    attempts = [(a.attempt, a.status, a.error_class) for a in await store.steps.for_run(adw_id)]
    assert attempts == [
        (1, StepStatus.FAILED, "execution_error"),
        (2, StepStatus.FAILED, "execution_error"),
        (3, StepStatus.FAILED, "breaker_open"),  # refused, never called, not retried
    ]
    letters = {letter.adw_id: letter for letter in await store.dead_letters.list()}
    assert (letters[adw_id].step, letters[adw_id].error_class) == ("classify", "breaker_open")
    assert "breaker sim is open after 2 consecutive" in letters[adw_id].error_message
    assert letters[other_id].error_class == "breaker_open"
    assert letters[other_id].attempts == 1
    breaker = await store.breakers.get("sim")
    assert (breaker.state, breaker.consecutive_failures) == (BreakerState.OPEN, 2)
    [opening] = [e for e in await store.audit.entries() if e.action == "breaker.open"]
    assert (opening.actor, opening.adw_id) == ("breaker", adw_id)


async def test_a_step_waits_for_an_open_breaker_then_its_probe_succeeds(
    repo: Path, store: Store
) -> None:
    issue = await store.issues.create("Add a slugify helper", "x")
    time = FakeTime()
    settings = fast_settings(repo, breaker_failure_threshold=1, breaker_cooldown=60)
    orchestrator = Orchestrator(store, repo, settings, sleep=time.sleep)
    events: list[RuntimeEvent] = []

    async def watch() -> None:
        async for event in orchestrator.subscribe():
            events.append(event)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)
    adw_id = await orchestrator.launch(
        issue.number, workflow="plan", engine_env={"ADW_SIM_FAULTS": "classify_issue=fail_once"}
    )
    run = await orchestrator.wait(adw_id)
    await orchestrator.aclose()
    watcher.cancel()

    assert run.status is RunStatus.SUCCEEDED
    [waiting] = [event for event in events if isinstance(event, RunWaiting)]
    assert (waiting.adw_id, waiting.step) == (adw_id, "classify")
    assert "breaker sim is open after 1 consecutive transient failures" in waiting.reason
    assert 55 < waiting.wait_s <= 60
    assert waiting.wait_s in time.waits  # waited on the injected sleep, not the wall clock
    classify = [a for a in await store.steps.for_run(adw_id) if a.step == "classify"]
    assert [(a.attempt, a.status) for a in classify] == [
        (1, StepStatus.FAILED),
        (2, StepStatus.SUCCEEDED),
    ]
    assert (await store.breakers.get("sim")).state is BreakerState.CLOSED
    changes = [e.action for e in reversed(await store.audit.entries()) if "breaker" in e.action]
    assert changes == ["breaker.open", "breaker.half_open", "breaker.closed"]
