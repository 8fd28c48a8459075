"""The Claude Code engine around a real subprocess: files, environment, time limits and
process-tree cleanup. A small shell script plays the CLI so each behaviour is exact."""

import asyncio
import fcntl
import os
import re
import signal
import stat
from collections.abc import Mapping
from contextlib import aclosing
from pathlib import Path

import psutil
import pytest

from adw_tui.agents.claude_code import ClaudeCodeEngine
from adw_tui.agents.process import adopt
from adw_tui.agents.spawn import STDOUT_PIPE_BYTES, spawn_agent
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentRequest, AgentResult, ErrorClass

FIXTURES = Path(__file__).parent.parent / "fixtures" / "claude"
INIT = '{"type":"system","subtype":"init","session_id":"s-1","model":"m"}'
RESULT = '{"type":"result","subtype":"success","is_error":false,"result":"ok","num_turns":1}'

SCRIPT = f"""#!/bin/sh
# Plays Claude Code for the engine tests; FAKE_MODE picks the behaviour.
echo "$@" > "$FAKE_ARGS_FILE"
case "$FAKE_MODE" in
  replay) cat "$FAKE_TRANSCRIPT"; exit "${{FAKE_EXIT:-0}}" ;;
  env) env > "$FAKE_ENV_FILE"; echo '{RESULT}' ;;
  stdin) cat > "$FAKE_STDIN_FILE"; echo '{RESULT}' ;;
  hang) sleep 300 & sleep 300 & echo "$!" > "$FAKE_PIDS_FILE"; echo '{INIT}'; wait ;;
  chatty) echo '{INIT}'
    while true; do echo '{{"type":"system","subtype":"tick"}}'; sleep 0.05; done ;;
  crash) echo '{INIT}'; echo "fatal: something broke" >&2; exit 3 ;;
  leave-child) echo '{INIT}'; (sleep 300 & echo "$!" > "$FAKE_PIDS_FILE") ; echo '{RESULT}' ;;
esac
"""


@pytest.fixture
def fake_cli(tmp_path: Path) -> Path:
    path = tmp_path / "fake-claude"
    path.write_text(SCRIPT)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def make_engine(fake_cli: Path, tmp_path: Path, mode: str, **env: str) -> ClaudeCodeEngine:
    environ = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "FAKE_MODE": mode,
        "FAKE_ARGS_FILE": str(tmp_path / "args.txt"),
        "FAKE_ENV_FILE": str(tmp_path / "env.txt"),
        "FAKE_PIDS_FILE": str(tmp_path / "pids.txt"),
        "FAKE_STDIN_FILE": str(tmp_path / "stdin.txt"),
        **env,
    }
    return ClaudeCodeEngine(
        binary=str(fake_cli), environ=environ, extra_env=["FAKE_*"], kill_grace_s=0.5
    )


def make_request(tmp_path: Path, **fields: object) -> AgentRequest:
    cwd = tmp_path / "work"
    cwd.mkdir(exist_ok=True)
    values: dict[str, object] = {
        "prompt": "/implement specs/plan.md",
        "adw_id": "0123abcd",
        "agent_name": "sdlc_implementor",
        "cwd": cwd,
        "output_dir": tmp_path / "agents",
        **fields,
    }
    return AgentRequest.model_validate(values)


async def collect(
    engine: ClaudeCodeEngine, request: AgentRequest
) -> tuple[list[AgentEvent], AgentResult]:
    items = [item async for item in engine.run(request)]
    *events, result = items
    assert isinstance(result, AgentResult)
    assert all(isinstance(event, AgentEvent) for event in events)
    return events, result  # type: ignore[return-value]


async def test_replay_writes_raw_output_and_prompt(fake_cli: Path, tmp_path: Path):
    transcript = FIXTURES / "claude-2.1.328-tool-call-success.jsonl"
    engine = make_engine(fake_cli, tmp_path, "replay", FAKE_TRANSCRIPT=str(transcript))
    request = make_request(tmp_path)

    events, result = await collect(engine, request)

    assert result.success
    assert result.session_id == "4e7e39c1-1413-4420-bf09-58043dd99bcd"
    assert events[0].kind is AgentEventKind.INIT
    run_dir = tmp_path / "agents" / "0123abcd" / "sdlc_implementor"
    assert (run_dir / "raw_output.jsonl").read_bytes() == transcript.read_bytes()
    assert (run_dir / "prompts" / "implement.txt").read_text() == "/implement specs/plan.md"


