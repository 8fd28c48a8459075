"""`adw runs`, `dlq ls`, `history`, `issue ls` as listings: the newest `--limit N`
(default 50) or `--all`, `--since` and the filters, "N of M", fixed-width lines, and
`--json` (one array, streamed) and `--jsonl` (a line per row)."""

import asyncio
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from adw_tui.cli import main
from adw_tui.cli.commands.dlq import LETTERS
from adw_tui.cli.commands.issue import ISSUES
from adw_tui.cli.commands.runs import RUNS as RUN_VIEW
from adw_tui.cli.commands.runs import VERSIONS
from adw_tui.cli.listing import GAP, Cell, Column, Listing, Styled
from adw_tui.cli.paging import View
from adw_tui.domain.models import NewDeadLetter, RunStatus
from adw_tui.store import Store
from adw_tui.store.location import DatabaseLocation
from tests.cli.test_cli import repo as repo  # the fixture: a git repository as the cwd
from tests.conftest import RepoDatabase, adw_environment

ADW = Path(sys.executable).parent / "adw"
START = datetime(2026, 3, 1, 12, tzinfo=UTC)
RUNS = 7
STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.QUEUED)


def run_id(number: int) -> str:
    return f"{number:08x}"


async def seed(db: DatabaseLocation) -> None:
    """Runs 0-6 an hour apart (run 2 of workflow `plan_build_test_review`, the rest `sdlc`;
    statuses cycling), run 6 with 4 versions more; a dead letter for each of runs 0-5, a
    day later and an hour apart too, letters 1 and 2 replayed and dropped; three issues,
    the first with a comment."""
    async with await Store.open(db) as store:
        # The letters first: adding one to an existing run would make it dead-lettered.
        for number in range(6):
            with time_machine.travel(START + timedelta(days=1, hours=number), tick=False):
                await store.dead_letters.add(
                    NewDeadLetter(
                        adw_id=run_id(number),
                        workflow="sdlc",
                        step="build",
                        state_version=1,
                        error_class="auth" if number % 2 else "rate_limit",
                        error_message=f"failure {number}",
                        attempts=3,
                        request={},
                    ),
                    actor="t",
                )
        await store.dead_letters.mark_replayed(1, from_step="build", state_version=1, actor="t")
        await store.dead_letters.drop(2, actor="t")
        for number in range(RUNS):
            with time_machine.travel(START + timedelta(hours=number), tick=False):
                workflow = "plan_build_test_review" if number == 2 else "sdlc"
                await store.create_run(
                    {"adw_id": run_id(number)},
                    workflow=workflow,
                    issue=str(number + 1),
                    actor="t",
                    status=STATUSES[number % 3],
                )
        with time_machine.travel(START + timedelta(hours=6), tick=False):
            for version in range(1, 5):
                await store.save(run_id(6), {"step": str(version)}, version, f"step {version}", "t")
        for number in range(3):
            with time_machine.travel(START + timedelta(hours=number), tick=False):
                await store.issues.create(f"issue {number + 1}")
        await store.issues.add_comment(1, "a comment", author="alice")


@pytest.fixture
def seeded(repo: Path, repo_db: RepoDatabase) -> Path:
    asyncio.run(seed(repo_db.of(repo)))
    return repo


def adw(repo: Path, *argv: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(ADW), *argv],
        cwd=repo,
        env=adw_environment(COLUMNS="80"),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == code, done.stderr
    return done


