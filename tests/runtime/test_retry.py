"""Retry policies: the backoff waits (on a fake clock), which failures retry, the YAML
`retry:` override and the `max_retries` shorthand, and a retried step end to end."""

import asyncio
import json
from pathlib import Path

import pytest

from adw_tui.cli import main
from adw_tui.config import Settings, load_settings
from adw_tui.domain.agent import AgentResult, ErrorClass
from adw_tui.domain.models import RunStatus
from adw_tui.domain.workflow import DEFAULT_NON_RETRYABLE, RetryPolicy
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.retry import call_with_retry, should_retry
from adw_tui.store import Store
from adw_tui.workflows.loader import WorkflowError, parse_workflow
from tests.conftest import db_argument

OK = AgentResult(success=True, output="done", session_id="s-ok")


def failure(error_class: ErrorClass, session_id: str = "s-bad") -> AgentResult:
    return AgentResult(
        success=False,
        error_class=error_class,
        error_message=f"simulated {error_class}",
        session_id=session_id,
    )


def policy(**fields: object) -> RetryPolicy:
    values: dict[str, object] = {
        "max_attempts": 3,
        "initial_interval": 1.0,
        "backoff_coefficient": 2.0,
        "max_interval": 60.0,
        "jitter": 0.0,
    }
    return RetryPolicy.model_validate({**values, **fields})


