"""`adw run` and `adw demo` through the console script, with the simulated agent."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import adw_environment

ADW = Path(sys.executable).parent / "adw"


def adw(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = adw_environment(ADW_RETRY_INITIAL="0.01", COLUMNS="200", **env)
    return subprocess.run(
        [str(ADW), *argv], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_demo_runs_five_issues_and_dead_letters_one(tmp_path: Path):
    demo = tmp_path / "demo"
    done = adw(tmp_path, "demo", "--headless", "--dir", str(demo))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("succeeded") == 4
    assert done.stdout.count("dead_lettered") == 1
    runs = json.loads(adw(demo, "runs", "--json").stdout)
    assert sorted(run["status"] for run in runs) == ["dead_lettered"] + ["succeeded"] * 4
    letters = json.loads(adw(demo, "dlq", "ls", "--json").stdout)
    assert [letter["error_class"] for letter in letters] == ["auth"]
    again = adw(tmp_path, "demo", "--headless", "--dir", str(demo))
    assert again.returncode == 1
    assert "is not empty" in again.stderr
    nothing = adw(demo, "dlq", "replay", "--all", "--error-class", "rate_limit")
    assert (nothing.returncode, nothing.stdout.strip()) == (
        0,
        "No pending dead letters match; nothing to replay.",
    )
    # The fault was in that run's environment only: replayed, it goes through.
    replayed = adw(demo, "dlq", "replay", "--all", "--error-class", "auth", "--workflow", "sdlc")
    assert replayed.returncode == 0, replayed.stderr[-2000:]
    assert "succeeded" in replayed.stdout
    assert json.loads(adw(demo, "dlq", "ls", "--json").stdout) == []
    shown = adw(demo, "dlq", "show", "1")
    assert "replay 1" in shown.stdout
    twice = adw(demo, "dlq", "replay", "1")
    assert (twice.returncode, twice.stderr.strip()) == (
        1,
        "adw: error: dead letter 1 is already replayed",
    )
    assert adw(demo, "dlq", "replay").returncode == 2


@pytest.mark.usefixtures("repo_db")
def test_run_shows_progress_and_prints_the_run_as_json(sample_repo: Path):
    demo = sample_repo
    created = adw(demo, "issue", "new", "--title", "Add a slugify helper", "--body", "Slugs.")
    assert created.returncode == 0, created.stderr
    done = adw(demo, "run", "1", "--workflow", "plan_build", "--engine", "sim", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    run = json.loads(done.stdout)
    assert run["status"] == "succeeded"
    assert [step["step"] for step in run["timeline"]][:3] == ["classify", "name_branch", "worktree"]
    assert run["state"]["plan_file"].startswith("specs/issue-1-adw-")
    assert "▶ implement sdlc_implementor" in done.stderr
    assert "→ Write" in done.stderr
    unknown = adw(demo, "run", "9", "--engine", "sim")
    assert unknown.returncode == 1
    assert "issue 9 not found" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1


@pytest.mark.usefixtures("repo_db")
def test_adw_max_issue_bytes_caps_what_prompts_quote_of_the_body(sample_repo: Path):
    body = sample_repo / "body.md"
    body.write_text("Slugs for every title. " * 200)  # 4600 bytes
    created = adw(sample_repo, "issue", "new", "--title", "Slugify", "--body-file", str(body))
    assert created.returncode == 0, created.stderr
    run = ("run", "1", "--workflow", "plan", "--engine", "sim", "--json")
    done = adw(sample_repo, *run, ADW_MAX_ISSUE_BYTES="1000")
    assert done.returncode == 0, done.stderr[-2000:]
    state = json.loads(done.stdout)["state"]
    marker = "[... truncated: 1000 of 4600 bytes; the full text is in .adw/issue-1.md]"
    assert state["issue_body"] == body.read_text()[:1000] + "\n" + marker
    assert marker in json.loads(state["issue_json"])["body"]
    assert (Path(state["worktree_path"]) / ".adw" / "issue-1.md").read_text() == body.read_text()


def test_run_outside_a_repository(tmp_path: Path):
    done = adw(tmp_path, "run", "1", "--engine", "sim")
    assert done.returncode == 1
    assert "not inside a git repository" in done.stderr


@pytest.mark.usefixtures("repo_db")
def test_two_processes_racing_for_one_queued_run(sample_repo: Path):
    demo = sample_repo
    assert adw(demo, "issue", "new", "--title", "Add a slugify helper").returncode == 0
    # A queued run, as a launch leaves it before any process claims it.
    first = adw(demo, "run", "1", "--workflow", "plan", "--engine", "sim", "--json")
    adw_id = json.loads(first.stdout)["adw_id"]
    rolled = adw(demo, "rollback", adw_id, "1", "--yes")
    assert rolled.returncode == 0, rolled.stderr
    environ = adw_environment(ADW_SIM_DELAY="0.02")
    argv = [str(ADW), "run", "1", "--workflow", "plan", "--engine", "sim", "--adw-id", adw_id]
    racers = [
        subprocess.Popen(
            argv, cwd=demo, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    errors = [racer.communicate(timeout=120)[1] for racer in racers]
    outcomes = sorted(
        (racer.returncode, error) for racer, error in zip(racers, errors, strict=True)
    )
    assert [code for code, _ in outcomes] == [0, 1]
    assert f"run {adw_id} is running by" in outcomes[1][1]
    assert "cancelled" not in outcomes[1][1]  # the loser's run was not cancelled: it runs
    shown = json.loads(adw(demo, "show", adw_id, "--json").stdout)
    assert shown["status"] == "succeeded"
    visits = [entry["step"] for entry in shown["timeline"]]
    # Each step ran once in the first run and once in the replay by the winner: never twice.
    assert visits.count("classify") == 2


@pytest.mark.usefixtures("repo_db")
def test_a_rejected_plan_shows_as_a_failed_step_with_the_reason(sample_repo: Path):
    """The repository's plan templates ask for a section the simulated planner never
    writes: the plan step is shown failed with the output check's reason."""
    commands = sample_repo / ".claude" / "commands"
    commands.mkdir(parents=True)
    for name in ("feature", "bug", "chore"):
        (commands / f"{name}.md").write_text(f"---\nsections: [Rollout]\n---\n# Plan a {name}\n")
    subprocess.run(["git", "add", "-A"], cwd=sample_repo, check=True)
    subprocess.run(["git", "commit", "-qm", "plan templates"], cwd=sample_repo, check=True)
    assert adw(sample_repo, "issue", "new", "--title", "Add a slugify helper").returncode == 0
    done = adw(sample_repo, "run", "1", "--workflow", "plan", "--engine", "sim")
    assert "■ plan failed" in done.stderr, done.stderr[-2000:]
    assert "lacks the `## ` sections: Rollout" in done.stderr
    assert "■ plan succeeded" not in done.stderr
