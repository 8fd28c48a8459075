"""Inputs a step cannot use as they are: NUL bytes in an issue, a file in the way."""

from pathlib import Path

from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.runtime.test_orchestrator import fast_settings


async def test_nul_bytes_in_an_issue_are_dropped_at_the_tracker(repo: Path, store: Store) -> None:
    issue = await store.issues.create("Add a\x00 slugify helper", "Turn titles\x00 into slugs.")
    assert (issue.title, issue.body) == ("Add a slugify helper", "Turn titles into slugs.")
    comment = await store.issues.add_comment(issue.number, "more\x00 detail", author="me")
    assert comment.body == "more detail"

    orchestrator = Orchestrator(store, repo, fast_settings(repo))
    run = await orchestrator.wait(await orchestrator.launch(issue.number, workflow="plan"))
    await orchestrator.close()

    assert run.status is RunStatus.SUCCEEDED


async def test_an_exception_in_an_agent_step_closes_its_attempt(repo: Path, store: Store) -> None:
    """A file where the run's output folder belongs: creating the call's folder raises
    inside the step, and the attempt it opened must end failed with that error, not stay
    `running` for ever."""
    adw_id = "deadbeef"
    (repo / "agents" / adw_id).write_text("in the way\n")
    issue = await store.issues.create("Add a slugify helper", "x")

    orchestrator = Orchestrator(store, repo, fast_settings(repo))
    run = await orchestrator.wait(
        await orchestrator.launch(issue.number, workflow="plan", adw_id=adw_id)
    )
    await orchestrator.close()

    assert run.status is RunStatus.DEAD_LETTERED
    attempts = await store.steps.for_run(adw_id)
    assert [attempt.status for attempt in attempts] == [StepStatus.FAILED]
    [letter] = await store.dead_letters.list()
    assert attempts[0].error_message == f"internal: {letter.error_message}"
    assert str(repo / "agents" / adw_id) in letter.error_message
