"""The simulated agent CLI driven through the real engine, runner and stream parser.

`SimulatedClaudeEngine` starts `python -m adw_tui.agents.sim` as a real subprocess in a
real git repository; every test reads what the engine yields (AgentEvents, then one
AgentResult) and the files the runner writes, as the orchestrator would.
"""

import json
import os
import re
import shutil
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from contextlib import aclosing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from adw_tui.agents.claude_code import SimulatedClaudeEngine
from adw_tui.agents.jsonl import MAX_LINE_BYTES
from adw_tui.agents.runner import RAW_OUTPUT_FILE
from adw_tui.agents.sim.faults import MALFORMED_LINE
from adw_tui.domain.agent import (
    AgentEvent,
    AgentEventKind,
    AgentRequest,
    AgentResult,
    ErrorClass,
)
from adw_tui.domain.workflow import PLAN_SECTIONS as WORKFLOW_PLAN_SECTIONS

Kind = AgentEventKind
ISSUE_JSON = json.dumps(
    {"number": 7, "title": "Add dark mode toggle", "body": "Users want a dark theme."}
)
ADW_ID = "abc12345"
SPEC = f"specs/issue-7-adw-{ADW_ID}-sdlc_planner-add-dark-mode-toggle.md"
MODULE = "src/add_dark_mode_toggle.py"
TEST_MODULE = "tests/test_add_dark_mode_toggle.py"
PYTEST_COMMAND = "python -m pytest -q -p no:cacheprovider"
COMMIT_MESSAGE = "sdlc_implementor: feature: Add dark mode toggle"
PLAN_SECTIONS = list(WORKFLOW_PLAN_SECTIONS)
# Fixed commit dates make commit hashes (and so the commit tool's output) repeatable.
GIT_DATE = "2026-01-01T00:00:00+00:00"
PASSED_ENV = ("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")
ELEVEN_MB = 11 * 1024 * 1024
# The splitter holds at most MAX_LINE_BYTES of a line; a reader that kept the whole
# 12 MiB line (as bytes, then as str) would peak far above this.
MEMORY_BOUND = MAX_LINE_BYTES + 6 * 1024 * 1024


# -- harness ---------------------------------------------------------------------------


def git_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_AUTHOR_DATE": GIT_DATE,
        "GIT_COMMITTER_DATE": GIT_DATE,
    }


def git(repo: Path, home: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env=git_env(home), capture_output=True, text=True, check=True
    )
    return done.stdout


def make_repo(repo: Path, home: Path) -> Path:
    """A fresh git repository with one committed file, the same every time."""
    repo.mkdir(parents=True)
    git(repo, home, "init", "-q")
    git(repo, home, "config", "user.email", "sim@example.com")
    git(repo, home, "config", "user.name", "Sim Test")
    (repo / "README.md").write_text("# demo\n")
    git(repo, home, "add", "-A")
    git(repo, home, "commit", "-qm", "initial")
    return repo


@dataclass
class Call:
    """One agent call: what the engine yielded and the request that made it."""

    request: AgentRequest
    events: list[AgentEvent]
    result: AgentResult

    def of(self, kind: AgentEventKind) -> list[AgentEvent]:
        return [event for event in self.events if event.kind is kind]

    @property
    def raw_lines(self) -> list[bytes]:
        return (self.request.run_dir / RAW_OUTPUT_FILE).read_bytes().splitlines()

    def tools(self) -> list[tuple[str | None, str]]:
        return [(event.tool_name, event.text) for event in self.of(Kind.TOOL_USE)]


