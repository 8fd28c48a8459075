"""`adw issue` against GitHub (`ADW_TRACKER=github` or `--tracker github`): real `adw`
processes talking to a loopback GitHub."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import adw_environment
from tests.fake_github import TOKEN, FakeGitHub

ADW = Path(sys.executable).parent / "adw"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A clone-like repository whose origin is the loopback GitHub's repository."""
    repo = tmp_path / "hello"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "remote", "add", "origin", "git@github.com:octo/hello.git"],
        check=True,
    )
    return repo


def adw(cwd: Path, github: FakeGitHub, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        key: value
        for key, value in adw_environment().items()
        if not key.startswith(("GITHUB_", "GH_"))
    }
    environ.update(
        {"ADW_GITHUB_API_URL": github.api_url, "GITHUB_PAT": TOKEN, "PATH": os.environ["PATH"]}
    )
    environ.update(env)
    return subprocess.run(
        [str(ADW), *argv], cwd=cwd, env=environ, capture_output=True, text=True, timeout=60
    )


def test_issue_ls_lists_the_repositorys_open_issues(github: FakeGitHub, checkout: Path) -> None:
    github.add_issue("Fix the crash")
    github.add_issue("A pull request", pull=True)
    closed = github.add_issue("Done already")
    github.issues[closed]["state"] = "closed"
    github.add_issue("Add dark mode \x1b[31mred\x1b[0m")
    listed = adw(checkout, github, "issue", "ls", ADW_TRACKER="github")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert "Add dark mode" in lines[1]
    assert "\x1b" not in listed.stdout  # GitHub's text is made safe for the terminal
    assert "Fix the crash" in lines[2]
    assert lines[-1] == "2 issues"
    assert "Done already" not in listed.stdout
    assert "A pull request" not in listed.stdout
    assert github.log[0].path == "/repos/octo/hello/issues"  # from the origin remote
    assert not (checkout / "agents").exists()  # no database is made for it

    rows = json.loads(adw(checkout, github, "--tracker", "github", "issue", "ls", "--json").stdout)
    assert [row["number"] for row in rows] == [4, 1]

    cut = adw(checkout, github, "--tracker", "github", "issue", "ls", "--limit", "1")
    assert cut.stdout.splitlines()[-1] == "the newest 1 issues; --limit or --all for more"


def test_issue_new_and_show_go_to_github(github: FakeGitHub, checkout: Path) -> None:
    made = adw(checkout, github, "issue", "new", "--title", "From adw", "--body", "Body.",
               "--json", ADW_TRACKER="github")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["number"] == 1
    assert github.issues[1]["title"] == "From adw"
    github.add_comment(1, "Looks good")
    shown = adw(checkout, github, "issue", "show", "1", ADW_TRACKER="github")
    assert shown.returncode == 0, shown.stderr
    assert "From adw" in shown.stdout
    assert "Looks good" in shown.stdout


def test_github_errors_are_one_line_that_says_what_to_do(
    github: FakeGitHub, checkout: Path
) -> None:
    refused = adw(
        checkout, github, "issue", "ls", ADW_TRACKER="github", GITHUB_PAT="ghp_" + "x" * 36
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("adw: error: GitHub refused the token")
    assert "Traceback" not in refused.stderr
    assert "ghp_" not in refused.stderr

    missing = adw(checkout, github, "issue", "show", "9", ADW_TRACKER="github")
    assert missing.returncode == 1
    assert "issue 9 not found" in missing.stderr

    elsewhere = adw(checkout, github, "issue", "ls", ADW_TRACKER="github",
                    ADW_GITHUB_REPO="octo/nothing")  # fmt: skip
    assert "GitHub has no GET /repos/octo/nothing/issues" in elsewhere.stderr

    bad = adw(checkout, github, "issue", "ls", ADW_TRACKER="gitlab")
    assert bad.returncode == 2
    assert "invalid setting tracker" in bad.stderr


@pytest.mark.usefixtures("repo_db")
def test_adw_run_takes_a_github_issue_to_a_pushed_branch_and_a_pull_request(
    github: FakeGitHub, sample_repo: Path, tmp_path: Path
) -> None:
    """The headless path end to end, as an operator runs it: `adw run` on a GitHub issue
    reads it, reports on it (one report failing on the way, said in the progress), pushes
    the branch to the real bare origin and opens the pull request."""
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    subprocess.run(
        ["git", "-C", str(sample_repo), "remote", "add", "origin", str(origin)], check=True
    )
    number = github.add_issue("Add a slugify helper", "Slugs for titles.")
    github.fail_next(502, "Bad Gateway", path_contains="/comments", method="POST")
    done = adw(
        sample_repo,
        github,
        "run", str(number), "--workflow", "plan", "--engine", "sim",
        ADW_TRACKER="github",
        ADW_GITHUB_REPO=github.repository,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "the tracker's comment failed: GitHub failed POST /repos/octo/hello/issues/1/" in (
        " ".join(done.stderr.split())
    )
    [pull] = github.pulls.values()
    branch = pull["head"]["ref"]
    pushed = subprocess.run(
        ["git", "-C", str(origin), "rev-parse", branch], capture_output=True, text=True
    )
    assert pushed.returncode == 0, f"{branch} is not on origin"
    assert f"Closes #{number}" in pull["body"]
    assert github.labels(number) == ["adw:succeeded"]
    assert TOKEN not in done.stdout + done.stderr


def test_doctor_reads_the_repository_and_shows_the_rate_limit(
    github: FakeGitHub, checkout: Path
) -> None:
    done = adw(checkout, github, "doctor", "--json", ADW_TRACKER="github")
    [check] = [check for check in json.loads(done.stdout) if check["name"] == "github"]
    assert check["level"] == "ok"
    assert check["detail"].startswith(f"octo/hello at {github.api_url}: ")
    assert f"{github.remaining:,} of 5,000 calls left, resets " in check["detail"]
    refused = adw(checkout, github, "doctor", "--json", ADW_TRACKER="github", GITHUB_PAT="ghp_x")
    assert refused.returncode == 1
    [check] = [check for check in json.loads(refused.stdout) if check["name"] == "github"]
    assert check["level"] == "fail"
    assert check["detail"].startswith("GitHub refused the token")