class FakeClock:
    """An injectable `sleep`: records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


class Script:
    """An agent call answering from a list, one result per attempt (the last repeats)."""

    def __init__(self, *results: AgentResult) -> None:
        self.results = results
        self.attempts: list[int] = []

    async def __call__(self, attempt: int) -> AgentResult:
        self.attempts.append(attempt)
        return self.results[min(attempt, len(self.results)) - 1]


async def test_transient_failures_wait_capped_exponential_backoff() -> None:
    clock, call = FakeClock(), Script(failure(ErrorClass.RATE_LIMIT))
    rules = policy(max_attempts=6, initial_interval=1.0, backoff_coefficient=3.0, max_interval=10)

    result, attempts = await call_with_retry(call, rules, sleep=clock.sleep)

    assert clock.waits == [1.0, 3.0, 9.0, 10.0, 10.0]
    assert (attempts, call.attempts) == (6, [1, 2, 3, 4, 5, 6])
    assert result.error_class is ErrorClass.RATE_LIMIT


async def test_jitter_adds_a_bounded_random_wait() -> None:
    bases = [0.5, 1.0, 2.0, 4.0]
    waits: list[list[float]] = []
    for _ in range(30):
        clock = FakeClock()
        await call_with_retry(
            Script(failure(ErrorClass.NETWORK)),
            policy(max_attempts=5, initial_interval=0.5, jitter=0.25),
            sleep=clock.sleep,
        )
        waits.append(clock.waits)
    for run in waits:
        assert len(run) == len(bases)
        assert all(base <= wait <= base + 0.25 for base, wait in zip(bases, run, strict=True))
    assert len({wait for run in waits for wait in run}) > len(bases)  # it does vary


async def test_max_attempts_one_never_retries() -> None:
    clock, call = FakeClock(), Script(failure(ErrorClass.CRASHED))
    result, attempts = await call_with_retry(call, policy(max_attempts=1), sleep=clock.sleep)
    assert (attempts, clock.waits, result.success) == (1, [], False)


async def test_success_stops_the_loop() -> None:
    clock = FakeClock()
    call = Script(failure(ErrorClass.TIMEOUT), failure(ErrorClass.OVERLOADED), OK, OK)
    seen: list[tuple[int, str, float]] = []

    result, attempts = await call_with_retry(
        call,
        policy(max_attempts=10),
        sleep=clock.sleep,
        on_retry=lambda attempt, failed, wait: seen.append((attempt, failed.error_class, wait)),
    )

    assert result == OK
    assert (attempts, call.attempts, clock.waits) == (3, [1, 2, 3], [1.0, 2.0])
    assert seen == [(1, "timeout", 1.0), (2, "overloaded", 2.0)]


@pytest.mark.parametrize(
    ("error_class", "non_retryable"),
    [
        (ErrorClass.AUTH, DEFAULT_NON_RETRYABLE),
        (ErrorClass.INVALID_REQUEST, DEFAULT_NON_RETRYABLE),
        (ErrorClass.NOT_INSTALLED, DEFAULT_NON_RETRYABLE),
        (ErrorClass.MAX_TURNS, DEFAULT_NON_RETRYABLE),
        (ErrorClass.MEMORY_LIMIT, DEFAULT_NON_RETRYABLE),
        (ErrorClass.RATE_LIMIT, ("rate_limit",)),  # transient, but the policy says no
        (ErrorClass.AUTH, ()),  # not listed, but permanent: still no retry
    ],
)
async def test_non_retryable_failures_are_not_retried(
    error_class: ErrorClass, non_retryable: tuple[str, ...]
) -> None:
    clock, call = FakeClock(), Script(failure(error_class), OK)
    rules = policy(max_attempts=5, non_retryable=list(non_retryable))

    result, attempts = await call_with_retry(call, rules, sleep=clock.sleep)

    assert (attempts, clock.waits, result.error_class) == (1, [], error_class)
    assert not should_retry(result, rules)


async def test_an_exception_from_the_call_is_not_retried() -> None:
    clock = FakeClock()

    async def broken(attempt: int) -> AgentResult:
        raise RuntimeError(f"store down on attempt {attempt}")

    with pytest.raises(RuntimeError, match="attempt 1"):
        await call_with_retry(broken, policy(max_attempts=5), sleep=clock.sleep)
    assert clock.waits == []


def test_settings_build_the_default_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().retry_policy() == RetryPolicy(
        max_attempts=3,
        initial_interval=2.0,
        backoff_coefficient=2.0,
        max_interval=60.0,
        jitter=1.0,
        non_retryable=list(DEFAULT_NON_RETRYABLE),
    )
    monkeypatch.setenv("ADW_RETRY_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("ADW_RETRY_NON_RETRYABLE", '["auth", "rate_limit"]')
    configured = load_settings(None).retry_policy()
    assert (configured.max_attempts, configured.non_retryable) == (7, ["auth", "rate_limit"])


def workflow_yaml(classify_extra: str) -> str:
    return (
        "name: retrying\n"
        "states:\n"
        "  classify:\n"
        "    command: /classify_issue\n"
        "    agent: issue_classifier\n"
        f"{classify_extra}"
        "    on_success: done\n"
        "  done:\n"
        "    terminal: true\n"
    )


DEFAULTS = Settings().retry_policy()


def classify_policy(classify_extra: str) -> RetryPolicy:
    workflow = parse_workflow("retrying.yaml", workflow_yaml(classify_extra))
    return workflow.states["classify"].retry_policy(DEFAULTS)


def test_a_yaml_retry_override_is_merged_over_the_defaults() -> None:
    merged = classify_policy(
        "    retry:\n"
        "      max_attempts: 5\n"
        "      initial_interval: 0.5\n"
        "      non_retryable: [auth, rate_limit]\n"
    )
    assert merged == DEFAULTS.model_copy(
        update={"max_attempts": 5, "initial_interval": 0.5, "non_retryable": ["auth", "rate_limit"]}
    )
    assert (merged.backoff_coefficient, merged.max_interval, merged.jitter) == (2.0, 60.0, 1.0)


@pytest.mark.parametrize(
    ("classify_extra", "max_attempts"),
    [
        ("", 3),  # the settings' default
        ("    max_retries: 0\n", 1),
        ("    max_retries: 4\n", 5),
        ("    max_retries: 4\n    retry:\n      jitter: 0\n", 5),
        ("    max_retries: 4\n    retry:\n      max_attempts: 2\n", 2),  # retry wins
    ],
)
def test_max_retries_is_a_shorthand_for_max_attempts(
    classify_extra: str, max_attempts: int
) -> None:
    assert classify_policy(classify_extra).max_attempts == max_attempts


@pytest.mark.parametrize(
    ("classify_extra", "problem"),
    [
        ("    retry:\n      non_retryable: [oops]\n", "unknown error class 'oops'"),
        ("    retry:\n      backoff_coefficient: 0.5\n", "greater than or equal to 1"),
        ("    retry:\n      max_attempts: 0\n", "greater than or equal to 1"),
        ("    retry:\n      tries: 2\n", "tries"),
    ],
)
def test_a_bad_retry_override_is_a_workflow_error(classify_extra: str, problem: str) -> None:
    with pytest.raises(WorkflowError, match=problem):
        parse_workflow("retrying.yaml", workflow_yaml(classify_extra))


def test_retry_belongs_on_command_states() -> None:
    text = workflow_yaml("").replace(
        "  done:\n    terminal: true\n", "  done:\n    terminal: true\n    retry: {}\n"
    )
    with pytest.raises(WorkflowError, match="only a command state"):
        parse_workflow("retrying.yaml", text)


async def test_a_retried_step_waits_on_the_injected_clock_and_shows_its_attempts(
    repo: Path, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    issue = await store.issues.create("Add a reverse helper", "Reverse words.")
    settings = load_settings(repo).model_copy(
        update={"engine": "sim", "retry_initial": 7.5, "retry_backoff": 3.0, "retry_jitter": 0.0}
    )
    clock = FakeClock()
    orchestrator = Orchestrator(store, repo, settings, sleep=clock.sleep)
    try:
        adw_id = await orchestrator.launch(
            issue.number,
            workflow="plan",
            engine_env={"ADW_SIM_FAULTS": "classify_issue=fail_once"},
        )
        run = await asyncio.wait_for(orchestrator.wait(adw_id), timeout=120)
    finally:
        await orchestrator.aclose()

    assert run.status is RunStatus.SUCCEEDED
    assert clock.waits == [7.5]  # one retry, the policy's initial interval, no real wait

    capsys.readouterr()
    where = ["--repo", str(repo), "--db", db_argument(store)]
    code = await asyncio.to_thread(main, [*where, "show", adw_id, "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert code == 0
    classify = [a for a in shown["attempts"] if a["step"] == "classify"]
    assert [(a["attempt"], a["status"], a["error_class"]) for a in classify] == [
        (1, "failed", "execution_error"),
        (2, "succeeded", None),
    ]
    assert all(a["started_at"] and a["session_id"] for a in classify)
    assert "execution_error" in classify[0]["error_message"]
    assert len(shown["attempts"]) == sum(entry["attempts"] for entry in shown["timeline"])

    code = await asyncio.to_thread(main, [*where, "show", adw_id])
    text = capsys.readouterr().out
    assert code == 0
    lines = text.splitlines()
    title = next(i for i, line in enumerate(lines) if line.strip() == "attempts")
    table = "\n".join(lines[title:]).split("state at version")[0]
    assert "execution_error" in table
    rows = [line.split() for line in table.splitlines() if line.startswith(" classify ")]
    assert [(row[1], row[3]) for row in rows] == [("1", "failed"), ("2", "succeeded")]
