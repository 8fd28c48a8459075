"""What the runs table says a run waits for, from the runtime's events: each reason, its
start kept while the reason stays, and the wait ended by what ends it."""

from datetime import UTC, datetime, timedelta

from adw_tui.domain.agent import AgentEvent, AgentEventKind
from adw_tui.domain.fleet import FleetWants
from adw_tui.domain.models import RunRecord, RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.events import (
    AgentActivity,
    QueueChanged,
    RunChanged,
    RunWaiting,
    StepFinished,
    WaitKind,
)
from adw_tui.tui.waits import RunWaits

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def run(adw_id: str, status: RunStatus, updated_s: float = 0) -> RunRecord:
    at = START + timedelta(seconds=updated_s)
    return RunRecord(
        adw_id=adw_id, workflow="plan", status=status, version=1, created_at=at, updated_at=at
    )


def queue(
    *queued: str, memory: tuple[str, ...] = (), elsewhere: tuple[str, ...] = ()
) -> QueueChanged:
    return QueueChanged(queued, (), 1, held_elsewhere=elsewhere, waiting_for_memory=memory)


def test_a_queued_run_waits_for_a_slot_then_memory_then_other_processes():
    clock = Clock()
    waits = RunWaits(clock)
    assert waits.handle(queue("aaaa0001", "aaaa0002")) == {"aaaa0001", "aaaa0002"}
    clock.tick(30)
    assert waits.handle(queue("aaaa0002")) == {"aaaa0001", "aaaa0002"}  # one admitted
    later = clock()
    assert waits.cell(run("aaaa0002", RunStatus.QUEUED), later) == "slot #1 · 0:30"
    assert waits.cell(run("aaaa0001", RunStatus.RUNNING), later) == "working"
    assert waits.handle(queue("aaaa0002")) == set()  # nothing new

    clock.tick(5)
    waits.handle(queue("aaaa0002", memory=("aaaa0002",)))
    memory = waits.get("aaaa0002")
    assert memory is not None
    assert (memory.label, memory.reason, memory.since) == (
        "memory",
        "system memory is over the limit",
        clock(),
    )
    clock.tick(65)
    assert waits.cell(run("aaaa0002", RunStatus.QUEUED), clock()) == "memory · 1:05"
    waits.handle(queue("aaaa0002", elsewhere=("aaaa0002",)))
    assert waits.cell(run("aaaa0002", RunStatus.QUEUED), clock()) == "other processes · 0:00"
    assert waits.handle(RunChanged("aaaa0002", RunStatus.CANCELLED)) == {"aaaa0002"}
    assert waits.get("aaaa0002") is None


def test_a_breaker_or_rate_limit_wait_lasts_until_the_agent_or_the_step_goes_on():
    clock = Clock()
    waits = RunWaits(clock)
    breaker = RunWaiting("bbbb0001", "plan", "breaker sim is open", 60.0)
    assert waits.handle(breaker) == {"bbbb0001"}
    clock.tick(60)
    assert waits.handle(breaker) == set()  # the same wait, still since its start
    running = run("bbbb0001", RunStatus.RUNNING)
    assert waits.cell(running, clock()) == "breaker · 1:00"
    wait = waits.get("bbbb0001")
    assert wait is not None
    assert wait.reason == "plan: breaker sim is open (up to 60s)"
    init = AgentEvent(AgentEventKind.INIT, "session")
    assert waits.handle(AgentActivity("bbbb0001", "plan", init)) == {"bbbb0001"}
    assert waits.cell(running, clock()) == "working"

    spent = "the sim rate limit is spent"
    limited = RunWaiting("bbbb0001", "plan", spent, 2.0, WaitKind.RATE_LIMIT)
    waits.handle(limited)
    assert waits.cell(running, clock()) == "rate limit · 0:00"
    assert waits.handle(StepFinished("bbbb0001", "plan", StepStatus.FAILED)) == {"bbbb0001"}
    assert waits.handle(AgentActivity("bbbb0001", "plan", init)) == set()


def test_a_paused_run_waits_since_it_was_paused_and_an_ended_one_not_at_all():
    waits = RunWaits(Clock())
    now = START + timedelta(minutes=5)
    assert waits.cell(run("cccc0001", RunStatus.PAUSED, updated_s=60), now) == "paused · 4:00"
    assert waits.cell(run("cccc0002", RunStatus.QUEUED, updated_s=290), now) == "slot · 0:10"
    assert waits.cell(run("cccc0003", RunStatus.SUCCEEDED), now) == ""
    assert waits.cell(run("cccc0004", RunStatus.INTERRUPTED), now) == ""


def test_a_fleet_run_waits_for_a_worker_and_a_silent_owner_is_shown():
    fleet = FleetWants(engine="sim")
    queued = run("aaaa0005", RunStatus.QUEUED).model_copy(update={"fleet": fleet})
    interrupted = run("aaaa0006", RunStatus.INTERRUPTED).model_copy(update={"fleet": fleet})
    beating = run("aaaa0007", RunStatus.RUNNING).model_copy(update={"heartbeat_at": START})
    waits = RunWaits(Clock())
    later = START + timedelta(seconds=45)
    assert waits.cell(queued, later) == "worker · 0:45"
    assert waits.cell(interrupted, later) == "worker · 0:45"  # to be taken over
    assert waits.cell(beating, START + timedelta(seconds=10)) == "working"
    assert waits.cell(beating, later) == "owner silent · 0:45"
