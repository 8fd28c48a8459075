"""A command imports only what it uses: `adw --version`, `adw runs` and `adw prompt`
never import textual or pydantic-settings (settings are read without it), `--version` not
even the store or pydantic, `adw runs` neither rich nor the engines, and `adw prompt`
starts its agent before importing asyncio, pydantic or rich, and without the other
engines or psutil; the
dashboard (`adw` alone) imports the one screen it opens on, and draws its first frame
before importing the runtime. Each runs in a fresh
interpreter (a small runner calling the `adw` entry point, then writing
`sys.modules`, and what it held when the agent process was started), so nothing this
test process imported counts.

The lists the parser keeps to stay light (engine names, statuses) are checked against
what they name."""

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from adw_tui.agents.names import ENGINE_NAMES
from adw_tui.agents.registry import ENGINES
from adw_tui.cli.parser import (
    COMMAND_GROUPS,
    ISSUE_STATES,
    LETTER_STATUSES,
    RUN_STATUSES,
    build_parser,
    commands_named,
)
from adw_tui.domain.issues import IssueState
from adw_tui.domain.models import DeadLetterStatus, RunStatus
from adw_tui.store import Store
from adw_tui.store.location import PostgresDsn
from bench.pty_app import PtyChild
from tests.conftest import RepoDatabase

RUNNER = """
import json, sys
from adw_tui.cli import main
at_agent_start = None
agents_started = 0
git_before_agent = False
def on_audit(event, args):
    global at_agent_start, agents_started, git_before_agent
    # A process started that is not git (which finds the repository): the agent.
    if event == "subprocess.Popen" and args[1][0] != "git":
        agents_started += 1
        if at_agent_start is None:
            at_agent_start = sorted(sys.modules)
    elif event == "subprocess.Popen" and agents_started == 0:
        git_before_agent = True
sys.addaudithook(on_audit)
try:
    code = main(sys.argv[2:])
except SystemExit as exit:
    code = exit.code
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "modules": sorted(sys.modules), "at_agent_start": at_agent_start,
               "agents_started": agents_started, "git_before_agent": git_before_agent}, out)
"""


def modules_of(tmp_path: Path, *argv: str) -> set[str]:
    """The top-level packages and adw_tui modules `adw *argv` imported."""
    return imports_of(tmp_path, *argv).imported


class Start(NamedTuple):
    imported: set[str]
    """What `modules_of` says."""
    at_agent_start: set[str] | None
    """The same of the modules imported by the time the command started an agent (None:
    it started none)."""
    agents_started: int
    git_before_agent: bool
    """Whether git ran before the agent was started."""


def imports_of(tmp_path: Path, *argv: str) -> Start:
    """What `adw *argv` imported, in all and by the time it started its agent."""
    report = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", RUNNER, str(report), *argv],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=120,
    )
    found = json.loads(report.read_text())
    assert found["code"] == 0
    at_agent_start = found["at_agent_start"]
    at_start = None if at_agent_start is None else _packages(at_agent_start)
    return Start(
        _packages(found["modules"]), at_start, found["agents_started"], found["git_before_agent"]
    )


def _packages(modules: list[str]) -> set[str]:
    return {name if name.startswith("adw_tui") else name.split(".")[0] for name in modules}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def test_version_imports_neither_textual_nor_the_store(repo: Path):
    imported = modules_of(repo, "--version")
    assert not imported & {"textual", "rich", "pydantic", "asyncio", "sqlite3", "adw_tui.store"}
    assert not imported & {"pydantic_settings", "yaml", "httpx", "psutil", "aiosqlite"}


def test_runs_imports_no_textual_rich_or_engine(repo: Path, repo_db: RepoDatabase):
    db = repo_db.of(repo)

    async def one_run() -> None:
        async with await Store.open(db) as store:
            await store.create_run({"adw_id": "c0ffee01"}, workflow="sdlc", actor="t")

    asyncio.run(one_run())  # so that the command opens the store and reads
    imported = modules_of(repo, "runs")
    assert "adw_tui.store" in imported
    unused = {"textual", "rich", "yaml", "httpx", "psutil", "pydantic_settings"}
    if isinstance(db, PostgresDsn):
        # asyncpg and the store's reconnect policy (tenacity, adw_tui/store/reconnect.py)
        # come with a PostgreSQL store; the SQLite driver does not.
        unused |= {"aiosqlite"}
    else:
        unused |= {"asyncpg", "tenacity"}
    assert not imported & unused, imported & unused
    # Of the engines and the runtime, only the names and what finds the repository.
    beyond = ("adw_tui.agents.", "adw_tui.runtime.", "adw_tui.tui")
    assert {name for name in imported if name.startswith(beyond)} == {
        "adw_tui.agents.names",
        "adw_tui.agents.environment",
        "adw_tui.runtime.git_env",
    }


def test_prompt_imports_no_textual(repo: Path):
    imported, at_agent_start, agents, git_first = imports_of(
        repo, "prompt", "--engine", "sim", "hello"
    )
    assert "adw_tui.agents.claude_code" in imported
    assert not imported & {"textual", "yaml", "httpx", "pydantic_settings", "aiosqlite"}
    assert not imported & {"sqlite3", "tenacity", "adw_tui.store", "adw_tui.runtime.orchestrator"}
    assert not {name for name in imported if name.startswith("adw_tui.tui")}
    # The agent is started before adw imports asyncio, pydantic (the settings' model),
    # the stream's parser and rich (its printer's), and it is that process the call
    # takes over: one agent in all. Neither the other engines nor psutil, which kills a
    # live agent's process tree, are imported: one that ended by itself never needs it.
    assert at_agent_start is not None
    assert {"rich", "asyncio", "pydantic", "adw_tui.config"} <= imported
    assert not at_agent_start & {"rich", "psutil", "asyncio", "pydantic", "pydantic_core"}
    assert not at_agent_start & {"adw_tui.config", "adw_tui.agents.runner", "adw_tui.domain.agent"}
    # Nor what only the rest needs (dataclasses brings inspect; tomllib is for a config
    # file), and the repository is found without running git first.
    assert not at_agent_start & {"dataclasses", "inspect", "tomllib", "uuid"}
    assert not git_first
    assert agents == 1
    assert "psutil" not in imported
    others = {f"adw_tui.agents.{name}" for name in ("codex", "gemini", "opencode")}
    assert not imported & others


