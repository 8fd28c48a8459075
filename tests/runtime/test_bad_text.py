"""Inputs a step cannot use as they are: NUL bytes or a huge body in an issue, a file in
the way."""

import re
from pathlib import Path

from adw_tui.domain.models import RunStatus
from adw_tui.domain.steps import StepStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.runtime.test_orchestrator import fast_settings, git_out


async def test_nul_bytes_in_an_issue_are_dropped_at_the_tracker(repo: Path, store: Store) -> None:
    issue = await store.issues.create("Add a\x00 slugify helper", "Turn titles\x00 into slugs.")
    assert (issue.title, issue.body) == ("Add a slugify helper", "Turn titles into slugs.")
    comment = await store.issues.add_comment(issue.number, "more\x00 detail", author="me")
    assert comment.body == "more detail"

    orchestrator = Orchestrator(store, repo, fast_settings(repo))
    run = await orchestrator.wait(await orchestrator.launch(issue.number, workflow="plan"))
    await orchestrator.aclose()

    assert run.status is RunStatus.SUCCEEDED


async def test_an_exception_in_an_agent_step_closes_its_attempt(repo: Path, store: Store) -> None:
    """A file where the run's output folder belongs: creating the call's folder raises
    inside the step, and the attempt it opened must end failed with that error, not stay
    `running` for ever."""
    adw_id = "deadbeef"
    (repo / "agents").mkdir(exist_ok=True)
    (repo / "agents" / adw_id).write_text("in the way\n")
    issue = await store.issues.create("Add a slugify helper", "x")

    orchestrator = Orchestrator(store, repo, fast_settings(repo))
    run = await orchestrator.wait(
        await orchestrator.launch(issue.number, workflow="plan", adw_id=adw_id)
    )
    await orchestrator.aclose()

    assert run.status is RunStatus.DEAD_LETTERED
    attempts = await store.steps.for_run(adw_id)
    assert [attempt.status for attempt in attempts] == [StepStatus.FAILED]
    [letter] = await store.dead_letters.list()
    assert attempts[0].error_message == f"internal: {letter.error_message}"
    assert str(repo / "agents" / adw_id) in letter.error_message


async def test_a_600_kb_issue_body_is_capped_in_prompts_and_whole_in_a_file(
    repo: Path, store: Store
) -> None:
    line = "Ünïcödé detail of a very long issue, 東京.\r\n"
    body = line * (600_000 // len(line.encode()))
    size = len(body.encode())
    issue = await store.issues.create("Add a slugify helper", body)
    full = f".adw/issue-{issue.number}.md"
    # the cut falls at a character boundary, at most 3 bytes short of the cap
    marker = re.compile(
        rf"\[\.\.\. truncated: (26214[1-4]) of {size} bytes; "
        rf"the full text is in {re.escape(full)}\]"
    )

    orchestrator = Orchestrator(store, repo, fast_settings(repo))  # the default cap, 256 KiB
    adw_id = await orchestrator.launch(issue.number, workflow="plan")
    run = await orchestrator.wait(adw_id)
    await orchestrator.aclose()

    assert run.status is RunStatus.SUCCEEDED
    prompts = sorted((repo / "agents" / adw_id).glob("*/prompts/*.txt"))
    assert len(prompts) == 5  # classify, name the branch, plan, commit, pull request
    for prompt in prompts:
        text = prompt.read_text(encoding="utf-8")
        assert marker.search(text), prompt
        assert len(text.encode()) < 3 * 262_144, prompt  # quoted twice by a bundled template
    state = (await store.load(adw_id)).state.as_data()
    found = marker.search(state["issue_body"])
    assert found is not None
    assert state["issue_body"] == f"{body.encode()[: int(found[1])].decode()}\n{found[0]}"
    worktree = Path(state["worktree_path"])
    assert (worktree / full).read_bytes() == body.encode()
    assert (repo / full).read_bytes() == body.encode()  # for the steps before the worktree
    # git-excluded: the agents' `git add -A` commits left it out, and nothing is dirty
    assert full not in git_out(worktree, "ls-tree", "-r", "--name-only", state["branch_name"])
    assert git_out(worktree, "status", "--porcelain") == ""
    assert full not in git_out(repo, "status", "--porcelain")