@dataclass
class Sim:
    tmp_path: Path
    repo: Path

    @property
    def home(self) -> Path:
        return self.tmp_path / "home"

    def engine(self, faults: str = "") -> SimulatedClaudeEngine:
        environ = {
            **git_env(self.home),
            "ADW_SIM_STATE_DIR": str(self.tmp_path / "state"),
            "ADW_SIM_FAULTS": faults,
            "ADW_SIM_DELAY": "0",
            # The `test` command runs pytest for real; plugins only slow it down.
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
        return SimulatedClaudeEngine(environ=environ, extra_env=PASSED_ENV, kill_grace_s=0.5)

    async def call(
        self,
        prompt: str,
        agent: str = "sdlc_agent",
        *,
        faults: str = "",
        engine: SimulatedClaudeEngine | None = None,
        watch: Callable[[AgentEvent], None] | None = None,
        **fields: Any,
    ) -> Call:
        request = AgentRequest.model_validate(
            {
                "prompt": prompt,
                "adw_id": ADW_ID,
                "agent_name": agent,
                "cwd": self.repo,
                "output_dir": self.tmp_path / "agents",
                **fields,
            }
        )
        events: list[AgentEvent] = []
        results: list[AgentResult] = []
        async with aclosing((engine or self.engine(faults)).run(request)) as stream:
            async for item in stream:
                assert not results, "nothing may follow the AgentResult"
                if isinstance(item, AgentResult):
                    results.append(item)
                else:
                    events.append(item)
                    if watch is not None:
                        watch(item)
        (result,) = results
        return Call(request, events, result)


@pytest.fixture
def sim(tmp_path: Path) -> Sim:
    home = tmp_path / "home"
    home.mkdir()
    return Sim(tmp_path, make_repo(tmp_path / "repo", home))


def assert_clean(call: Call) -> None:
    """A successful call: its result, its events, tool pairing and the files written."""
    result, events = call.result, call.events
    assert result.success, result
    assert (result.error_class, result.error_message, result.exit_code) == (ErrorClass.NONE, "", 0)
    assert result.cost_usd > 0
    assert result.num_turns >= 1
    assert result.session_id
    assert events[0].kind is Kind.INIT
    assert events[0].text.startswith(f"session {result.session_id} · model claude-sonnet-4-5")
    assert events[-1].kind is Kind.RESULT
    assert events[-1].text == f"done: ${result.cost_usd:.4f}"
    assert not [event for event in events if event.is_error]
    assert result.output == call.of(Kind.TEXT)[-1].text
    # Each tool call is answered by the very next line, carrying the same id.
    uses = call.of(Kind.TOOL_USE)
    assert [use.tool_id for use in uses] == [r.tool_id for r in call.of(Kind.TOOL_RESULT)]
    assert len({use.tool_id for use in uses}) == len(uses)
    for use in uses:
        assert use.tool_id is not None
        assert use.tool_id.startswith("toolu_")
        answer = events[events.index(use) + 1]
        assert (answer.kind, answer.tool_id, answer.line) == (
            Kind.TOOL_RESULT,
            use.tool_id,
            use.line + 1,
        )
    # raw_output.jsonl holds every line the events came from; the prompt is saved.
    raw = call.raw_lines
    assert len(raw) == events[-1].line
    assert json.loads(raw[0])["subtype"] == "init"
    assert json.loads(raw[-1])["type"] == "result"
    prompt_file = call.request.run_dir / "prompts" / f"{call.request.command_name}.txt"
    assert prompt_file.read_text(encoding="utf-8") == call.request.prompt


def assert_failed(call: Call, error_class: ErrorClass) -> None:
    result = call.result
    assert not result.success
    assert result.error_class is error_class, result
    assert result.error_message
    assert "None" not in result.error_message
    for event in call.of(Kind.RESULT):
        assert event.is_error
        assert event.text
        assert event.text != "None"


def sim_processes() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        with suppress(psutil.Error):
            if "adw_tui.agents.sim" in child.cmdline():
                found.append(child)
    return found


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- a whole workflow --------------------------------------------------------------------


async def test_sdlc_sequence_through_the_engine(sim: Sim) -> None:
    classify = await sim.call(f"/classify_issue {ISSUE_JSON}", "issue_classifier")
    assert_clean(classify)
    assert classify.result.output in {"/feature", "/bug", "/chore"}
    assert classify.result.output == "/feature"
    assert classify.tools() == []

    branch = await sim.call(
        f"/generate_branch_name /feature {ADW_ID} {ISSUE_JSON}", "branch_generator"
    )
    assert_clean(branch)
    assert branch.result.output == f"feature-issue-7-adw-{ADW_ID}-add-dark-mode-toggle"

    plan = await sim.call(f"/feature 7 {ADW_ID} {ISSUE_JSON}", "sdlc_planner")
    assert_clean(plan)
    assert plan.result.output == SPEC
    assert plan.tools() == [("Write", SPEC)]  # the summary is relative to the cwd
    assert plan.of(Kind.TOOL_RESULT)[0].text.startswith("File created successfully at: ")
    assert re.findall(r"^## (.+)$", (sim.repo / SPEC).read_text(), re.M) == PLAN_SECTIONS
    assert plan.result.num_turns == 2

    implement = await sim.call(f"/implement {SPEC}", "sdlc_implementor")
    assert_clean(implement)
    assert implement.tools() == [("Read", SPEC), ("Write", MODULE), ("Write", TEST_MODULE)]
    assert "def add_dark_mode_toggle() -> str:" in (sim.repo / MODULE).read_text()
    assert (sim.repo / TEST_MODULE).is_file()
    assert implement.result.output == f"Implemented {SPEC}:\n- {MODULE}\n- {TEST_MODULE}"

    tested = await sim.call("/test", "tester")
    assert_clean(tested)
    assert tested.tools() == [("Bash", PYTEST_COMMAND)]
    assert "1 passed" in tested.of(Kind.TOOL_RESULT)[0].text
    entries = json.loads(tested.result.output)
    assert isinstance(entries, list)
    assert [(e["test_name"], e["passed"], e["error"]) for e in entries] == [("pytest", True, None)]

    review = await sim.call(f"/review {ADW_ID} {SPEC} reviewer", "reviewer")
    assert_clean(review)
    report = json.loads(review.result.output)
    assert (report["success"], report["review_issues"]) == (True, [])

    commit = await sim.call(f"/commit sdlc_implementor /feature {ISSUE_JSON}", "committer")
    assert_clean(commit)
    assert commit.result.output == COMMIT_MESSAGE
    ((tool, command),) = commit.tools()
    assert (tool, command.startswith("git add -A && git commit -m ")) == ("Bash", True)
    assert git(sim.repo, sim.home, "log", "--format=%s").splitlines() == [COMMIT_MESSAGE, "initial"]
    assert git(sim.repo, sim.home, "status", "--porcelain") == ""
    committed = git(sim.repo, sim.home, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(committed) == sorted([SPEC, MODULE, TEST_MODULE])

    calls = [classify, branch, plan, implement, tested, review, commit]
    assert len({call.result.session_id for call in calls}) == len(calls)
    run_dirs = sorted(p.name for p in (sim.tmp_path / "agents" / ADW_ID).iterdir())
    assert run_dirs == sorted(call.request.agent_name for call in calls)


# -- faults, classified through the parser -------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error_class", "transient", "exit_code", "message"),
    [
        ("fail_always", ErrorClass.EXECUTION_ERROR, True, 1, "simulated fault fail_always"),
        ("crash", ErrorClass.CRASHED, True, 3, "exited with code 3 without a result line"),
        ("rate_limit", ErrorClass.RATE_LIMIT, True, 1, "API Error: 429"),
        ("overloaded", ErrorClass.OVERLOADED, True, 1, "after 2 API retries"),
        ("auth", ErrorClass.AUTH, False, 1, "invalid x-api-key (simulated)"),
        ("max_turns", ErrorClass.MAX_TURNS, False, 1, "Reached maximum number of turns (1)"),
    ],
)
async def test_fault_is_classified(
    sim: Sim,
    fault: str,
    error_class: ErrorClass,
    transient: bool,
    exit_code: int,
    message: str,
) -> None:
    call = await sim.call(f"/classify_issue {ISSUE_JSON}", faults=f"classify_issue={fault}")
    assert_failed(call, error_class)
    assert call.result.transient is transient
    assert call.result.exit_code == exit_code
    assert message in call.result.error_message
    assert call.events[0].kind is Kind.INIT
    assert call.result.session_id
    assert (call.request.run_dir / RAW_OUTPUT_FILE).is_file()


async def test_fail_once_then_success(sim: Sim) -> None:
    engine = sim.engine("classify_issue=fail_once")
    first = await sim.call(f"/classify_issue {ISSUE_JSON}", engine=engine)
    assert_failed(first, ErrorClass.EXECUTION_ERROR)
    assert first.result.transient
    assert first.result.error_message == "simulated fault fail_once for /classify_issue"
    assert first.of(Kind.RESULT)[0].text == first.result.error_message

    second = await sim.call(f"/classify_issue {ISSUE_JSON}", engine=engine)
    assert_clean(second)
    assert second.result.output == "/feature"


async def test_fail_always_fails_every_time(sim: Sim) -> None:
    engine = sim.engine("test=fail_always")
    for _ in range(2):
        call = await sim.call("/test", engine=engine)
        assert_failed(call, ErrorClass.EXECUTION_ERROR)
        assert call.result.error_message == "simulated fault fail_always for /test"
        assert call.tools() == []


async def test_crash_keeps_the_stderr_tail(sim: Sim) -> None:
    call = await sim.call(f"/classify_issue {ISSUE_JSON}", faults="*=crash")
    assert_failed(call, ErrorClass.CRASHED)
    assert call.result.exit_code == 3
    assert call.result.stderr_tail == "adw-sim: simulated crash (ADW_SIM_FAULTS)\n"
    assert call.result.error_message == (
        "exited with code 3 without a result line: adw-sim: simulated crash (ADW_SIM_FAULTS)"
    )
    assert [event.kind for event in call.events] == [Kind.INIT, Kind.TEXT]
    assert call.result.output == "Starting on it."
    assert len(call.raw_lines) == 2


async def test_hang_is_stopped_by_the_idle_timeout(sim: Sim) -> None:
    seen: list[psutil.Process] = []

    def find_sim(event: AgentEvent) -> None:
        if event.kind is Kind.INIT:
            seen.extend(sim_processes())

    started = time.monotonic()
    call = await sim.call(
        "/test", faults="test=hang", watch=find_sim, idle_timeout_s=1, timeout_s=30
    )
    elapsed = time.monotonic() - started

    assert_failed(call, ErrorClass.IDLE_TIMEOUT)
    assert call.result.transient
    assert call.result.error_message == (
        "stopped by the no-output timeout; the process tree was killed"
    )
    assert [event.kind for event in call.events] == [Kind.INIT]
    assert 1.0 <= elapsed < 10
    assert len(seen) == 1
    assert gone(seen[0])
    assert sim_processes() == []


async def test_rate_limit_is_transient(sim: Sim) -> None:
    call = await sim.call("/test", faults="*=rate_limit")
    assert_failed(call, ErrorClass.RATE_LIMIT)
    assert call.result.transient
    assert call.result.retries == 0
    (error,) = call.of(Kind.ERROR)
    assert error.is_error
    assert error.text.startswith("API Error: 429 ")
    assert call.result.cost_usd == 0


async def test_overloaded_retries_twice_then_fails(sim: Sim) -> None:
    call = await sim.call("/test", faults="*=overloaded")
    assert_failed(call, ErrorClass.OVERLOADED)
    assert call.result.transient
    assert call.result.retries == 2
    retries = call.of(Kind.RETRY)
    assert [(e.detail["attempt"], e.detail["error_status"]) for e in retries] == [
        (1, 529),
        (2, 529),
    ]
    assert retries[0].text == "API retry 1/10 in 0.5s (HTTP 529)"
    assert call.result.error_message.startswith("API Error: 529 ")
    assert call.result.error_message.endswith(" after 2 API retries")


async def test_auth_is_permanent(sim: Sim) -> None:
    call = await sim.call("/test", faults="*=auth")
    assert_failed(call, ErrorClass.AUTH)
    assert not call.result.transient
    assert call.result.retries == 0
    assert call.result.error_message.startswith("API Error: 401 ")


async def test_malformed_line_is_reported_and_the_call_succeeds(sim: Sim) -> None:
    call = await sim.call(f"/feature 7 {ADW_ID} {ISSUE_JSON}", faults="feature=malformed")
    (bad,) = call.of(Kind.UNKNOWN)
    assert bad.is_error
    assert bad.text.startswith(f"line {bad.line}: invalid JSON: ")
    assert bad.detail["size"] == len(MALFORMED_LINE)
    assert call.raw_lines[bad.line - 1] == MALFORMED_LINE.encode()
    call.events.remove(bad)  # the rest is a clean run
    assert_clean(call)
    assert call.result.output == SPEC
    assert (sim.repo / SPEC).is_file()


async def test_huge_line_is_skipped_with_bounded_memory(sim: Sim) -> None:
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        call = await sim.call(f"/classify_issue {ISSUE_JSON}", faults="*=huge")
        peak = tracemalloc.get_traced_memory()[1] - baseline
    finally:
        if not tracing:
            tracemalloc.stop()

    (huge,) = call.of(Kind.UNKNOWN)
    assert huge.is_error
    assert f"is over the {MAX_LINE_BYTES:,}-byte limit" in huge.text
    assert huge.detail["size"] > ELEVEN_MB
    assert peak < MEMORY_BOUND, f"peak {peak:,} bytes"
    assert max(len(event.text) for event in call.events) < 1000
    raw_file = call.request.run_dir / RAW_OUTPUT_FILE
    assert raw_file.stat().st_size > ELEVEN_MB
    line = call.raw_lines[huge.line - 1]
    assert len(line) == huge.detail["size"]
    assert json.loads(line)["type"] == "assistant"  # whole and valid in the raw file
    call.events.remove(huge)
    assert_clean(call)
    assert call.result.output == "/feature"


async def test_max_turns_from_the_request(sim: Sim) -> None:
    call = await sim.call(f"/feature 7 {ADW_ID} {ISSUE_JSON}", max_turns=1)
    assert_failed(call, ErrorClass.MAX_TURNS)
    assert not call.result.transient
    assert call.result.error_message == "Reached maximum number of turns (1)"
    assert call.of(Kind.RESULT)[0].text == "Reached maximum number of turns (1)"
    assert call.result.num_turns == 2  # the CLI counts the turn it refused to start
    assert call.tools() == [("Write", SPEC)]

    enough = await sim.call(f"/feature 7 {ADW_ID} {ISSUE_JSON}", max_turns=2)
    assert_clean(enough)


async def test_max_turns_fault(sim: Sim) -> None:
    call = await sim.call("Explain this repository.", faults="*=max_turns")
    assert_failed(call, ErrorClass.MAX_TURNS)
    assert call.result.error_message == "Reached maximum number of turns (1)"
    assert call.of(Kind.RESULT)[0].detail["subtype"] == "error_max_turns"


# -- determinism -------------------------------------------------------------------------


async def test_identical_repos_give_identical_event_sequences(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    prompts = [
        ("issue_classifier", f"/classify_issue {ISSUE_JSON}"),
        ("sdlc_planner", f"/feature 7 {ADW_ID} {ISSUE_JSON}"),
        ("sdlc_implementor", f"/implement {SPEC}"),
        ("tester", "/test"),
        ("committer", f"/commit sdlc_implementor /feature {ISSUE_JSON}"),
    ]
    runs: list[list[tuple[str, str, str | None]]] = []
    outputs: list[list[str]] = []
    for attempt in range(2):
        repo = tmp_path / "repo"  # the same path, so session ids and file paths match
        shutil.rmtree(repo, ignore_errors=True)
        shutil.rmtree(tmp_path / "agents", ignore_errors=True)
        sim = Sim(tmp_path, make_repo(repo, home))
        events: list[tuple[str, str, str | None]] = []
        results: list[str] = []
        for agent, prompt in prompts:
            call = await sim.call(prompt, agent)
            assert call.result.success, (attempt, prompt, call.result)
            events += [(e.kind.value, e.text, e.tool_name) for e in call.events]
            results.append(call.result.output)
        runs.append(events)
        outputs.append(results)

    first, second = runs
    assert first == second
    assert outputs[0] == outputs[1]
    assert outputs[0][-1] == COMMIT_MESSAGE
    tools = [tool for kind, _, tool in first if kind == Kind.TOOL_USE.value]
    assert tools == ["Write", "Read", "Write", "Write", "Bash", "Bash"]
