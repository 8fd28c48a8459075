"""`adw attach` and `adw shell` for real, in a pseudo-terminal: the child runs in the
run's worktree on the terminal, with the right arguments and environment, survives the
keyboard's Ctrl-C without taking adw down, and the takeover is recorded. And each bad
input: a clear message, nothing written."""

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from bench.pty_app import PtyChild
from tests.cli.test_listings import adw
from tests.conftest import adw_environment, database_of
from tests.runtime.pause_runs import agent_started, next_event
from tests.runtime.session_runs import (
    CLAUDE_SESSION,
    add_claude_session,
    finished_run,
    worktree_of,
)
from tests.runtime.test_orchestrator import fast_settings

ADW = str(Path(sys.executable).parent / "adw")
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("repo_db")]

# A stand-in for `claude` and for `$SHELL`: it writes where it runs, its arguments, its
# environment and whether its stdin is a terminal to $1's neighbour file, then sends
# Ctrl-C's signal to its whole process group (adw included), which it ignores itself.
RECORDER = """#!/bin/sh
trap '' INT
out={out}
pwd > "$out"
echo "args:$*" >> "$out"
if [ -t 0 ]; then echo "tty:yes" >> "$out"; else echo "tty:no" >> "$out"; fi
env >> "$out"
kill -INT 0
exit 3
"""


def recorder(tmp_path: Path) -> tuple[Path, Path]:
    """(the script, the file it writes)."""
    script, out = tmp_path / "recorder", tmp_path / "recorded.txt"
    script.write_text(RECORDER.format(out=out))
    script.chmod(0o755)
    return script, out


async def prepared(repo: Path, *, claude: bool = True) -> tuple[str, Path]:
    """A finished run (with a Claude Code session when `claude`) and its worktree."""
    async with await Store.open(database_of(repo)) as store:
        async with Orchestrator(store, repo, fast_settings(repo)) as orchestrator:
            adw_id = await finished_run(store, orchestrator)
        if claude:
            await add_claude_session(store, adw_id)
        return adw_id, await worktree_of(store, adw_id)


def in_pty(repo: Path, tmp_path: Path, *argv: str, env: dict[str, str]) -> tuple[int, str]:
    """`adw --repo REPO *argv` on a new terminal: its exit code and what it printed."""
    ours = {*os.environ.keys() - adw_environment().keys(), "CLAUDE_CODE_PATH"}
    child = PtyChild([ADW, "--repo", str(repo), *argv], cwd=tmp_path, env=env, unset=ours)
    printed = b"".join(child.output(60))
    return child.close(), printed.decode(errors="replace")


def recorded(out: Path) -> tuple[str, str, bool, dict[str, str]]:
    """(cwd, arguments, stdin a terminal, environment) the stand-in recorded."""
    cwd, args, tty, *env = out.read_text().splitlines()
    variables = dict(line.split("=", 1) for line in env if "=" in line)
    return cwd, args.removeprefix("args:"), tty == "tty:yes", variables


async def history_and_audit(repo: Path, adw_id: str) -> tuple[list[str], list[str]]:
    async with await Store.open(database_of(repo)) as store:
        history = [f"{v.actor}: {v.reason}" for v in await store.history(adw_id)]
        audit = [entry.action for entry in await store.audit.entries(adw_id=adw_id)]
    return history, audit


def test_attach_resumes_the_claude_session_in_the_worktree(sample_repo: Path, tmp_path: Path):
    adw_id, worktree = asyncio.run(prepared(sample_repo))
    script, out = recorder(tmp_path)
    code, printed = in_pty(
        sample_repo,
        tmp_path,
        "attach",
        adw_id,
        env={
            "CLAUDE_CODE_PATH": str(script),
            "ANTHROPIC_API_KEY": "sk-test",
            "GITHUB_PAT": "ghp_not_for_agents",
            "AWS_SECRET_ACCESS_KEY": "not-for-agents",
        },
    )
    assert code == 3, printed  # the session's exit code, adw alive through its Ctrl-C
    cwd, args, tty, env = recorded(out)
    assert Path(cwd) == worktree
    assert args == f"--resume {CLAUDE_SESSION}"
    assert tty
    assert env["ANTHROPIC_API_KEY"] == "sk-test"
    assert "GITHUB_PAT" not in env
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert f"back from run {adw_id} (exit 3)" in printed
    history, audit = asyncio.run(history_and_audit(sample_repo, adw_id))
    assert history[0].startswith(
        f"cli: cli took over step review in an interactive claude session ({CLAUDE_SESSION})"
    )
    assert history[0].endswith("exit 3")
    assert audit[0] == "run.attach"


