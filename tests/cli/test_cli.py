"""The `adw` command: its output, JSON shapes, exit codes and one-line errors."""

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from adw_tui.cli import main
from adw_tui.domain.models import NewDeadLetter
from adw_tui.store import Store
from tests.conftest import RepoDatabase, location_argument

RUN_ID = "c0ffee01"
RUN_KEYS = {"adw_id", "issue", "workflow", "status", "step", "version", "cost_usd", "updated_at"}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real git repository as the working directory."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo)
    return repo


@pytest.fixture
def seeded(repo: Path, repo_db: RepoDatabase) -> Path:
    """The repo's database holding one run with three versions and a dead letter."""

    async def seed() -> None:
        async with await Store.open(repo_db.of(repo)) as store:
            await store.create_run(
                {"adw_id": RUN_ID, "issue_number": "7"}, workflow="sdlc", issue="7", actor="t"
            )
            await store.save(RUN_ID, {"issue_number": "7", "branch_name": "feat-a"}, 1, "plan", "t")
            await store.save(
                RUN_ID, {"issue_number": "7", "branch_name": "feat-b", "x": 1}, 2, "build", "t"
            )
            await store.dead_letters.add(
                NewDeadLetter(
                    adw_id=RUN_ID,
                    workflow="sdlc",
                    step="build",
                    state_version=3,
                    error_class="rate_limit",
                    error_message="429 from the API",
                    attempts=3,
                    request={"prompt": "/implement"},
                ),
                actor="t",
            )

    asyncio.run(seed())
    return repo


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_runs_json_has_the_contract_keys(seeded: Path, capsys: pytest.CaptureFixture[str]):
    rows = run_json(capsys, "runs", "--json")
    assert isinstance(rows, list)
    assert [set(row) for row in rows] == [RUN_KEYS]
    assert rows[0]["adw_id"] == RUN_ID
    assert rows[0]["status"] == "dead_lettered"
    assert rows[0]["version"] == 3


def test_runs_without_a_database_is_empty_and_creates_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
):
    assert run_json(capsys, "runs", "--json") == []
    assert main(["runs"]) == 0
    assert "No runs yet" in capsys.readouterr().out
    assert not (repo / "agents").exists()


def test_show_prints_run_and_state(seeded: Path, capsys: pytest.CaptureFixture[str]):
    shown = run_json(capsys, "show", RUN_ID, "--json")
    assert isinstance(shown, dict)
    assert set(shown) >= RUN_KEYS
    assert shown["state"]["branch_name"] == "feat-b"
    assert main(["show", RUN_ID]) == 0
    assert "feat-b" in capsys.readouterr().out


def test_history_is_newest_first(seeded: Path, capsys: pytest.CaptureFixture[str]):
    versions = run_json(capsys, "history", RUN_ID, "--json")
    assert isinstance(versions, list)
    assert [(v["version"], v["parent"], v["reason"]) for v in versions] == [
        (3, 2, "build"),
        (2, 1, "plan"),
        (1, None, "run created"),
    ]
    assert set(versions[0]) == {"version", "parent", "created_at", "reason", "actor", "git_head"}


def test_diff_is_readable(seeded: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["diff", RUN_ID, "2", "3"]) == 0
    out = capsys.readouterr().out
    assert '~ branch_name: "feat-a" → "feat-b"' in out
    assert "+ x: 1" in out
    assert main(["diff", RUN_ID, "3", "3"]) == 0
    assert "no differences" in capsys.readouterr().out


def test_rollback_with_yes_forks_and_prints_the_new_version(
    seeded: Path, capsys: pytest.CaptureFixture[str]
):
    assert main(["rollback", RUN_ID, "2", "--yes"]) == 0
    assert "new version 4" in capsys.readouterr().out
    versions = run_json(capsys, "history", RUN_ID, "--json")
    assert isinstance(versions, list)
    assert (versions[0]["version"], versions[0]["parent"]) == (4, 2)
    shown = run_json(capsys, "show", RUN_ID, "--json")
    assert isinstance(shown, dict)
    assert shown["state"]["branch_name"] == "feat-a"


def test_rollback_without_confirmation_writes_nothing(
    seeded: Path, capsys: pytest.CaptureFixture[str]
):
    assert main(["rollback", RUN_ID, "1"]) == 1
    assert "not confirmed" in capsys.readouterr().err
    versions = run_json(capsys, "history", RUN_ID, "--json")
    assert isinstance(versions, list)
    assert len(versions) == 3


