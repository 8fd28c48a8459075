"""`adw worktrees ls|prune|rm` on a repository whose runs the simulated agent ran for
real: only what the filters name goes, never the worktree of a run in use, uncommitted
work refused unless forced, the runs and their history kept."""

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.cli.test_listings import adw
from tests.conftest import RepoDatabase, database_of
from tests.runtime.test_orchestrator import fast_settings


async def three_runs(repo: Path) -> tuple[str, str, str]:
    """Three `plan` runs, all succeeded; then the second is marked running (in use) and
    the third's worktree gets uncommitted work."""
    async with await Store.open(database_of(repo)) as store:
        async with Orchestrator(store, repo, fast_settings(repo)) as orchestrator:
            ids = []
            for title in ("Add a slugify helper", "Add a title helper", "Add a count helper"):
                issue = await store.issues.create(title, "x")
                adw_id = await orchestrator.launch(issue.number, workflow="plan")
                assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
                ids.append(adw_id)
        await store.set_status(ids[1], RunStatus.RUNNING, actor="test")
    (repo / "trees" / ids[2] / "notes.txt").write_text("not committed")
    return ids[0], ids[1], ids[2]


@pytest.fixture
def runs(sample_repo: Path, repo_db: RepoDatabase) -> tuple[str, str, str]:
    return asyncio.run(three_runs(sample_repo))


def listed(repo: Path) -> dict[str, dict[str, Any]]:
    rows = json.loads(adw(repo, "worktrees", "ls", "--json").stdout)
    return {row["adw_id"]: row for row in rows}


def branch_exists(repo: Path, branch: str) -> bool:
    found = subprocess.run(
        ["git", "-C", str(repo), "branch", "--list", branch], capture_output=True, text=True
    )
    return bool(found.stdout.strip())


def test_prune_and_rm_take_only_what_they_may(sample_repo: Path, runs: tuple[str, str, str]):
    ended, in_use, dirty = runs
    repo = sample_repo
    rows = listed(repo)
    assert set(rows) == {ended, in_use, dirty}
    assert [rows[i]["status"] for i in runs] == ["succeeded", "running", "succeeded"]
    assert [rows[i]["dirty"] for i in runs] == [False, False, True]
    sizes = [rows[i]["size_bytes"] for i in runs]
    assert all(isinstance(size, int) and size > 0 for size in sizes), sizes
    table = adw(repo, "worktrees", "ls").stdout
    assert "3 worktrees" in table
    assert ended in table

    assert "Nothing to prune" in adw(repo, "worktrees", "prune", "--older-than", "1d").stdout
    dry = adw(repo, "worktrees", "prune", "--older-than", "0s", "--dry-run").stdout
    assert f"would remove {ended}" in dry
    assert f"would remove {dirty}" in dry
    assert in_use not in dry
    assert set(listed(repo)) == {ended, in_use, dirty}  # a dry run removes nothing

    pruned = adw(repo, "worktrees", "prune", "--older-than", "0s", code=1).stdout
    assert f"removed {ended}" in pruned
    assert f"kept {dirty}" in pruned
    assert "uncommitted changes" in pruned
    assert set(listed(repo)) == {in_use, dirty}
    assert (repo / "trees" / dirty / "notes.txt").read_text() == "not committed"

    refused = adw(repo, "worktrees", "rm", in_use, code=1).stderr
    assert f"run {in_use} is running: its worktree is in use" in refused
    branch = str(rows[dirty]["branch"])
    unmerged = adw(repo, "worktrees", "rm", dirty, "--delete-branch", code=1).stderr
    assert "nothing was removed" in unmerged
    assert (repo / "trees" / dirty).is_dir()
    assert branch_exists(repo, branch)
    forced = adw(repo, "worktrees", "rm", dirty, "--force", "--delete-branch").stdout
    assert f"branch {branch} deleted" in " ".join(forced.split())
    assert not (repo / "trees" / dirty).exists()
    assert not branch_exists(repo, branch)
    # The runs and their branches (unless deleted) stay; each removal is audited.
    assert branch_exists(repo, str(rows[ended]["branch"]))
    shown = json.loads(adw(repo, "show", ended, "--json").stdout)
    assert shown["status"] == "succeeded"

    async def audited() -> list[str]:
        async with await Store.open(database_of(repo)) as store:
            entries = await store.audit.entries(limit=1000)
        return [entry.adw_id or "" for entry in entries if entry.action == "worktree.remove"]

    assert sorted(asyncio.run(audited())) == sorted([ended, dirty])


def test_bad_arguments_say_what_to_write(sample_repo: Path):
    repo = sample_repo  # no runs needed: bad arguments and an unknown run are refused alike
    assert "is not an age" in adw(repo, "worktrees", "prune", "--older-than", "7x", code=1).stderr
    huge = adw(repo, "worktrees", "prune", "--older-than", "99999999999d", code=1).stderr
    assert "longer than any age adw can count" in huge
    unknown = adw(repo, "worktrees", "prune", "--status", "done", code=1).stderr
    assert "unknown run status 'done' in --status" in unknown
    assert "not found" in adw(repo, "worktrees", "rm", "0000beef", code=1).stderr


async def run_in_every_status(repo: Path) -> dict[RunStatus, str]:
    """One finished `plan` run for each status, then set to it (its worktree made)."""
    async with await Store.open(database_of(repo)) as store:
        async with Orchestrator(store, repo, fast_settings(repo, max_concurrent=4)) as runtime:
            issues = [
                await store.issues.create(f"Add helper {status}", "x") for status in RunStatus
            ]
            ids = [await runtime.launch(issue.number, workflow="plan") for issue in issues]
            for adw_id in ids:
                assert (await runtime.wait(adw_id)).status is RunStatus.SUCCEEDED
        for status, adw_id in zip(RunStatus, ids, strict=True):
            await store.set_status(adw_id, status, actor="test")
    return dict(zip(RunStatus, ids, strict=True))


@pytest.mark.usefixtures("repo_db")
def test_prune_takes_ended_runs_only_whatever_status_it_is_asked_for(sample_repo: Path):
    runs = asyncio.run(run_in_every_status(sample_repo))
    in_use = {RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED}
    every = ",".join(RunStatus)
    pruned = adw(sample_repo, "worktrees", "prune", "--older-than", "0s", "--status", every)
    assert f"{len(RunStatus) - len(in_use)} removed, 0 kept" in pruned.stdout
    assert set(listed(sample_repo)) == {runs[status] for status in in_use}
    for status in in_use:
        refused = adw(sample_repo, "worktrees", "rm", runs[status], "--force", code=1).stderr
        assert f"run {runs[status]} is {status}: its worktree is in use" in refused
