"""The dashboard's fixtures: a real sample repository, store and orchestrator with the
simulated agent, and `fixed_store`: a real SQLite store seeded at fixed times with fixed
ids, so snapshots of every screen never change."""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from adw_tui.config import Settings, load_settings
from adw_tui.domain.agent import AgentResult
from adw_tui.domain.breakers import BreakerPolicy, Outcome
from adw_tui.domain.models import DeadLetter, NewDeadLetter, RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.sample_repo import DEMO_ISSUES, FAILING_ENGINE_ENV
from adw_tui.store import Store
from adw_tui.store.backend import Engine
from adw_tui.store.steps import AttemptEnd
from adw_tui.tui.app import AdwApp, create_app
from tests.conftest import RepoDatabase, from_template

SnapCompare = Callable[..., bool]

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
"""The fixed clock of every snapshot; `fixed_store`'s data is written before it."""

FIXED_REPO = Path("/srv/textkit")


@pytest.fixture
def repo(sample_repo: Path) -> Path:
    return sample_repo


@pytest.fixture
async def store(repo: Path, repo_db: RepoDatabase, sqlite_template: Path) -> AsyncIterator[Store]:
    """The repository's store, on each engine; an `adw` process the test starts in the
    repository opens the same database."""
    async with await Store.open(from_template(repo_db.of(repo), sqlite_template)) as opened:
        yield opened


@pytest.fixture
def sqlite_alone() -> Engine:
    """The engine of a module whose subject is not the store's data, imported there as
    its `engine` fixture (`from tests.tui.conftest import sqlite_alone as engine`): its
    tests run on SQLite alone."""
    return "sqlite"


@pytest.fixture
def settings(repo: Path) -> Settings:
    return load_settings(repo).model_copy(update={"engine": "sim", "retry_initial": 0.01})


@pytest.fixture
async def orchestrator(store: Store, repo: Path, settings: Settings) -> AsyncIterator[Orchestrator]:
    orchestrator = Orchestrator(store, repo, settings)
    try:
        yield orchestrator
    finally:
        await orchestrator.aclose()