async def test_attach_pauses_a_running_run_first(
    sample_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """This process runs the run (Claude Code's engine driving the simulated CLI, hanging
    in its plan step); `adw attach` in a terminal has it paused, attaches to the paused
    step's session, and leaves the run paused; a resume here then finishes it."""
    monkeypatch.setenv("CLAUDE_CODE_PATH", str(Path(sys.executable).with_name("adw-sim")))
    settings = fast_settings(sample_repo, engine="claude", agent_env=["ADW_SIM_*"])
    script, out = recorder(tmp_path)
    hangs = {"ADW_SIM_FAULTS": "feature=hang,chore=hang,bug=hang"}
    async with (
        await Store.open(database_of(sample_repo)) as store,
        Orchestrator(store, sample_repo, settings) as orchestrator,
    ):
        issue = await store.issues.create("Feature", "x")
        adw_id = await orchestrator.launch(issue.number, workflow="plan", engine_env=hangs)
        await next_event(orchestrator.bus, agent_started(adw_id, "plan"))
        env = {"CLAUDE_CODE_PATH": str(script), "ANTHROPIC_API_KEY": "sk-test"}
        code, printed = await asyncio.to_thread(
            in_pty, sample_repo, tmp_path, "attach", adw_id, env=env
        )
        assert code == 3, printed
        assert f"run {adw_id} paused in step plan" in printed
        assert f"`adw resume {adw_id}` goes on" in " ".join(printed.split())
        assert (await store.get_run(adw_id)).status is RunStatus.PAUSED
        [paused] = [a for a in await store.steps.for_run(adw_id) if a.step == "plan"]
        worktree = await worktree_of(store, adw_id)
        assert recorded(out)[:2] == (str(worktree), f"--resume {paused.session_id}")
        await orchestrator.resume(adw_id)
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED


def test_shell_opens_in_the_worktree_with_the_runs_ports(sample_repo: Path, tmp_path: Path):
    adw_id, worktree = asyncio.run(prepared(sample_repo, claude=False))
    script, out = recorder(tmp_path)
    ports = dict(line.split("=", 1) for line in (worktree / ".ports.env").read_text().splitlines())
    code, printed = in_pty(
        sample_repo,
        tmp_path,
        "shell",
        adw_id,
        env={"SHELL": str(script), "GITHUB_PAT": "ghp_withheld", "MY_TOOL_HOME": "/opt/tool"},
    )
    assert code == 3, printed
    cwd, args, tty, env = recorded(out)
    assert (Path(cwd), args, tty) == (worktree, "", True)
    assert {name: env[name] for name in ports} == ports
    assert env["ADW_ID"] == adw_id
    assert env["MY_TOOL_HOME"] == "/opt/tool"  # the operator's own environment
    assert "GITHUB_PAT" not in env
    _, audit = asyncio.run(history_and_audit(sample_repo, adw_id))
    assert audit[0] == "run.shell"


def test_each_refusal_says_why_and_writes_nothing(sample_repo: Path, tmp_path: Path):
    simulated, worktree = asyncio.run(prepared(sample_repo, claude=False))
    before = asyncio.run(history_and_audit(sample_repo, simulated))

    refused = adw(sample_repo, "attach", simulated, code=1).stderr
    assert "engine sim: the simulated agent has no interactive mode" in refused
    assert "adw shell" in refused

    async def queued_with_a_session() -> None:
        async with await Store.open(database_of(sample_repo)) as store:
            await add_claude_session(store, simulated)
            await store.set_status(simulated, RunStatus.QUEUED, actor="test")

    asyncio.run(queued_with_a_session())
    refused = adw(sample_repo, "attach", simulated, code=1).stderr
    assert f"run {simulated} is queued and about to run" in refused

    asyncio.run(_set_status(sample_repo, simulated, RunStatus.SUCCEEDED))
    adw(sample_repo, "worktrees", "rm", simulated)
    for command in ("shell", "attach"):
        refused = adw(sample_repo, command, simulated, code=1).stderr
        assert f"the worktree {worktree} of run {simulated} is gone" in refused
    assert "run 0badc0de not found" in adw(sample_repo, "shell", "0badc0de", code=1).stderr

    history, audit = asyncio.run(history_and_audit(sample_repo, simulated))
    assert history == before[0]
    assert "run.attach" not in audit
    assert "run.shell" not in audit


async def _set_status(repo: Path, adw_id: str, status: RunStatus) -> None:
    async with await Store.open(database_of(repo)) as store:
        await store.set_status(adw_id, status, actor="test")


def test_a_run_whose_agent_never_answered_has_no_session(sample_repo: Path):
    async def no_session() -> str:
        async with await Store.open(database_of(sample_repo)) as store:
            issue = await store.issues.create("t", "b")
            await store.create_run(
                {"adw_id": "0c0ffee0", "issue_number": str(issue.number)},
                workflow="plan",
                issue=str(issue.number),
                actor="test",
            )
            await store.set_status("0c0ffee0", RunStatus.FAILED, actor="test")
        return "0c0ffee0"

    adw_id = asyncio.run(no_session())
    refused = adw(sample_repo, "attach", adw_id, code=1).stderr
    assert f"run {adw_id} has no agent session to attach to" in refused
    assert json.loads(adw(sample_repo, "runs", "--json").stdout)[0]["status"] == "failed"
