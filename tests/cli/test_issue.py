"""`adw issue new|ls|show`: output, JSON shapes, the body file, errors and exit codes."""

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from adw_tui.cli import main
from adw_tui.store import Store
from adw_tui.store.location import DatabaseLocation
from adw_tui.trackers.base import post_status
from adw_tui.trackers.local import LocalTracker
from tests.cli.test_cli import repo as repo  # the fixture: a git repository as the cwd
from tests.cli.test_cli import run_json
from tests.conftest import RepoDatabase

# author and author_association: GitHub's; null for the local tracker's issues.
ISSUE_KEYS = {"number", "title", "body", "state", "created_at", "comments", "author"}
ISSUE_KEYS |= {"author_association"}
ROW_KEYS = {"number", "title", "state", "comments", "created_at", "updated_at"}
COMMENT_KEYS = {"id", "author", "body", "created_at", "author_association"}
ADW = Path(sys.executable).parent / "adw"


@pytest.fixture
def db(repo: Path) -> Path:
    """The repository's SQLite file, where adw makes it (for the tests of a missing one)."""
    return repo / "agents" / "adw_state.db"


@pytest.fixture
def seeded(repo: Path, repo_db: RepoDatabase) -> DatabaseLocation:
    """Two issues; the first has a person's comment, then an agent's status comment."""
    db = repo_db.of(repo)

    async def seed() -> None:
        async with await Store.open(db) as store:
            tracker = LocalTracker(store)
            await tracker.create_issue("Fix the crash", "It crashes on start.")
            await tracker.create_issue("Add dark mode", "")
            await store.issues.add_comment(1, "Seen on 2.1 too", author="alice")
            await post_status(tracker, 1, "a1b2c3d4", "sdlc_planner", "Plan ready")

    asyncio.run(seed())
    return db


def test_new_creates_the_database_and_numbers_issues(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["issue", "new", "--title", "Fix the crash", "--body", "details"]) == 0
    assert capsys.readouterr().out.strip() == "issue 1 created"
    assert db.exists()
    created = run_json(capsys, "issue", "new", "--title", "Second", "--json")
    assert isinstance(created, dict)
    assert set(created) == ISSUE_KEYS
    assert (created["number"], created["title"], created["body"]) == (2, "Second", "")
    assert (created["state"], created["comments"]) == ("open", [])


@pytest.mark.usefixtures("repo_db")
def test_new_reads_the_body_from_a_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = repo / "issue.md"
    body.write_text("# Crash\n\nSteps: run it. Ünïcode too.\n", encoding="utf-8")
    created = run_json(capsys, "issue", "new", "--title", "T", "--body-file", str(body), "--json")
    assert isinstance(created, dict)
    assert created["body"] == body.read_text(encoding="utf-8")


def test_new_with_a_missing_body_file_fails_and_creates_nothing(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["issue", "new", "--title", "T", "--body-file", "missing.md"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == "adw: error: --body-file missing.md: no such file"
    assert not db.exists()


@pytest.mark.usefixtures("repo_db")
def test_new_refuses_an_empty_title(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["issue", "new", "--title", "   "]) == 1
    err = capsys.readouterr().err
    assert "title is empty" in err
    assert len(err.strip().splitlines()) == 1
    assert run_json(capsys, "issue", "ls", "--json") == []


def test_ls_without_a_database_is_empty_and_creates_nothing(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_json(capsys, "issue", "ls", "--json") == []
    assert main(["issue", "ls"]) == 0
    assert "No open issues in" in capsys.readouterr().out
    assert not db.parent.exists()


def test_ls_lists_newest_first_with_comment_counts(
    seeded: DatabaseLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = run_json(capsys, "issue", "ls", "--json")
    assert isinstance(rows, list)
    assert [set(row) for row in rows] == [ROW_KEYS, ROW_KEYS]
    assert [(r["number"], r["title"], r["state"], r["comments"]) for r in rows] == [
        (2, "Add dark mode", "open", 0),
        (1, "Fix the crash", "open", 2),
    ]
    assert main(["issue", "ls"]) == 0
    out = capsys.readouterr().out
    assert out.index("Add dark mode") < out.index("Fix the crash")


def test_show_prints_the_body_and_comments(
    seeded: DatabaseLocation, capsys: pytest.CaptureFixture[str]
) -> None:
    issue = run_json(capsys, "issue", "show", "1", "--json")
    assert isinstance(issue, dict)
    assert set(issue) == ISSUE_KEYS
    assert issue["body"] == "It crashes on start."
    assert [set(c) for c in issue["comments"]] == [COMMENT_KEYS, COMMENT_KEYS]
    assert [(c["author"], c["body"]) for c in issue["comments"]] == [
        ("alice", "Seen on 2.1 too"),
        ("adw", "[ADW-AGENTS] a1b2c3d4_sdlc_planner: Plan ready"),
    ]
    assert main(["issue", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert "Fix the crash" in out
    assert "It crashes on start." in out
    assert "alice ·" in out
    assert "adw (agent status) ·" in out
    assert "[ADW-AGENTS] a1b2c3d4_sdlc_planner: Plan ready" in out
    assert main(["issue", "show", "2"]) == 0
    assert "(no description)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["issue", "show", "9"], "issue 9 not found: `adw issue ls` lists the issues"),
        (["issue", "show", "9", "--json"], "issue 9 not found"),
    ],
)
def test_unknown_issue_exits_1_with_one_line(
    seeded: DatabaseLocation, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_show_without_a_database_names_the_remedy(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["issue", "show", "1"]) == 1
    assert "no adw database" in capsys.readouterr().err
    assert not db.exists()


def test_console_script_reads_the_body_from_stdin(repo: Path, repo_db: RepoDatabase) -> None:
    completed = subprocess.run(
        [ADW, "issue", "new", "--title", "From a pipe", "--body-file", "-", "--json"],
        input="line one\nline two\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    created = json.loads(completed.stdout)
    assert (created["number"], created["body"]) == (1, "line one\nline two\n")

    async def stored_title() -> str:
        async with await Store.open(repo_db.of(repo), create=False) as store:
            return (await store.issues.get(1)).title

    assert asyncio.run(stored_title()) == "From a pipe"


@pytest.mark.parametrize(
    "argv",
    [
        ["issue"],
        ["issue", "new"],
        ["issue", "new", "--title", "T", "--body", "b", "--body-file", "f"],
        ["issue", "show", "zero"],
        ["issue", "show", "0"],
    ],
)
def test_console_script_usage_errors_exit_2(repo: Path, argv: list[str]) -> None:
    completed = subprocess.run([ADW, *argv], capture_output=True, text=True, check=False)
    assert completed.returncode == 2, argv
    assert completed.stderr.startswith("adw: error:"), completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1
