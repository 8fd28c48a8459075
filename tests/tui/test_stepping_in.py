"""The operator's hands in the dashboard: attach (`a`) and shell (`s`) hand a recording
runner (in place of the suspended terminal) the command a person would get, and the
takeover is recorded; each refusal is a toast and nothing else; `P` pushes the run's
branch to a real bare repository; `o` opens the pull request, else the branch's page."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pyte
import pytest
from textual.app import App

from adw_tui.config import Settings
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.handover import Handover
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import AdwApp, create_app
from adw_tui.tui.screens.run_detail import RunDetailScreen
from adw_tui.tui.widgets.confirm import ConfirmScreen
from bench.pty_app import COLUMNS, ROWS, PtyChild
from tests.cli.test_stepping_in import ADW, prepared, recorded, recorder
from tests.runtime.pause_runs import agent_started, next_event
from tests.runtime.session_runs import (
    CLAUDE_SESSION,
    add_claude_session,
    finished_run,
    worktree_of,
)
from tests.tui.conftest import notice, record_notifications, settle, until

# One engine: the hand-over to a terminal (the commands' store part runs on
# both engines in tests/cli/test_stepping_in.py).
from tests.tui.conftest import sqlite_alone as engine  # noqa: F401

PLAN_HANGS = {"ADW_SIM_FAULTS": "feature=hang,chore=hang,bug=hang"}
"""The plan step's agent (whatever the issue's class) says who it is, then hangs."""


class RecordingRunner:
    """Takes the place of the suspended terminal: notes each handover, answers `code`."""

    def __init__(self, code: int = 0) -> None:
        self.code = code
        self.handed: list[Handover] = []

    async def run(self, app: App[None], handover: Handover) -> int:
        self.handed.append(handover)
        return self.code


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable for CLAUDE_CODE_PATH (never started: the runner records)."""
    binary = tmp_path / "claude"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    monkeypatch.setenv("CLAUDE_CODE_PATH", str(binary))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("GITHUB_PAT", "ghp_not_for_agents")
    return binary


def app_with(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    runner: RecordingRunner,
) -> AdwApp:
    return create_app(store, repo, settings, orchestrator=orchestrator, runner=runner)


