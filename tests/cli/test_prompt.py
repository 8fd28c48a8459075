"""`adw prompt` end to end: the console script, the simulated agent, real files."""

import json
import os
import subprocess
import sys
from pathlib import Path

ADW = Path(sys.executable).parent / "adw"
ISSUE = '{"number": 3, "title": "Add a greeting helper", "body": "Say hello."}'


def adw(repo: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ADW_", "CLAUDE_CODE_PATH"))
    }
    environ.update(ADW_SIM_STATE_DIR=str(repo.parent / "sim-state"), COLUMNS="200", **env)
    return subprocess.run(
        [str(ADW), *argv],
        cwd=repo,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sim_prompt_shows_the_transcript_and_writes_the_run_files(repo: Path):
    done = adw(repo, "prompt", "--engine", "sim", f"/feature 3 abcd1234 {ISSUE}")
    assert done.returncode == 0, done.stderr
    plan = "specs/issue-3-adw-abcd1234-sdlc_planner-add-a-greeting-helper.md"
    assert f"→ Write {plan}" in done.stdout
    assert "← ok: File created successfully" in done.stdout
    assert "✔ done in 2 turns" in done.stdout
    assert (repo / plan).is_file()
    [run_dir] = (repo / "agents").glob("*/ops")
    assert (run_dir / "prompts" / "feature.txt").read_text().startswith("/feature 3 abcd1234")
    lines = (run_dir / "raw_output.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["type"] == "system"
    assert json.loads(lines[-1])["type"] == "result"


def test_json_prints_the_result_and_sends_the_transcript_to_stderr(repo: Path):
    done = adw(
        repo,
        "prompt",
        "--engine",
        "sim",
        "--agent-name",
        "issue_classifier",
        "--json",
        f"/classify_issue {ISSUE}",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["success"] is True
    assert result["output"] == "/feature"
    assert result["error_class"] == "none"
    assert result["cost_usd"] > 0
    assert "✔ done" in done.stderr
    assert list((repo / "agents").glob("*/issue_classifier/raw_output.jsonl"))


def test_failure_exits_1_naming_the_error_class(repo: Path):
    done = adw(
        repo, "prompt", "--engine", "sim", "/implement plan.md", ADW_SIM_FAULTS="implement=auth"
    )
    assert done.returncode == 1
    assert "✖ failed: auth (permanent)" in done.stdout
    assert "Traceback" not in done.stderr


def test_idle_timeout_is_reported(repo: Path):
    done = adw(
        repo,
        "prompt",
        "--engine",
        "sim",
        "--idle-timeout",
        "0.5",
        "/implement plan.md",
        ADW_SIM_FAULTS="implement=hang",
        ADW_KILL_GRACE="0.2",
    )
    assert done.returncode == 1
    assert "idle_timeout (transient)" in done.stdout


def test_missing_claude_binary_is_a_clear_failure(repo: Path):
    done = adw(repo, "prompt", "hello", CLAUDE_CODE_PATH=str(repo / "no-such-claude"))
    assert done.returncode == 1
    assert "not_installed" in done.stdout
    assert "npm install -g @anthropic-ai/claude-code" in done.stdout


def test_bad_arguments(repo: Path):
    assert adw(repo, "prompt", "--engine", "gpt", "hi").returncode == 2
    assert adw(repo, "prompt", "--timeout", "-1", "hi").returncode == 2
    missing = adw(repo, "prompt", "--engine", "sim", "--cwd", "nowhere", "hi")
    assert missing.returncode == 1
    assert "--cwd nowhere: no such directory" in missing.stderr