def test_dlq_ls_show_drop(seeded: Path, capsys: pytest.CaptureFixture[str]):
    letters = run_json(capsys, "dlq", "ls", "--json")
    assert isinstance(letters, list)
    assert [(letter["id"], letter["error_class"]) for letter in letters] == [(1, "rate_limit")]
    letter = run_json(capsys, "dlq", "show", "1", "--json")
    assert isinstance(letter, dict)
    assert letter["request"] == {"prompt": "/implement"}
    assert main(["dlq", "drop", "1"]) == 0
    capsys.readouterr()
    assert run_json(capsys, "dlq", "ls", "--json") == []
    kept = run_json(capsys, "dlq", "ls", "--all", "--json")
    assert isinstance(kept, list)
    assert [letter["status"] for letter in kept] == ["dropped"]
    assert main(["dlq", "drop", "1"]) == 1
    assert "already dropped" in capsys.readouterr().err


def test_dlq_replay_all_takes_only_the_letters_the_filters_match(
    seeded: Path, capsys: pytest.CaptureFixture[str]
):
    for narrowing in (["--error-class", "auth"], ["--workflow", "plan"]):
        assert main(["dlq", "replay", "--all", *narrowing]) == 0
        assert "No pending dead letters match" in capsys.readouterr().out
    letters = run_json(capsys, "dlq", "ls", "--json")
    assert isinstance(letters, list)
    assert [letter["status"] for letter in letters] == ["pending"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "deadbeef"], "run deadbeef not found"),
        (["history", "deadbeef"], "run deadbeef not found"),
        (["diff", RUN_ID, "1", "9"], "has no state version 9"),
        (["rollback", RUN_ID, "9", "--yes"], "has no state version 9"),
        (["dlq", "show", "99"], "dead letter 99 not found"),
        (["dlq", "drop", "99"], "dead letter 99 not found"),
    ],
)
def test_failures_exit_1_with_one_line(
    seeded: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
):
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_outside_a_repository_names_the_remedy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(tmp_path)
    assert main(["show", RUN_ID]) == 1
    assert "not inside a git repository" in capsys.readouterr().err
    assert main(["--db", str(tmp_path / "x.db"), "show", RUN_ID]) == 1
    assert "no adw database" in capsys.readouterr().err