async def test_command_line(fake_cli: Path, tmp_path: Path):
    engine = make_engine(fake_cli, tmp_path, "env")
    request = make_request(tmp_path, model="opus", max_turns=7, resume_session_id="s-9")
    (request.cwd / ".mcp.json").write_text("{}")
    await collect(engine, request)
    args = (tmp_path / "args.txt").read_text().split()
    assert args[:2] == ["-p", "--model"]  # the prompt goes to stdin, not on the command line
    assert "/implement" not in args
    for flag in ("--output-format stream-json", "--model opus", "--max-turns 7", "--resume s-9"):
        assert flag in " ".join(args)
    assert "--verbose" in args
    assert "--dangerously-skip-permissions" in args
    assert f"--mcp-config {request.cwd / '.mcp.json'}" in " ".join(args)
    careful = ClaudeCodeEngine(binary=str(fake_cli), permission_mode="acceptEdits")
    argv = careful.command(make_request(tmp_path))
    assert "--dangerously-skip-permissions" not in argv
    assert argv[argv.index("--permission-mode") + 1] == "acceptEdits"


async def test_environment_is_allow_listed(fake_cli: Path, tmp_path: Path):
    engine = make_engine(
        fake_cli,
        tmp_path,
        "env",
        ANTHROPIC_BASE_URL="http://127.0.0.1:9",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        AWS_SECRET_ACCESS_KEY="leak-me-not",
        OPENAI_API_KEY="leak-me-not",
    )
    await collect(engine, make_request(tmp_path))
    seen = dict(
        line.split("=", 1)
        for line in (tmp_path / "env.txt").read_text().splitlines()
        if "=" in line
    )
    assert seen["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"
    assert seen["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert seen["FAKE_MODE"] == "env"
    assert "AWS_SECRET_ACCESS_KEY" not in seen
    assert "OPENAI_API_KEY" not in seen


def group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


async def test_idle_timeout_kills_the_whole_tree(fake_cli: Path, tmp_path: Path):
    engine = make_engine(fake_cli, tmp_path, "hang")
    request = make_request(tmp_path, idle_timeout_s=0.5, timeout_s=30)

    events, result = await collect(engine, request)

    assert events[0].kind is AgentEventKind.INIT
    assert result.error_class is ErrorClass.IDLE_TIMEOUT
    assert "no-output timeout" in result.error_message
    child = int((tmp_path / "pids.txt").read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


async def test_total_timeout_fires_although_output_keeps_coming(fake_cli: Path, tmp_path: Path):
    engine = make_engine(fake_cli, tmp_path, "chatty")
    request = make_request(tmp_path, idle_timeout_s=5, timeout_s=0.6)
    loop = asyncio.get_running_loop()
    started = loop.time()

    events, result = await collect(engine, request)

    assert result.error_class is ErrorClass.TIMEOUT
    assert loop.time() - started < 5
    assert len(events) > 3


async def test_closing_the_stream_early_kills_the_agent(fake_cli: Path, tmp_path: Path):
    engine = make_engine(fake_cli, tmp_path, "hang")
    async with aclosing(engine.run(make_request(tmp_path))) as stream:
        async for event in stream:
            assert isinstance(event, AgentEvent)
            break
    child = int((tmp_path / "pids.txt").read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


async def test_crash_without_result_keeps_the_stderr_tail(fake_cli: Path, tmp_path: Path):
    _, result = await collect(make_engine(fake_cli, tmp_path, "crash"), make_request(tmp_path))
    assert result.error_class is ErrorClass.CRASHED
    assert result.exit_code == 3
    assert "fatal: something broke" in result.stderr_tail
    assert "fatal: something broke" in result.error_message


async def test_children_left_behind_after_success_are_reaped(fake_cli: Path, tmp_path: Path):
    _, result = await collect(
        make_engine(fake_cli, tmp_path, "leave-child"), make_request(tmp_path)
    )
    assert result.success
    child = int((tmp_path / "pids.txt").read_text())  # the agent's own orphaned `sleep`
    async with asyncio.timeout(2):
        while not gone(child):  # noqa: ASYNC110 - polls another process
            await asyncio.sleep(0.02)


async def test_stopping_after_the_agent_exited_still_ends_what_it_left_running(
    fake_cli: Path, tmp_path: Path
):
    """The agent exited, a child it left behind holds stdout open: a caller that stops
    listening then (a pause, a cancel) must not leave that child running."""
    engine = make_engine(fake_cli, tmp_path, "leave-child")
    leader: list[int] = []
    async with aclosing(engine.run(make_request(tmp_path), on_start=leader.append)) as stream:
        async for _ in stream:
            async with asyncio.timeout(5):
                while not gone(leader[0]):  # noqa: ASYNC110 - polls another process
                    await asyncio.sleep(0.02)
            break
    child = int((tmp_path / "pids.txt").read_text())
    async with asyncio.timeout(2):
        while not gone(child):  # noqa: ASYNC110 - polls another process
            await asyncio.sleep(0.02)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_missing_binary_is_not_installed(tmp_path: Path):
    environ: Mapping[str, str] = {"PATH": str(tmp_path)}
    engine = ClaudeCodeEngine(environ=environ)
    assert "not found" in (engine.check_installed() or "")
    _, result = await collect(engine, make_request(tmp_path))
    assert result.error_class is ErrorClass.NOT_INSTALLED
    assert "npm install" in result.error_message
    assert not result.transient


async def test_the_prompt_goes_through_stdin_whatever_its_size(fake_cli: Path, tmp_path: Path):
    # Over Linux's 128 KiB for one argument: as an argument this could never start.
    prompt = "/implement " + "é\r\n" * 100_000
    engine = make_engine(fake_cli, tmp_path, "stdin")
    _, result = await collect(engine, make_request(tmp_path, prompt=prompt))
    assert result.success, result
    assert (tmp_path / "stdin.txt").read_bytes() == prompt.encode()
    assert prompt not in (tmp_path / "args.txt").read_text()


async def test_an_agent_that_never_reads_its_prompt_still_ends(fake_cli: Path, tmp_path: Path):
    # `crash` exits without reading stdin: the rest of a prompt larger than the pipe's
    # buffer cannot be written, which is not the failure to report.
    prompt = "/implement " + "x" * 1_000_000
    engine = make_engine(fake_cli, tmp_path, "crash")
    _, result = await collect(engine, make_request(tmp_path, prompt=prompt))
    assert result.error_class is ErrorClass.CRASHED
    assert result.exit_code == 3


async def test_an_environment_over_the_system_limit_is_prompt_too_long(
    fake_cli: Path, tmp_path: Path
):
    engine = make_engine(fake_cli, tmp_path, "env", FAKE_HUGE="x" * 200_000)
    _, result = await collect(engine, make_request(tmp_path))
    assert result.error_class is ErrorClass.PROMPT_TOO_LONG
    size = re.search(r"environment \((\d+) bytes\)", result.error_message)
    assert size is not None, result.error_message
    assert 200_000 < int(size[1]) < 210_000
    assert "E2BIG" in result.error_message
    assert not result.transient


async def test_a_missing_working_directory_is_worktree_missing(fake_cli: Path, tmp_path: Path):
    engine = make_engine(fake_cli, tmp_path, "env")
    gone = tmp_path / "trees" / "0123abcd"
    _, result = await collect(engine, make_request(tmp_path, cwd=gone))
    assert result.error_class is ErrorClass.WORKTREE_MISSING
    assert str(gone) in result.error_message


async def test_claude_code_path_chooses_the_binary(fake_cli: Path, tmp_path: Path):
    engine = ClaudeCodeEngine(environ={"CLAUDE_CODE_PATH": str(fake_cli), "PATH": "/nowhere"})
    assert engine.check_installed() is None
    assert engine.command(make_request(tmp_path))[0] == str(fake_cli)
    assert engine.environment() == {"CLAUDE_CODE_PATH": str(fake_cli), "PATH": "/nowhere"}


def test_the_agents_stdout_pipe_holds_a_long_line_whole(tmp_path: Path) -> None:
    """A CLI that exits at once after writing loses what the pipe could not hold: the pipe
    gets 1 MiB, where Linux allows it (its default pipe-max-size)."""
    if not hasattr(fcntl, "F_GETPIPE_SZ"):
        pytest.skip("pipe sizes are Linux's")
    process = spawn_agent(["sleep", "5"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    try:
        assert process.stdout is not None
        size = fcntl.fcntl(process.stdout.fileno(), fcntl.F_GETPIPE_SZ)
        ceiling = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        assert size == min(STDOUT_PIPE_BYTES, ceiling)
    finally:
        process.kill()
        process.communicate()


async def test_an_agent_cancelled_before_it_is_adopted_is_killed(tmp_path: Path) -> None:
    """A pause or a shutdown can cancel a call between the agent's start and its pipes'
    hand-over to the event loop: the agent must not be left running, unowned."""
    process = spawn_agent(["sleep", "30"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, stdin=True)
    adopting = asyncio.ensure_future(adopt(process))
    await asyncio.sleep(0)  # adopt is now waiting for its first pipe's hand-over
    adopting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await adopting
    assert process.returncode == -signal.SIGKILL
    assert process.stdout is not None
    assert process.stdout.closed