async def test_a_on_the_dashboard_attaches_to_the_claude_session_and_records_it(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    claude: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    adw_id = await finished_run(store, orchestrator)
    await add_claude_session(store, adw_id)
    runner = RecordingRunner()
    app = app_with(store, repo, settings, orchestrator, runner)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert app.selected_run == adw_id
        await pilot.press("a")
        back = await notice(pilot, notified, f"run {adw_id}")
    (handover,) = runner.handed
    assert handover.argv == [str(claude), "--resume", CLAUDE_SESSION]
    assert handover.cwd == await worktree_of(store, adw_id)
    assert handover.env["ANTHROPIC_API_KEY"] == "sk-test"
    assert "GITHUB_PAT" not in handover.env
    assert back["message"].startswith(f"back from claude session {CLAUDE_SESSION} of step review")
    (newest, *_) = await store.history(adw_id)
    assert newest.actor == "operator"
    assert newest.reason.startswith("operator took over step review")
    assert back["message"].endswith(f"version {newest.version} of its history says so")
    (entry, *_) = await store.audit.entries(adw_id=adw_id)
    assert (entry.action, entry.detail["session_id"]) == ("run.attach", CLAUDE_SESSION)


async def test_s_in_run_detail_opens_a_shell_with_the_runs_ports(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("SHELL", "/bin/bash")
    adw_id = await finished_run(store, orchestrator)
    state = (await store.load(adw_id)).state
    runner = RecordingRunner(code=7)
    app = app_with(store, repo, settings, orchestrator, runner)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.push_screen(RunDetailScreen(store, orchestrator, adw_id))
        await settle(pilot)
        await pilot.press("s")
        back = await notice(pilot, notified, f"run {adw_id}")
    (handover,) = runner.handed
    assert (handover.argv, handover.cwd) == (["/bin/bash"], await worktree_of(store, adw_id))
    assert handover.env["BACKEND_PORT"] == str(state.backend_port)
    assert handover.env["FRONTEND_PORT"] == str(state.frontend_port)
    assert (back["message"], back["severity"]) == (
        f"back from a shell in {handover.cwd} (exit 7)",
        "warning",
    )
    assert (await store.audit.entries(adw_id=adw_id))[0].action == "run.shell"


async def test_refusals_are_toasts_and_the_dashboard_goes_on(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    claude: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    adw_id = await finished_run(store, orchestrator)
    versions = (await store.get_run(adw_id)).version
    runner = RecordingRunner()
    app = app_with(store, repo, settings, orchestrator, runner)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")  # the simulated agent has no interactive mode
        refused = await notice(pilot, notified, "no attach")
        assert refused["message"].startswith("engine sim: the simulated agent has no interactive")

        await add_claude_session(store, adw_id)
        await store.set_status(adw_id, RunStatus.RUNNING, actor="test")
        notified.clear()
        await pilot.press("a")  # a running run: asked first, and declined
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await settle(pilot)
        assert (await store.get_run(adw_id)).status is RunStatus.RUNNING
        await store.set_status(adw_id, RunStatus.SUCCEEDED, actor="test")

        await orchestrator.worktrees.remove(adw_id, force=True)
        notified.clear()
        await pilot.press("s")
        refused = await notice(pilot, notified, "no shell")
        assert f"of run {adw_id} is gone" in refused["message"]
        await pilot.press("r")  # still at the operator's service
        await until(pilot, lambda: any(n["message"] == "runs reloaded" for n in notified))
    assert runner.handed == []
    assert (await store.get_run(adw_id)).version == versions


async def test_a_on_a_running_run_pauses_it_attaches_and_resumes_it(
    store: Store, repo: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    """The run's agent is Claude Code's engine driving the simulated CLI (so its session
    is a Claude session), hanging in its plan step (in the worktree) until paused."""
    simulator = Path(sys.executable).with_name("adw-sim")
    monkeypatch.setenv("CLAUDE_CODE_PATH", str(simulator))
    claude_settings = settings.model_copy(update={"engine": "claude", "agent_env": ["ADW_SIM_*"]})
    runner = RecordingRunner()
    async with Orchestrator(store, repo, claude_settings) as orchestrator:
        issue = await store.issues.create("Feature", "x")
        app = app_with(store, repo, claude_settings, orchestrator, runner)
        notified = record_notifications(app, monkeypatch)
        async with app.run_test(size=(120, 40)) as pilot:
            adw_id = await orchestrator.launch(issue.number, workflow="plan", engine_env=PLAN_HANGS)
            await next_event(orchestrator.bus, agent_started(adw_id, "plan"))
            await until(pilot, lambda: app.selected_run == adw_id)
            await pilot.press("a")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) or bool(notified), 20)
            assert isinstance(app.screen, ConfirmScreen), notified
            await pilot.press("y")  # "resume the run when I am back" is ticked
            await notice(pilot, notified, "resumed")
            assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
    (handover,) = runner.handed
    [paused] = [a for a in await store.steps.for_run(adw_id) if a.step == "plan"][:1]
    assert paused.session_id is not None
    assert handover.argv == [str(simulator), "--resume", paused.session_id]
    assert handover.cwd == await worktree_of(store, adw_id)
    actions = [entry.action for entry in await store.audit.entries(adw_id=adw_id)]
    assert "run.attach" in actions


async def test_push_sends_the_branch_to_a_bare_origin_and_o_opens_its_page(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    adw_id = await finished_run(store, orchestrator)
    state = (await store.load(adw_id)).state
    branch = state.branch_name
    assert branch is not None
    app = app_with(store, repo, settings, orchestrator, RecordingRunner())
    notified = record_notifications(app, monkeypatch)
    opened: list[str] = []
    # The browser is the one thing a test cannot reach: note what it would be asked.
    monkeypatch.setattr(app, "open_url", lambda url, new_tab=True: opened.append(url))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("P")
        refused = await notice(pilot, notified, "not pushed")
        assert "origin" in refused["message"]

        origin = tmp_path / "origin.git"
        git(tmp_path, "init", "-q", "--bare", str(origin))
        git(repo, "remote", "add", "origin", str(origin))
        await pilot.press("P")
        pushed = await notice(pilot, notified, f"run {adw_id} pushed")
        head = git(repo, "rev-parse", branch)
        assert git(origin, "rev-parse", branch) == head
        assert pushed["message"] == f"{branch} ({head[:10]}) is on origin"
        assert (await store.audit.entries(adw_id=adw_id))[0].action == "run.push"

        await pilot.press("o")  # a path as origin: no web page to derive
        await notice(pilot, notified, "nothing to open")
        git(repo, "remote", "set-url", "origin", "git@github.com:octo/textkit.git")
        await pilot.press("o")
        await notice(pilot, notified, "opening")
    assert opened == [f"https://github.com/octo/textkit/tree/{branch}"]


@pytest.mark.slow
def test_s_suspends_the_real_dashboard_for_the_shell_and_comes_back(
    tmp_path: Path, sample_repo: Path
):
    """The real runner on a real terminal: the dashboard hands the terminal to `$SHELL`
    (which sends Ctrl-C's signal to its process group), and draws itself again after."""
    adw_id, worktree = asyncio.run(prepared(sample_repo, claude=False))
    script, out = recorder(tmp_path)
    ours = [key for key in os.environ if key.startswith("ADW_") or key == "CLAUDE_CODE_PATH"]
    child = PtyChild(
        [ADW, "--repo", str(sample_repo)],
        cwd=tmp_path,
        env={"SHELL": str(script), "ADW_CONFIG_DIR": str(tmp_path / "config")},
        unset=ours,
    )
    screen = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.ByteStream(screen)
    pressed = quit_sent = False
    try:
        for chunk in child.output(60, quiet_s=0.3):
            stream.feed(chunk)
            shown = "\n".join(screen.display)
            if chunk:
                continue
            if not pressed and adw_id in shown:
                child.type(b"s")
                pressed = True
            elif pressed and not quit_sent and "back from a shell" in shown:
                child.type(b"q")
                quit_sent = True
    finally:
        code = child.close()
    assert quit_sent, shown
    assert code == 0
    cwd, _, tty, env = recorded(out)
    assert (Path(cwd), tty, env["ADW_ID"]) == (worktree, True, adw_id)
