"""`adw prompt`'s head start: the agent started before adw's imports is the one the call
runs, or it is ended having been given nothing to do."""

import json
import subprocess
import sys
import time
from pathlib import Path

from adw_tui.agents.spawn import give_prompt, spawn_agent
from adw_tui.cli.commands.prompt import run_prompt
from adw_tui.cli.commands.prompt_start import EarlyAgent, start_agent
from adw_tui.cli.context import CliContext
from adw_tui.cli.parser import build_parser

ADW = Path(sys.executable).parent / "adw"


def test_the_call_runs_the_agent_started_ahead(repo: Path):
    args = build_parser().parse_args(
        ["--repo", str(repo), "prompt", "--engine", "sim", "--cwd", str(repo), "hello"]
    )
    early = start_agent(args)
    assert early is not None
    assert early.argv[:3] == [sys.executable, "-m", "adw_tui.agents.sim"]
    code = run_prompt(args, CliContext.from_args(args, early))
    assert code == 0
    assert early.taken
    [run_dir] = (repo / "agents").glob("*/ops")
    lines = (run_dir / "raw_output.jsonl").read_text().splitlines()
    assert [json.loads(lines[0])["type"], json.loads(lines[-1])["type"]] == ["system", "result"]


def test_a_bad_setting_ends_the_agent_before_its_prompt(repo: Path):
    done = subprocess.run(
        [str(ADW), "prompt", "--engine", "sim", "hello"],
        cwd=repo,
        env={"PATH": "/usr/bin:/bin", "HOME": str(repo), "ADW_MAX_CONCURRENT": "0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "invalid setting max_concurrent" in done.stderr
    assert not (repo / "agents").exists()


def _sleeper(tmp_path: Path, handover_s: float = 60.0) -> EarlyAgent:
    argv = ["sleep", "30"]
    process = subprocess.Popen(argv, cwd=tmp_path, start_new_session=True, stdin=subprocess.PIPE)
    return EarlyAgent(argv, tmp_path, {}, process, handover_s)


def test_a_different_command_is_not_taken_and_the_agent_is_ended(tmp_path: Path):
    early = _sleeper(tmp_path)
    process = early.process
    assert process is not None
    assert early.take(["sleep", "31"], tmp_path, {}) is None
    assert process.returncode == -9
    assert not early.taken
    same = _sleeper(tmp_path)
    taken = same.take(["sleep", "30"], tmp_path, {})
    assert taken is not None
    assert same.taken
    taken.kill()
    taken.communicate()


def test_an_agent_not_taken_in_time_is_ended(tmp_path: Path):
    """Claude Code waits 3 s for its prompt: a head start is ended sooner than that."""
    early = _sleeper(tmp_path, handover_s=0.2)
    process = early.process
    assert process is not None
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.returncode == -9
    assert early.take(["sleep", "30"], tmp_path, {}) is None


def test_a_prompt_bigger_than_the_pipe_reaches_the_agent_whole(tmp_path: Path):
    """The head start's prompt is written by a thread: `cat` echoes 300 KB back while it
    is still being written, as an agent reads its prompt while adw reads its output."""
    process = spawn_agent(["cat"], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, stdin=True)
    prompt = bytes(range(256)) * 1200
    give_prompt(process, prompt)
    assert process.stdin is None
    out, _ = process.communicate(timeout=30)
    assert out == prompt
