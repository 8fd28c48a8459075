"""`adw workflows` and `adw workflows show`."""

import json
import subprocess
from pathlib import Path

import pytest

from adw_tui.cli import main

MINE = """\
name: mine
description: Just plan
states:
  plan:
    command: /feature
    agent: sdlc_planner
    output: plan_file
    save: plan_file
    on_success: complete
    on_failure: dead_letter
  complete:
    terminal: true
  dead_letter:
    terminal: true
    action: record_failure
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "repo"
    (repo / ".adw" / "workflows").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo)
    return repo


def output(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> tuple[str, str]:
    assert main(list(argv)) == code
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_list_shows_builtins_and_repository_workflows(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".adw" / "workflows" / "mine.yaml").write_text(MINE)
    rows = json.loads(output(capsys, "workflows", "--json")[0])
    by_name = {row["name"]: row for row in rows}
    assert set(rows[0]) == {"name", "description", "source", "states", "start"}
    assert by_name["mine"] == {
        "name": "mine",
        "description": "Just plan",
        "source": ".adw/workflows/mine.yaml",
        "states": 3,
        "start": "plan",
    }
    assert by_name["sdlc"]["source"] == "built-in"
    assert by_name["sdlc"]["start"] == "classify"
    table = output(capsys, "workflows")[0]
    assert "sdlc_zte" in table
    assert ".adw/workflows/mine.yaml" in table


def test_outside_a_repository_the_builtins_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    rows = json.loads(output(capsys, "workflows", "--json")[0])
    assert all(row["source"] == "built-in" for row in rows)
    assert output(capsys, "--repo", str(tmp_path / "nope"), "workflows", code=1)[1].startswith(
        "adw: error: --repo"
    )


def test_a_broken_file_is_reported_after_the_list_with_exit_1(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".adw" / "workflows" / "mine.yaml").write_text(MINE)
    (repo / ".adw" / "workflows" / "broken.yaml").write_text(
        MINE.replace("name: mine", "name: broken").replace("on_success: complete", "on_success: x")
    )
    out, err = output(capsys, "workflows", code=1)
    assert "mine" in out
    assert err.strip() == (
        'adw: error: .adw/workflows/broken.yaml: state "plan": on_success: names unknown state "x"'
    )
    rows = json.loads(output(capsys, "workflows", "--json", code=1)[0])
    assert "broken" not in {row["name"] for row in rows}


def test_show_draws_the_graph(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = output(capsys, "workflows", "show", "test")[0]
    assert out.startswith("test: Run the tests")
    assert "source: built-in, 6 states, start: worktree" in out
    blocks = {block.splitlines()[0]: block for block in out.split("\n\n")[1:]}
    assert set(blocks) == {
        "▶ worktree (start)",
        "• test",
        "• resolve_tests",
        "• commit_tests",
        "■ complete (terminal)",
        "■ dead_letter (terminal)",
    }
    assert "    action: setup_worktree\n    on_success → test" in blocks["▶ worktree (start)"]
    test = blocks["• test"]
    assert "    command: /test\n" in test
    assert "agent: test_runner, output: test_results → ${test_results}" in test
    assert "    on_success → commit_tests\n    on_reject → resolve_tests\n" in test
    resolve = blocks["• resolve_tests"]
    assert "    command: /resolve_failed_test ${test_results}\n" in resolve
    assert "max_visits: 4" in resolve
    assert "on_exhausted → dead_letter" in resolve
    assert "action: record_failure" in blocks["■ dead_letter (terminal)"]


def test_show_json_and_repository_override(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".adw" / "workflows" / "sdlc.yaml").write_text(MINE.replace("name: mine", "name: sdlc"))
    shown = json.loads(output(capsys, "workflows", "show", "sdlc", "--json")[0])
    assert shown["source"] == ".adw/workflows/sdlc.yaml"
    assert shown["states"]["plan"] == {
        "command": "/feature",
        "agent": "sdlc_planner",
        "output": "plan_file",
        "save": "plan_file",
        "on_success": "complete",
        "on_failure": "dead_letter",
    }


def test_show_an_unknown_workflow(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".adw" / "workflows" / "bad.yaml").write_text("name: mine\nstates: [")
    err = output(capsys, "workflows", "show", "mine", code=1)[1]
    lines = err.strip().splitlines()
    assert lines[0].startswith("adw: error: .adw/workflows/bad.yaml line ")
    assert lines[1].startswith('adw: error: unknown workflow "mine"; known workflows: build, ')