def subcommands(parser: argparse.ArgumentParser) -> set[str]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(actions[0].choices)


def test_a_command_is_parsed_by_its_own_parser_alone():
    """`adw` builds the parser of the command it is given alone (gettext made building
    all of them cost every start ~10 ms): each group of commands declares the commands
    it adds, and what any command line parses into is the same with every parser."""
    for names in COMMAND_GROUPS:
        assert subcommands(build_parser(names)) == set(names)
    assert set().union(*COMMAND_GROUPS) == subcommands(build_parser())
    for argv in (
        [],
        ["--repo", "/r"],
        ["--repo=/r", "--db", "x.db", "runs", "--limit", "3", "--status", "failed"],
        ["--tracker", "local", "issue", "ls", "--state", "all"],
        ["prompt", "hello", "--engine", "sim", "--max-turns", "2"],
        ["dlq", "ls"],
        ["show", "c0ffee01"],
        ["kpis"],
    ):
        every = vars(build_parser().parse_args(argv))
        assert vars(build_parser(commands_named(argv)).parse_args(argv)) == every, argv
    assert commands_named(["--db", "x.db", "runs"]) == ("runs",)
    assert commands_named(["--repo", "/r"]) == ()
    # When the command is not plain to see, every parser is built: help lists them all.
    for argv in (["--help"], ["--version"], ["--rep", "/r", "runs"], ["nonsense"]):
        assert commands_named(argv) is None


def test_the_parsers_lists_match_what_they_name():
    assert tuple(ENGINES) == ENGINE_NAMES
    assert tuple(RunStatus) == RUN_STATUSES
    assert tuple(DeadLetterStatus) == LETTER_STATUSES
    # The listing also takes "all", which is no issue's state.
    assert (*IssueState, "all") == ISSUE_STATES


def test_the_dashboard_imports_the_screen_it_opens_on_alone(tmp_path: Path):
    """The other screens, the command palette's commands, the help panel's Markdown,
    the runtime and what only running a step needs (yaml, tenacity, psutil) are imported
    when first used, not before the first frame."""
    code = "import json, sys, adw_tui.tui.app; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True, timeout=120
    )
    imported = _packages(json.loads(done.stdout))
    assert "adw_tui.tui.screens.dashboard" in imported
    screens = {name for name in imported if name.startswith("adw_tui.tui.screens.")}
    assert screens == {"adw_tui.tui.screens.base", "adw_tui.tui.screens.dashboard"}
    assert not imported & {"markdown_it", "pygments", "yaml", "tenacity", "psutil"}
    assert not imported & {"adw_tui.runtime.best_of", "adw_tui.runtime.executor"}
    assert not imported & {"adw_tui.runtime.orchestrator", "adw_tui.agents.registry"}
    assert not imported & {"adw_tui.tui.commands", "adw_tui.tui.replay"}


FIRST_FRAME_RUNNER = """
import json, sys
from adw_tui.cli import main
at_first_frame = None
def on_audit(event, args):
    global at_first_frame
    # `adw` configures its logs just after the dashboard's first frame (cli.commands.tui).
    if event == "import" and args[0] == "adw_tui.observability.logs" and at_first_frame is None:
        at_first_frame = sorted(sys.modules)
sys.addaudithook(on_audit)
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump({"code": code, "at_first_frame": at_first_frame, "modules": sorted(sys.modules)}, out)
"""


def test_the_dashboard_draws_its_first_frame_before_importing_the_runtime(
    repo: Path, repo_db: RepoDatabase
):
    """`adw` on a real terminal: the runs table is drawn from the store before the
    orchestrator, the engines, git's and psutil's modules are imported; they are
    imported after (the orchestrator is made just after the first frame)."""

    async def one_run() -> None:
        async with await Store.open(repo_db.of(repo)) as store:
            await store.create_run({"adw_id": "c0ffee01"}, workflow="sdlc", actor="t")

    asyncio.run(one_run())
    report = repo / "modules.json"
    child = PtyChild(
        [sys.executable, "-c", FIRST_FRAME_RUNNER, str(report)],
        cwd=repo,
        env={"ADW_CONFIG_DIR": str(repo / "config")},
    )
    seen = b""
    try:
        for data in child.output(60):
            seen += data
            if b"c0ffee01" in seen:
                child.type(b"q")
                break
        for _ in child.output(60):
            pass
    finally:
        assert child.close() == 0
    found = json.loads(report.read_text())
    assert found["code"] == 0
    at_first_frame, modules = _packages(found["at_first_frame"]), _packages(found["modules"])
    runtime = {
        "psutil",
        "adw_tui.runtime.orchestrator",
        "adw_tui.runtime.recovery",
        "adw_tui.runtime.git",
        "adw_tui.agents.registry",
        "adw_tui.workflows.loader",
    }
    assert not at_first_frame & runtime, at_first_frame & runtime
    assert runtime <= modules