def record_notifications(app: AdwApp, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every `app.notify` call from now on, as {"message": ..., **keywords}."""
    notified: list[dict[str, Any]] = []
    monkeypatch.setattr(
        app, "notify", lambda message, **kw: notified.append({"message": message, **kw})
    )
    return notified


async def notice(
    pilot: Pilot[None], notified: list[dict[str, Any]], title: str, within_s: float = 60
) -> dict[str, Any]:
    """Wait for the notification titled `title` and return it (runs started by an action
    notify too, so the newest notification need not be the action's own)."""
    await until(pilot, lambda: any(n.get("title") == title for n in notified), within_s)
    return next(n for n in reversed(notified) if n.get("title") == title)


async def until(pilot: Pilot[None], condition: Callable[[], bool], within_s: float = 60) -> None:
    """Let the app run until `condition()` holds; fail after `within_s`."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


def cell_writes(table: DataTable[Any]) -> list[tuple[object, ...]]:
    """The arguments of every `update_cell` the table gets from now on (the cells are
    still written)."""
    writes: list[tuple[object, ...]] = []
    update_cell = table.update_cell

    def counting_update_cell(*args: object, **kwargs: object) -> None:
        writes.append(args)
        update_cell(*args, **kwargs)  # type: ignore[arg-type]

    table.update_cell = counting_update_cell  # type: ignore[method-assign]
    return writes


@pytest.fixture
def callback_cpu(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The CPU time the event loop's thread spent in each callback it ran since.

    What blocks the loop, measured whatever else the machine runs: lateness of a timer
    also counts the time other processes had the CPU, so it is only a rough check."""
    spent: list[float] = []
    run = asyncio.Handle._run

    def timed(handle: asyncio.Handle) -> None:
        start = time.thread_time()
        try:
            run(handle)
        finally:
            spent.append(time.thread_time() - start)

    monkeypatch.setattr(asyncio.Handle, "_run", timed)
    return spent


async def dead_run(store: Store, orchestrator: Orchestrator) -> DeadLetter:
    """A real dead letter: the demo's failing issue, run until its agent's auth error at
    `implement` dead-letters it."""
    demo = next(demo for demo in DEMO_ISSUES if demo.fails)
    issue = await store.issues.create(demo.title, demo.body)
    adw_id = await orchestrator.launch(
        issue.number, workflow="plan_build", engine_env=FAILING_ENGINE_ENV
    )
    assert (await orchestrator.wait(adw_id)).status is RunStatus.DEAD_LETTERED
    (letter,) = [letter for letter in await store.dead_letters.list() if letter.adw_id == adw_id]
    return letter


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.pause()


def pressing(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """A snapshot's `run_before`: settle, press `keys`, settle, and stop every input's
    cursor blinking (which hides it), so that the picture does not depend on when, in
    the half-second blink, a loaded machine happens to take it."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    return run


# Fixed data: three runs written through the real store API at fixed times.

FIXED_SUCCEEDED = "11223344"
"""plan_build for issue 3: four versions, three steps, a git head per version."""
FIXED_DEAD = "55667788"
"""sdlc for issue 2: dead-lettered at `implement` after 3 attempts (letter 1, pending)."""
FIXED_RUNNING = "a1b2c3d4"
"""sdlc for issue 5: running `implement`; its transcript is in raw_output.jsonl."""

FIXED_ISSUES = (
    "Fix the README typo",
    "Handle empty input in count_words",
    "Add a slugify helper",
    "Support unicode titles",
    "Add a --json flag to the CLI",
)
"""Issues 1-5 of the fixed store's local tracker."""

FIXED_TRANSCRIPT = [
    {"type": "system", "subtype": "init", "session_id": "sess-5", "model": "claude-sonnet-4-5"},
    {
        "type": "assistant",
        "message": {"content": [{"type": "text", "text": "I will add the slugify helper."}]},
    },
    {
        "type": "assistant",
        "message": {
            "content": [
                {
                    "type": "tool_use",
                    "id": "t1",
                    "name": "Read",
                    "input": {"file_path": "textkit/slug.py"},
                }
            ]
        },
    },
    {
        "type": "user",
        "message": {
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "def slug(): ..."}]
        },
    },
]


def _result(session: str, cost: float, tokens: tuple[int, int], ms: int) -> AgentResult:
    return AgentResult(
        success=True,
        session_id=session,
        cost_usd=cost,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        duration_ms=ms,
    )


async def seed_fixed_data(store: Store, output_dir: Path) -> None:
    """Write the fixed runs. Times start an hour before `NOW` and move on a minute per
    write; `output_dir` gets the running run's raw_output.jsonl."""
    with time_machine.travel(NOW.replace(hour=11), tick=False) as clock:

        def later() -> None:
            clock.shift(60)

        for title in FIXED_ISSUES:
            await store.issues.create(title, f"{title}.")

        # A finished plan_build.
        state: dict[str, Any] = {"adw_id": FIXED_SUCCEEDED, "issue_number": "3"}
        run = await store.create_run(
            state, workflow="plan_build", issue="3", actor="test", git_head="9f3c2a1"
        )
        version = run.version
        for step, head, extra in (
            ("classify", "9f3c2a1", {"issue_class": "/feature"}),
            ("plan", "4b7d0e2", {"plan_file": "specs/issue-3-plan.md"}),
            ("build", "c81e5f9", {"branch_name": "feat-issue-3-slugify"}),
        ):
            later()
            attempt = await store.steps.start(FIXED_SUCCEEDED, step, visit=1, attempt=1)
            later()
            state = {**state, **extra}
            version = await store.save(
                FIXED_SUCCEEDED,
                state,
                version,
                reason=f"{step} done",
                actor="runtime",
                git_head=head,
                ends=(
                    AttemptEnd(
                        attempt,
                        StepStatus.SUCCEEDED,
                        _result(f"sess-{step}", 0.0125, (1200, 340), 41_000),
                    ),
                ),
            )
        await store.set_status(FIXED_SUCCEEDED, RunStatus.SUCCEEDED, actor="runtime")

        # A dead-lettered sdlc.
        later()
        dead_state = {"adw_id": FIXED_DEAD, "issue_number": "2", "branch_name": "fix-issue-2"}
        dead = await store.create_run(dead_state, workflow="sdlc", issue="2", actor="test")
        for number in (1, 2, 3):
            later()
            attempt = await store.steps.start(FIXED_DEAD, "implement", visit=1, attempt=number)
            await store.steps.finish(attempt, StepStatus.FAILED, error="authentication_failed")
        await store.dead_letters.add(
            NewDeadLetter(
                adw_id=FIXED_DEAD,
                workflow="sdlc",
                step="implement",
                state_version=dead.version,
                error_class="auth",
                error_message="Invalid API key · Please run /login",
                attempts=3,
                request={
                    "engine": "claude",
                    "prompt": "/implement specs/issue-2-plan.md",
                    "stderr_tail": "Error: 401 authentication_error",
                    "exit_code": 1,
                },
            ),
            actor="runtime",
        )

        # A running sdlc, mid-implement.
        later()
        running_state = {"adw_id": FIXED_RUNNING, "issue_number": "5"}
        await store.create_run(running_state, workflow="sdlc", issue="5", actor="test")
        await store.set_status(FIXED_RUNNING, RunStatus.RUNNING, actor="runtime")
        later()
        await store.steps.start(
            FIXED_RUNNING, "implement", visit=1, attempt=1, agent="sdlc_implementor"
        )
        # The claude engine's breaker, opened by five transient failures.
        policy = BreakerPolicy(
            failure_threshold=5, success_threshold=1, cooldown_s=3600, probe_timeout_s=60
        )
        for _ in range(5):
            await store.breakers.record(
                "claude", Outcome.FAILURE, now=NOW, policy=policy, actor="test", error="overloaded"
            )
    transcript = output_dir / FIXED_RUNNING / "sdlc_implementor" / "raw_output.jsonl"
    transcript.parent.mkdir(parents=True, exist_ok=True)
    transcript.write_text("".join(json.dumps(line) + "\n" for line in FIXED_TRANSCRIPT))


@pytest.fixture
async def fixed_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A real store holding the fixed runs (its output dir is `tmp_path / "agents"`)."""
    async with await Store.open(tmp_path / "agents" / "adw_state.db") as opened:
        await seed_fixed_data(opened, tmp_path / "agents")
        yield opened


@pytest.fixture
def fixed_app(fixed_store: Store) -> AdwApp:
    """The dashboard over the fixed runs, at the fixed clock, with no live runs."""
    settings = Settings(max_concurrent=4, engine="claude")
    orchestrator = Orchestrator(fixed_store, FIXED_REPO, settings)
    return create_app(
        fixed_store, FIXED_REPO, settings, orchestrator=orchestrator, clock=lambda: NOW
    )