def out(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """The lines `adw *argv` prints, run in this process."""
    assert main(list(argv)) == 0
    return capsys.readouterr().out.splitlines()


def column(lines: list[str], view: View[Any], header: str) -> list[str]:
    """The text of column `header` of `view` on each line, found by the columns' fixed
    widths alone."""
    start = 0
    for each in view.columns:
        if each.header == header:
            end = start + each.width if each.width else None
            return [line[start:end].strip() for line in lines]
        start += each.width + len(GAP)
    raise AssertionError(f"no column {header}")


def test_runs_print_the_newest_limit_and_say_how_many_of_how_many(seeded: Path):
    lines = adw(seeded, "runs", "--limit", "3").stdout.splitlines()
    assert lines[-1] == "3 of 7 runs; --limit or --all for more"
    table = lines[:-1]
    assert column(table, RUN_VIEW, "adw_id") == ["adw_id", run_id(6), run_id(5), run_id(4)]
    # Fixed widths: every column starts where its header does, on every line.
    for header in ("issue", "workflow", "status", "updated"):
        start = table[0].index(header)
        assert all(line[start - 2 : start] == "  " for line in table), header
    assert column(table, RUN_VIEW, "status")[1:] == ["succeeded", "queued", "failed"]


def test_runs_all_filters_and_since(seeded: Path, capsys: pytest.CaptureFixture[str]):
    every = out(capsys, "runs", "--all")
    assert every[-1] == "7 runs"
    assert len(every) == 1 + RUNS + 1
    assert "plan_build_test…" in every[-4]  # the column is 16 cells: cut, marked
    failed = out(capsys, "runs", "--status", "failed")
    assert column(failed[:-1], RUN_VIEW, "adw_id")[1:] == [run_id(4), run_id(1)]
    assert failed[-1] == "2 runs"
    since = out(capsys, "runs", "--since", (START + timedelta(hours=4, minutes=30)).isoformat())
    assert column(since[:-1], RUN_VIEW, "adw_id")[1:] == [run_id(6), run_id(5)]
    naive_utc = out(capsys, "runs", "--since", "2026-03-01T16:30", "--workflow", "sdlc")
    assert naive_utc == since
    assert out(capsys, "runs", "--workflow", "nope") == ["No runs match."]


def test_the_default_limit_is_50(
    repo: Path, repo_db: RepoDatabase, capsys: pytest.CaptureFixture[str]
):
    async def many() -> None:
        async with await Store.open(repo_db.of(repo)) as store:
            for number in range(51):
                await store.create_run({"adw_id": run_id(number)}, workflow="sdlc", actor="t")

    asyncio.run(many())
    lines = out(capsys, "runs")
    assert lines[-1] == "50 of 51 runs; --limit or --all for more"
    assert len(lines) == 1 + 50 + 1
    assert main(["runs", "--json"]) == 0
    printed = capsys.readouterr()
    assert len(json.loads(printed.out)) == 50
    assert printed.err == "adw: 50 of 51 runs; --limit or --all for more\n"


def test_json_is_one_array_and_jsonl_a_line_per_row(seeded: Path):
    done = adw(seeded, "runs", "--json", "--limit", "2")
    rows = json.loads(done.stdout)
    assert [row["adw_id"] for row in rows] == [run_id(6), run_id(5)]
    # Written element by element, it reads as the whole list printed at once would.
    assert done.stdout == json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    assert done.stderr == "adw: 2 of 7 runs; --limit or --all for more\n"
    lines = adw(seeded, "runs", "--jsonl", "--limit", "2").stdout.splitlines()
    assert [json.loads(line) for line in lines] == rows
    everything = adw(seeded, "runs", "--json", "--all")
    assert len(json.loads(everything.stdout)) == RUNS
    assert everything.stderr == ""


def test_dead_letters_pending_by_default_all_and_filters(
    seeded: Path, capsys: pytest.CaptureFixture[str]
):
    pending = out(capsys, "dlq", "ls")
    assert column(pending[:-1], LETTERS, "id") == ["id", "6", "5", "4", "3"]
    assert pending[-1] == "4 dead letters"
    assert pending[1].rstrip().endswith("auth: failure 5")  # the error, last and whole
    every = out(capsys, "dlq", "ls", "--all")
    assert column(every[:-1], LETTERS, "id")[1:] == ["6", "5", "4", "3", "2", "1"]
    assert column(every[:-1], LETTERS, "status")[-2:] == ["dropped", "replayed"]
    assert column(every[:-1], LETTERS, "replays")[-1] == "1"
    assert out(capsys, "dlq", "ls", "--status", "replayed")[-1] == "1 dead letter"
    limited = out(capsys, "dlq", "ls", "--status", "any", "--error-class", "auth", "--limit", "1")
    assert limited[-1] == "1 of 3 dead letters; --limit or --all for more"
    since = (START + timedelta(days=1, hours=3, minutes=30)).isoformat()
    assert column(out(capsys, "dlq", "ls", "--since", since)[:-1], LETTERS, "id")[1:] == ["6", "5"]
    rows = [json.loads(line) for line in out(capsys, "dlq", "ls", "--jsonl", "--all")]
    assert [(row["id"], row["issue"]) for row in rows][-2:] == [(2, "2"), (1, "1")]
    assert out(capsys, "dlq", "ls", "--workflow", "plan") == ["No dead letters match."]


def test_history_pages_a_runs_versions(seeded: Path, capsys: pytest.CaptureFixture[str]):
    lines = out(capsys, "history", run_id(6), "--limit", "2")
    assert column(lines[:-1], VERSIONS, "version") == ["version", "5", "4"]
    assert lines[-1] == "2 of 5 versions; --limit or --all for more"
    assert lines[1].endswith("step 4")  # the reason, last
    assert len(json.loads("\n".join(out(capsys, "history", run_id(6), "--json", "--all")))) == 5


def test_issues_newest_first_with_their_state_filter(
    seeded: Path, capsys: pytest.CaptureFixture[str]
):
    lines = out(capsys, "issue", "ls", "--limit", "2")
    assert column(lines[:-1], ISSUES, "title") == ["title", "issue 3", "issue 2"]
    assert lines[-1] == "2 of 3 issues; --limit or --all for more"
    assert out(capsys, "issue", "ls", "--state", "closed") == ["No issues match."]
    [first] = [json.loads(line) for line in out(capsys, "issue", "ls", "--jsonl", "--limit", "1")]
    assert (first["number"], first["comments"]) == (3, 0)


def test_without_a_database_every_form_is_empty(repo: Path, capsys: pytest.CaptureFixture[str]):
    assert out(capsys, "runs", "--json") == ["[]"]
    assert out(capsys, "runs", "--jsonl") == []
    assert out(capsys, "dlq", "ls") == ["The dead-letter queue is empty."]
    assert not (repo / "agents").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ("runs", "--limit", "3", "--all"),
        ("runs", "--json", "--jsonl"),
        ("runs", "--limit", "0"),
        ("runs", "--since", "yesterday"),
        ("runs", "--status", "done"),
        ("dlq", "ls", "--status", "lost"),
    ],
    ids=" ".join,
)
def test_bad_listing_options_are_usage_errors(
    repo: Path, argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
):
    """In this process: that a usage error exits 2 from the console script is
    test_cli.py's test_console_script_usage_errors_exit_2."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("adw: error: ")
    assert len(stderr.splitlines()) == 1


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


COLUMNS = (
    Column("id", 4, clip=False),
    Column("name", 6),
    Column("n", 3, right=True),
    Column("say"),
)


def lines_of(rows: list[list[Cell]], out: io.StringIO | None = None) -> list[str]:
    stream = out or io.StringIO()
    listing = Listing(COLUMNS, stream)
    listing.header()
    for row in rows:
        listing.row(row)
    return stream.getvalue().splitlines()


def test_cells_are_cut_to_their_cells_safe_and_on_one_line():
    lines = lines_of(
        [
            ["toolong", "世界世界", "7", "a\nb"],
            ["1", "abcdefgh", "1234", "\x1b[2Jx" + "z" * 300],
        ]
    )
    assert lines[0] == "id    name      n  say"
    # A wide character takes two cells: three of them would be six, so two and the mark.
    assert lines[1] == "toolong  世界…     7  a␤b"
    assert lines[2].startswith("1     abcde…  12…  ␛[2Jx")
    assert len(lines[2]) == len("1     abcde…  12…  ") + 200
    assert lines[2].endswith("z…")


def test_colour_only_on_a_terminal_and_never_under_no_color(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    row: list[Cell] = ["1", Styled("ok", "green"), "1", "x"]
    assert "\x1b[32mok\x1b[0m" in lines_of([row], Terminal())[1]
    assert "\x1b" not in "".join(lines_of([row]))
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b" not in "".join(lines_of([row], Terminal()))
