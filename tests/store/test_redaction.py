"""Secret redaction: the pure redactor, and every write to the state database."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adw_tui.domain.agent import AgentEvent, AgentEventKind
from adw_tui.domain.breakers import BreakerPolicy, Outcome
from adw_tui.domain.models import NewDeadLetter, RunStatus
from adw_tui.domain.redaction import Redactor
from adw_tui.runtime.events import AgentActivity, EventBus, RunChanged, RuntimeEvent, redact_event
from adw_tui.store import Store
from tests.conftest import create_run

PAT = "pat-canary-0123456789"
ENVIRON = {
    "GITHUB_PAT": PAT,
    "OPENAI_API_KEY": "openai-canary-abcdef",
    "DB_PASSWORD_MAIN": 'pw"canary\\1234',
    "CUSTOM_THING": "custom-canary-9876",
    "ADW_REDACT_ENV": "CUSTOM_THING, OTHER",
    "SHORT_TOKEN": "abc",
    "HOME": "/home/someone-long-path",
}
GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2"
AWS = "AKIA" + "ABCDEFGHIJKLMNOP"
ANT = "sk-ant-api03-" + "x" * 20


@pytest.fixture
def redactor() -> Redactor:
    return Redactor.from_environ(ENVIRON)


def test_values_of_secret_variables_are_named(redactor: Redactor) -> None:
    text = f"push with {PAT} key openai-canary-abcdef and custom-canary-9876"
    assert redactor.text(text) == (
        "push with [REDACTED:GITHUB_PAT] key [REDACTED:OPENAI_API_KEY] and [REDACTED:CUSTOM_THING]"
    )


def test_token_shapes_are_redacted_whatever_their_source(redactor: Redactor) -> None:
    text = f"a {GHP} b {AWS} c {ANT} d github_pat_{'z' * 30} e gho_{'Q' * 20}"
    assert redactor.text(text) == "a [REDACTED] b [REDACTED] c [REDACTED] d [REDACTED] e [REDACTED]"


def test_short_and_ordinary_values_are_left_alone(redactor: Redactor) -> None:
    text = "abc /home/someone-long-path ghp_short"
    assert redactor.text(text) == text


def test_a_secret_is_found_inside_json_too(redactor: Redactor) -> None:
    dumped = json.dumps({"error": 'login pw"canary\\1234 refused'})
    assert "canary" not in redactor.text(dumped)
    assert redactor.value({"k": ['pw"canary\\1234']}) == {"k": ["[REDACTED:DB_PASSWORD_MAIN]"]}


def test_live_events_are_redacted(redactor: Redactor) -> None:
    event = AgentEvent(kind=AgentEventKind.TEXT, text=f"token {PAT}", detail={"raw": GHP})
    clean = redact_event(AgentActivity("0a1b2c3d", "plan", event), redactor)
    assert isinstance(clean, AgentActivity)
    assert clean.event.text == "token [REDACTED:GITHUB_PAT]"
    assert clean.event.detail == {"raw": "[REDACTED]"}
    changed = redact_event(RunChanged("0a1b2c3d", RunStatus.FAILED, f"x {PAT}"), redactor)
    assert changed == RunChanged("0a1b2c3d", RunStatus.FAILED, "x [REDACTED:GITHUB_PAT]")
    assert changed.status is RunStatus.FAILED


async def test_the_bus_publishes_redacted_events(redactor: Redactor) -> None:
    bus = EventBus(redactor=redactor)

    async def first_event() -> RuntimeEvent:
        async for event in bus.subscribe():
            return event
        raise AssertionError("the bus ended")

    first = asyncio.ensure_future(first_event())
    await asyncio.sleep(0)  # the subscription starts
    bus.publish(RunChanged("0a1b2c3d", RunStatus.FAILED, PAT))
    assert (await first) == RunChanged("0a1b2c3d", RunStatus.FAILED, "[REDACTED:GITHUB_PAT]")


async def test_nothing_secret_reaches_the_database_file(tmp_path: Path, redactor: Redactor) -> None:
    path = tmp_path / "agents" / "adw_state.db"
    secret_text = f"failed with {PAT} and {GHP}"
    async with await Store.open(path, redactor=redactor) as store:
        run = await create_run(store, "0a1b2c3d", plan_file=secret_text)
        await store.update(
            run.adw_id, lambda s: {**s, "branch_name": secret_text}, reason=PAT, actor="test"
        )
        attempt = await store.steps.start(run.adw_id, "plan", visit=1, attempt=1)
        await store.steps.close_running(run.adw_id, error=secret_text)
        await store.dead_letters.add(
            NewDeadLetter(
                adw_id=run.adw_id,
                workflow="adw_plan_build",
                step="plan",
                state_version=2,
                error_class="AgentError",
                error_message=secret_text,
                attempts=1,
                request={"prompt": secret_text},
            ),
            actor="test",
        )
        policy = BreakerPolicy(
            failure_threshold=1, success_threshold=1, cooldown_s=60, probe_timeout_s=60
        )
        await store.breakers.record(
            "claude",
            Outcome.FAILURE,
            now=datetime.now(UTC),
            policy=policy,
            actor="test",
            error=secret_text,
        )
        assert (await store.breakers.get("claude")).last_error == (
            "failed with [REDACTED:GITHUB_PAT] and [REDACTED]"
        )
        letters = await store.dead_letters.list()
        assert letters[0].error_message == "failed with [REDACTED:GITHUB_PAT] and [REDACTED]"
        assert attempt
    stored = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert b"canary" not in stored
    assert GHP.encode() not in stored
