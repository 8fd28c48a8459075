"""Untrusted text (issue titles, agent output, errors) never reaches the terminal raw: the
real `adw` console script prints it with its controls shown as visible escapes, its rich
markup and emoji codes left as text."""

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from adw_tui.config import Settings
from adw_tui.domain.breakers import Outcome
from adw_tui.domain.clock import utc_now
from adw_tui.domain.models import NewDeadLetter
from adw_tui.store import Store
from tests.conftest import adw_environment, database_of

ADW = Path(sys.executable).parent / "adw"
RUN_ID = "bad0c0de"
# Writes the clipboard (OSC 52, ended by BEL), sets the title (OSC 0, ended by ST), clears
# the screen, switches to the alternate screen and hides the cursor; then a C1 CSI, a bidi
# override, an emoji code and rich markup.
# (Under 80 characters: the simulated agent quotes that much of a prompt back.)
HOSTILE = (
    "\x1b]52;c;aGVsbG8=\x07\x1b]0;pwned\x1b\\\x1b[2J\x1b[?1049h\x1b[?25l\x9b31m"
    "\u202ex :bug: [b]loud[/]"
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    identity = ["-c", "user.name=t", "-c", "user.email=t@t"]
    commit = ["commit", "-q", "--allow-empty", "-m", "init"]
    subprocess.run(["git", "-C", str(repo), *identity, *commit], check=True)
    return repo


def adw(repo: Path, *argv: str, stderr: bool = True) -> str:
    """Runs `adw` in `repo`; returns its stdout, and its stderr after it unless told not."""
    environ = adw_environment(ADW_SIM_STATE_DIR=str(repo.parent / "sim-state"), COLUMNS="400")
    environ.pop("CLAUDE_CODE_PATH", None)
    done = subprocess.run(
        [str(ADW), *argv],
        cwd=repo,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout + (done.stderr if stderr else "")


def assert_shown_safely(output: str, *, whole: bool = True) -> None:
    """Nothing a terminal acts on; what the text tried is visible, and its markup is text,
    not style. Not `whole`: a listing's fixed-width column showed only its start."""
    assert "\x1b" not in output
    assert "\x07" not in output
    assert "\x9b" not in output
    assert "\u202e" not in output
    assert "🐛" not in output
    if not whole:
        assert "␛]52;…" in output
        return
    assert "␛]52;c;aGVsbG8=␇" in output
    assert ":bug:" in output
    assert "[b]loud[/]" in output


def seed(repo: Path) -> None:
    """A run on a hostile issue, dead-lettered with a hostile error; a breaker whose last
    error is hostile."""

    async def write() -> None:
        async with await Store.open(database_of(repo)) as store:
            await store.create_run({"adw_id": RUN_ID}, workflow="sdlc", issue=HOSTILE, actor="t")
            await store.dead_letters.add(
                NewDeadLetter(
                    adw_id=RUN_ID,
                    workflow="sdlc",
                    step="build",
                    state_version=1,
                    error_class="agent_error",
                    error_message=HOSTILE,
                    attempts=3,
                    request={"prompt": HOSTILE},
                ),
                actor="t",
            )
            for _ in range(5):
                await store.breakers.record(
                    "claude",
                    Outcome.FAILURE,
                    now=utc_now(),
                    policy=Settings().breaker_policy(),
                    actor="t",
                    error=HOSTILE,
                )

    asyncio.run(write())


def test_prompt_shows_the_agents_echo_of_a_hostile_prompt_safely(repo: Path):
    # The simulated agent answers an unknown prompt by quoting it back.
    assert_shown_safely(adw(repo, "prompt", "--engine", "sim", HOSTILE))


@pytest.mark.usefixtures("repo_db")
def test_issue_listing_and_show_print_a_hostile_title_safely(repo: Path):
    adw(repo, "issue", "new", "--title", HOSTILE, "--body", HOSTILE)
    assert_shown_safely(adw(repo, "issue", "ls"))
    assert_shown_safely(adw(repo, "issue", "show", "1"))


@pytest.mark.usefixtures("repo_db")
def test_run_progress_and_summary_print_a_hostile_issue_safely(repo: Path):
    adw(repo, "issue", "new", "--title", HOSTILE, "--body", "body")
    output = adw(repo, "run", "--engine", "sim", "--workflow", "plan", "1")
    assert "\x1b" not in output
    assert "\x07" not in output
    assert "🐛" not in output


@pytest.mark.parametrize(
    "argv",
    [("dlq", "ls"), ("dlq", "show", "1"), ("breakers",), ("show", RUN_ID)],
    ids=" ".join,
)
@pytest.mark.usefixtures("repo_db")
def test_listings_print_hostile_errors_and_titles_safely(repo: Path, argv: tuple[str, ...]):
    seed(repo)
    assert_shown_safely(adw(repo, *argv))


@pytest.mark.usefixtures("repo_db")
def test_runs_cut_a_hostile_issue_to_its_column_safely(repo: Path):
    seed(repo)
    assert_shown_safely(adw(repo, "runs"), whole=False)


def strings(value: object) -> list[str]:
    """Every string in a decoded JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return []


@pytest.mark.parametrize(
    "argv",
    [
        ("runs", "--json"),
        ("runs", "--jsonl"),
        ("show", RUN_ID, "--json"),
        ("dlq", "ls", "--json"),
        ("dlq", "ls", "--jsonl"),
        ("dlq", "show", "1", "--json"),
        ("breakers", "--json"),
    ],
    ids=" ".join,
)
@pytest.mark.usefixtures("repo_db")
def test_json_keeps_hostile_text_exact_with_nothing_a_terminal_acts_on(
    repo: Path, argv: tuple[str, ...]
):
    """JSON escapes the C0 controls itself, but C1 and bidi controls would pass raw."""
    seed(repo)
    output = adw(repo, *argv, stderr=False)
    assert re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", output) is None
    assert "\\u009b31m\\u202ex" in output
    assert any(HOSTILE in text for text in strings(json.loads(output)))
