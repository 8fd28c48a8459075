"""No secret reaches what adw writes: a real workflow with the simulated agent, whose
environment holds canaries and whose agent prints its whole environment and fails with
it (the `leak` fault). Only the raw streams (mode 0600) may hold them. And a run that
plants a git hook is reported."""

import os
from pathlib import Path

import pytest

from adw_tui.domain.models import RunStatus
from adw_tui.domain.redaction import Redactor
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.runtime import sh
from tests.runtime.test_orchestrator import fast_settings

ALLOWED = "allowed-key-canary-7f3a9c"  # ANTHROPIC_API_KEY: the agent sees it
SHAPED = "ghp_" + "Canary0123456789abcdefXYZ"  # a token shape, in the issue's text
HIDDEN = "hidden-canary-c41e8b"  # not allow-listed: the agent never sees it
PAT = "github-pat-canary-5d2e91"  # GITHUB_PAT, GH_TOKEN: never handed to an agent
CANARIES = (ALLOWED, SHAPED, HIDDEN, PAT, "Canary0123456789")


def raw_stream(path: Path) -> bool:
    return path.name == "raw_output.jsonl" or path.parent.name == "attempts"


async def test_a_leaking_agent_leaves_no_secret_in_the_database_or_agents_dir(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", ALLOWED)
    monkeypatch.setenv("GITHUB_PAT", PAT)
    monkeypatch.setenv("GH_TOKEN", PAT)
    monkeypatch.setenv("ADW_TEST_SECRET_TOKEN", HIDDEN)
    agents = repo / "agents"
    async with await Store.open(
        agents / "adw_state.db", redactor=Redactor.from_environ(os.environ)
    ) as store:
        orchestrator = Orchestrator(store, repo, fast_settings(repo))
        issue = await store.issues.create("Add a slugify helper", f"use {SHAPED} and {HIDDEN}")
        adw_id = await orchestrator.launch(
            issue.number, workflow="plan", engine_env={"ADW_SIM_FAULTS": "*=leak"}
        )
        run = await orchestrator.wait(adw_id)
        await orchestrator.aclose()
        assert run.status in (RunStatus.FAILED, RunStatus.DEAD_LETTERED)
        [letter] = await store.dead_letters.list()
        assert "[REDACTED:ANTHROPIC_API_KEY]" in letter.error_message

    written = [path for path in agents.rglob("*") if path.is_file()]
    streams = [path for path in written if raw_stream(path)]
    assert streams
    leaked = "".join(path.read_text() for path in streams)
    assert ALLOWED in leaked  # the agent did leak what it saw
    assert PAT not in leaked  # and never saw GitHub's token
    for path in written:
        if raw_stream(path):
            continue
        data = path.read_bytes()
        for canary in CANARIES:
            assert canary.encode() not in data, f"{canary} in {path}"


PLANTING_CONFTEST = """
import pathlib, subprocess

common = subprocess.run(
    ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
    capture_output=True, text=True, check=True,
).stdout.strip()
hook = pathlib.Path(common) / "hooks" / "pre-commit"
hook.write_text("#!/bin/sh\\necho planted\\n")
hook.chmod(0o755)
"""


async def test_a_run_that_plants_a_git_hook_is_reported(repo: Path, store: Store) -> None:
    # The agent's test run (pytest, for real) loads this conftest, which plants a hook.
    (repo / "tests" / "conftest.py").write_text(PLANTING_CONFTEST)
    sh(repo, "add", "tests/conftest.py")
    sh(repo, "commit", "-qm", "a conftest that plants a hook")
    orchestrator = Orchestrator(store, repo, fast_settings(repo))
    issue = await store.issues.create("Add a slugify helper", "x")
    run = await orchestrator.wait(
        await orchestrator.launch(issue.number, workflow="plan_build_test")
    )
    await orchestrator.aclose()
    [entry] = [
        e for e in await store.audit.entries(adw_id=run.adw_id) if e.action == "git.hooks_changed"
    ]
    assert entry.detail == {"step": "test", "changed": ["hooks/pre-commit"]}