def test_db_option_and_environment_choose_the_database(
    seeded: Path,
    repo_db: RepoDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    monkeypatch.delenv("ADW_DB", raising=False)
    monkeypatch.chdir(tmp_path)  # not the repository: its database is found by --db alone
    assert run_json(capsys, "--db", location_argument(repo_db.of(seeded)), "runs", "--json")
    monkeypatch.setenv("ADW_DB", str(tmp_path / "empty.db"))
    assert run_json(capsys, "runs", "--json") == []
    monkeypatch.setenv("ADW_BUSY_TIMEOUT", "soon")
    assert main(["runs"]) == 2
    assert "ADW_BUSY_TIMEOUT" in capsys.readouterr().err


def test_corrupt_database_is_reported_and_left_alone(
    repo: Path, capsys: pytest.CaptureFixture[str]
):
    db = repo / "agents" / "adw_state.db"
    db.parent.mkdir()
    db.write_bytes(b"this is not sqlite" * 100)
    assert main(["show", RUN_ID]) == 1
    err = capsys.readouterr().err
    assert str(db) in err
    assert "cannot be read" in err
    assert main(["doctor", "--json"]) == 1
    checks = {check["name"]: check for check in json.loads(capsys.readouterr().out)}
    assert checks["database"]["level"] == "fail"
    assert db.read_bytes() == b"this is not sqlite" * 100


CLI_VARIABLES = {
    "claude": ("CLAUDE_CODE_PATH", "2.1.328 (Claude Code)", "@anthropic-ai/claude-code"),
    "codex": ("ADW_CODEX_PATH", "codex-cli 0.171.0", "@openai/codex"),
    "gemini": ("ADW_GEMINI_PATH", "0.61.0", "@google/gemini-cli"),
    "opencode": ("ADW_OPENCODE_PATH", "1.18.33", "opencode-ai"),
}


@pytest.fixture
def fake_clis(seeded: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Every agent CLI `adw doctor` checks, as a script printing its version (the real
    ones cost seconds of CPU each to say it)."""
    scripts = {}
    for name, (variable, version, _package) in CLI_VARIABLES.items():
        script = seeded / "bin" / name
        script.parent.mkdir(exist_ok=True)
        script.write_text(f"#!/bin/sh\necho '{version}'\n")
        script.chmod(0o755)
        monkeypatch.setenv(variable, str(script))
        scripts[name] = script
    return scripts


def test_doctor_reports_each_check(
    fake_clis: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--json"]) == 0
    checks = {check["name"]: check for check in json.loads(capsys.readouterr().out)}
    assert set(checks) == {
        "git",
        "claude",
        "codex",
        "gemini",
        "opencode",
        "gh",
        "repository",
        "database",
        "disk",
    }
    assert checks["git"]["level"] == "ok"
    assert checks["database"]["level"] == "ok"
    assert "1 runs, 1 pending dead letters" in checks["database"]["detail"]
    for name, script in fake_clis.items():
        version = CLI_VARIABLES[name][1]
        assert checks[name] == {"name": name, "level": "ok", "detail": f"{version} ({script})"}


def test_doctor_says_how_to_install_a_missing_agent_cli(
    fake_clis: dict[str, Path],
    seeded: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable, _version, _package in CLI_VARIABLES.values():
        monkeypatch.setenv(variable, str(seeded / "bin" / "nothing"))
    assert main(["doctor", "--json"]) == 0  # warnings: only their engines need them
    checks = {check["name"]: check for check in json.loads(capsys.readouterr().out)}
    for name, (variable, _version, package) in CLI_VARIABLES.items():
        assert checks[name]["level"] == "warn"
        assert f"npm install -g {package}" in checks[name]["detail"]
        assert variable in checks[name]["detail"]


def test_migrate_imports_and_reports(
    repo: Path, repo_db: RepoDatabase, capsys: pytest.CaptureFixture[str]
):
    good = repo / "agents" / "a1b2c3d4" / "adw_state.json"
    good.parent.mkdir(parents=True)
    good.write_text(json.dumps({"adw_id": "a1b2c3d4", "issue_number": 3}))
    bad = repo / "agents" / "b1b2c3d4" / "adw_state.json"
    bad.parent.mkdir()
    bad.write_text("{")
    assert main(["migrate"]) == 0
    out = capsys.readouterr().out
    assert "1 imported" in out
    assert "1 corrupt" in out
    assert main(["migrate", "--json"]) == 0
    outcomes = {r["adw_id"]: r["outcome"] for r in json.loads(capsys.readouterr().out)}
    assert outcomes == {"a1b2c3d4": "already_imported", None: "corrupt"}
    assert main(["migrate", "--from", str(repo / "missing")]) == 1
    assert "no such directory" in capsys.readouterr().err


def test_console_script_usage_errors_exit_2(repo: Path):
    adw = Path(sys.executable).parent / "adw"
    for argv in (["bogus"], ["show", "NOTANID"], ["diff", RUN_ID, "one", "2"]):
        completed = subprocess.run([adw, *argv], capture_output=True, text=True, check=False)
        assert completed.returncode == 2, argv
        assert completed.stderr.startswith("adw: error:"), completed.stderr
        assert len(completed.stderr.strip().splitlines()) == 1
        assert "Traceback" not in completed.stderr


def test_a_reader_that_stops_early_ends_adw_quietly(seeded: Path):
    """`adw runs | head -0`: stdout is closed before adw writes; no error, no traceback."""
    adw = Path(sys.executable).parent / "adw"
    process = subprocess.Popen(
        [adw, "history", RUN_ID], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 141
    assert err == ""


@pytest.mark.sqlite_only
def test_reads_do_not_wait_for_another_process_holding_the_write_lock(
    seeded: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    """`runs` and `show` read a WAL snapshot: a writer in the middle of its transaction
    (another adw, held here by a plain sqlite3 connection) does not hold them up."""
    monkeypatch.setenv("ADW_BUSY_TIMEOUT", "0.2")
    writer = sqlite3.connect(seeded / "agents" / "adw_state.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        runs = run_json(capsys, "runs", "--json")
        assert isinstance(runs, list)
        assert [run["adw_id"] for run in runs] == [RUN_ID]
        assert main(["show", RUN_ID]) == 0
        assert RUN_ID in capsys.readouterr().out
    finally:
        writer.execute("ROLLBACK")
        writer.close()
