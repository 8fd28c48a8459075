"""The GitHub tracker against a stateful loopback GitHub: listings paged through `Link`,
304s for unchanged answers, labels moved, rate limits waited out, errors that say what
to do. (Request shapes are checked against GitHub's own description in test_github_contract.py.)"""

import base64
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adw_tui.config import Settings
from adw_tui.domain.errors import IssueNotFoundError, TrackerError
from adw_tui.domain.issues import IssueMark, IssueState
from adw_tui.trackers.github import GitHubTracker
from adw_tui.trackers.github_api import GitHubApi
from tests.fake_github import TOKEN, FakeGitHub


class Sleeps:
    """A sleep that notes how long it was asked to wait and moves its clock on as much."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 1_000.0

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def settings_for(github: FakeGitHub, **overrides: object) -> Settings:
    return Settings(
        tracker="github",
        github_repo=github.repository,
        github_api_url=github.api_url,
        **overrides,
    )


@pytest.fixture
async def tracker(
    github: FakeGitHub, sleeps: Sleeps, tmp_path: Path
) -> AsyncIterator[GitHubTracker]:
    api = GitHubApi(github.api_url, TOKEN, sleep=sleeps, clock=sleeps.clock, max_wait_s=120)
    opened = GitHubTracker(settings_for(github), tmp_path, api=api)
    yield opened
    await opened.aclose()


async def test_issues_are_listed_newest_first_through_every_page_without_pull_requests(
    github: FakeGitHub, tracker: GitHubTracker
) -> None:
    for n in range(1, 231):
        github.add_issue(f"issue {n}", pull=n % 100 == 0)  # 100 and 200 are pull requests
    listed = [issue async for issue in tracker.issues(state=IssueState.OPEN)]
    assert len(listed) == 228
    assert [i.number for i in listed[:3]] == [230, 229, 228]
    assert 200 not in {i.number for i in listed}
    assert 100 not in {i.number for i in listed}
    pages = [entry.query.get("page", "1") for entry in github.calls("GET")]
    assert pages == ["1", "2", "3"]
    assert github.calls("GET")[0].query == {
        "state": "open",
        "sort": "created",
        "direction": "desc",
        "per_page": "100",
    }
    counted = await tracker.count_issues()
    assert counted is None  # GitHub counts pull requests with them

    few = [issue.number async for issue in tracker.issues(limit=3)]
    assert few == [230, 229, 228]
    assert len(github.calls("GET")) == 4  # one page was enough


async def test_an_unchanged_listing_is_answered_304_and_costs_no_rate_limit(
    github: FakeGitHub, tracker: GitHubTracker
) -> None:
    github.add_issue("one")
    first = [i async for i in tracker.issues()]
    remaining = github.remaining
    again = [i async for i in tracker.issues()]
    assert again == first
    assert github.calls("GET")[-1].status == 304
    assert github.calls("GET")[-1].headers["if-none-match"].startswith('"')
    assert github.remaining == remaining
    api = await tracker.api()
    assert (api.stats.requests, api.stats.not_modified) == (2, 1)
    github.add_issue("two")
    assert [i.number async for i in tracker.issues()] == [2, 1]  # changed: read again


async def test_an_issue_comes_with_all_its_comments_oldest_first(
    github: FakeGitHub, tracker: GitHubTracker
) -> None:
    number = github.add_issue("Fix the crash", None)
    for n in range(150):
        github.add_comment(number, f"comment {n}")
    issue = await tracker.get_issue(number)
    assert (issue.title, issue.body, issue.state) == ("Fix the crash", "", IssueState.OPEN)
    assert [c.body for c in issue.comments] == [f"comment {n}" for n in range(150)]
    assert issue.comments[0].author == "octocat"

    pull = github.add_issue("A pull request", pull=True)
    with pytest.raises(TrackerError, match=rf"#{pull} of octo/hello is a pull request"):
        await tracker.get_issue(pull)
    with pytest.raises(IssueNotFoundError):
        await tracker.get_issue(999)


async def test_text_from_github_is_kept_whole_but_without_nul_bytes(
    github: FakeGitHub, tracker: GitHubTracker
) -> None:
    body = "x" * (1024 * 1024) + "\x00tail"
    number = github.add_issue("Big\x00 one", body)
    issue = await tracker.get_issue(number)
    assert issue.title == "Big one"
    assert issue.body == "x" * (1024 * 1024) + "tail"


async def test_create_comment_mark_and_close(github: FakeGitHub, tracker: GitHubTracker) -> None:
    created = await tracker.create_issue("New feature", "Please.")
    assert created.number == 1
    comment = await tracker.comment(1, "[ADW-AGENTS] a1b2c3d4_ops: started")
    assert comment.from_bot
    assert github.comments[1][0]["body"] == "[ADW-AGENTS] a1b2c3d4_ops: started"

    await tracker.mark(1, IssueMark.RUNNING)
    assert github.labels(1) == ["adw:running"]
    await tracker.mark(1, IssueMark.RUNNING)  # already there: nothing is sent
    await tracker.mark(1, IssueMark.SUCCEEDED)
    assert github.labels(1) == ["adw:succeeded"]
    deletes = [entry.path for entry in github.calls("DELETE")]
    assert deletes == ["/repos/octo/hello/issues/1/labels/adw%3Arunning"]
    assert [entry.body for entry in github.calls("POST")][-1] == {"labels": ["adw:succeeded"]}

    await tracker.close_issue(1)
    assert github.issues[1]["state"] == "closed"
    assert [i async for i in tracker.issues(state=IssueState.OPEN)] == []


async def test_label_names_are_settings(github: FakeGitHub, sleeps: Sleeps, tmp_path: Path) -> None:
    github.add_issue("one")
    settings = settings_for(github, label_running="bot: busy", label_failed="bot: failed")
    api = GitHubApi(github.api_url, TOKEN, sleep=sleeps)
    tracker = GitHubTracker(settings, tmp_path, api=api)
    await tracker.mark(1, IssueMark.RUNNING)
    await tracker.mark(1, IssueMark.FAILED)
    assert github.labels(1) == ["bot: failed"]
    await tracker.aclose()


async def test_a_secondary_rate_limit_is_waited_out_as_retry_after_says(
    github: FakeGitHub, tracker: GitHubTracker, sleeps: Sleeps
) -> None:
    github.add_issue("one")
    github.fail_next(429, "slow down", headers={"Retry-After": "7"})
    github.fail_next(403, "You have exceeded a secondary rate limit.")
    issue = await tracker.get_issue(1)
    assert issue.title == "one"
    assert sleeps.waits == [7.0, 60.0]


async def test_a_spent_budget_waits_for_its_reset_before_the_next_call(
    github: FakeGitHub, tracker: GitHubTracker, sleeps: Sleeps
) -> None:
    github.add_issue("one")
    github.reset_at = 1_030  # the clock of the tracker says 1,000
    github.remaining = 2
    await tracker.get_issue(1)  # its two calls (the issue, its comments) spend the last ones
    assert sleeps.waits == []
    assert tracker.rate_budget is not None
    assert tracker.rate_budget.remaining == 0
    github.remaining = 5000
    await tracker.comment(1, "hello")
    assert sleeps.waits == [31.0]
    assert "4,999 of 5,000 calls left" in tracker.rate_budget.describe()

    # Spent on the answer itself (the clock is now 1,031): waited once, not again before
    # the retry.
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1040", "X-RateLimit-Limit": "5000"}
    github.fail_next(403, "API rate limit exceeded", headers=spent)
    await tracker.comment(1, "again")
    assert sleeps.waits == [31.0, 10.0]
    assert [c["body"] for c in github.comments[1]] == ["hello", "again"]


async def test_a_rate_limit_longer_than_the_longest_wait_fails_as_transient(
    github: FakeGitHub, tracker: GitHubTracker, sleeps: Sleeps
) -> None:
    github.add_issue("one")
    github.fail_next(429, "wait", headers={"Retry-After": "3600"})
    with pytest.raises(TrackerError, match=r"ADW_GITHUB_MAX_WAIT=120s") as raised:
        await tracker.get_issue(1)
    assert raised.value.transient
    assert sleeps.waits == []


@pytest.mark.parametrize(
    ("status", "message", "says", "transient"),
    [
        (401, "Bad credentials", "set GITHUB_PAT (or GH_TOKEN) to a valid token", False),
        (403, "Resource not accessible by integration", "the token needs read and write", False),
        (500, "Server Error", "GitHub failed POST /repos/octo/hello/issues/1/comments", True),
        (410, "Issues are disabled for this repo", "410 Issues are disabled", False),
    ],
)
async def test_errors_name_the_call_and_what_to_do(
    github: FakeGitHub,
    tracker: GitHubTracker,
    status: int,
    message: str,
    says: str,
    transient: bool,
) -> None:
    github.add_issue("one")
    github.fail_next(status, message)
    with pytest.raises(TrackerError) as raised:
        await tracker.comment(1, "hello")
    assert says in str(raised.value)
    assert (raised.value.status, raised.value.transient) == (status, transient)
    assert github.comments[1] == []


async def test_a_rejected_field_is_named(github: FakeGitHub, tracker: GitHubTracker) -> None:
    with pytest.raises(TrackerError, match=r"422 Validation Failed: title missing_field"):
        await tracker.create_issue("", "no title")


async def test_an_unknown_repository_says_which_setting_names_it(
    github: FakeGitHub, sleeps: Sleeps, tmp_path: Path
) -> None:
    settings = settings_for(github).model_copy(update={"github_repo": "octo/missing"})
    tracker = GitHubTracker(settings, tmp_path, api=GitHubApi(github.api_url, TOKEN))
    with pytest.raises(
        TrackerError, match=r"GitHub has no GET /repos/octo/missing .*ADW_GITHUB_REPO"
    ):
        await tracker.get_issue(1)
    await tracker.aclose()


async def test_the_network_gone_is_a_transient_error_naming_the_api_root(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        root = f"http://127.0.0.1:{probe.getsockname()[1]}"
    settings = Settings(tracker="github", github_repo="octo/hello", github_api_url=root)
    tracker = GitHubTracker(settings, tmp_path, api=GitHubApi(root, TOKEN))
    with pytest.raises(TrackerError, match=rf"cannot reach GitHub at {root}") as raised:
        await tracker.get_issue(1)
    assert raised.value.transient
    await tracker.aclose()


async def test_github_enterprise_serves_the_api_under_a_path(tmp_path: Path) -> None:
    with FakeGitHub(token=TOKEN, prefix="/api/v3") as enterprise:
        enterprise.add_issue("on the enterprise server")
        for n in range(120):
            enterprise.add_issue(f"more {n}")
        settings = settings_for(enterprise)
        tracker = GitHubTracker(settings, tmp_path, environ={"GITHUB_PAT": TOKEN, "PATH": ""})
        listed = [i.title async for i in tracker.issues()]
        await tracker.aclose()
    assert len(listed) == 121
    assert listed[-1] == "on the enterprise server"
    assert {entry.path for entry in enterprise.log} == {"/repos/octo/hello/issues"}


async def test_a_pull_request_is_opened_once_then_updated(
    github: FakeGitHub, tracker: GitHubTracker
) -> None:
    issue = github.add_issue("Add a slugify helper", "Slugs.")
    first = await tracker.open_pull_request(
        head="feature-x", base="main", title="feature: #1 - Add", body=f"Closes #{issue}"
    )
    assert first.url == f"https://github.com/octo/hello/pull/{first.number}"
    created = github.calls("POST")[-1]
    assert created.path == "/repos/octo/hello/pulls"
    assert created.body == {
        "title": "feature: #1 - Add",
        "head": "feature-x",
        "base": "main",
        "body": f"Closes #{issue}",
    }
    # Run again without the number (a replay from the start): found by its head, updated.
    again = await tracker.open_pull_request(
        head="feature-x", base="main", title="feature: #1 - Add it", body="v2"
    )
    assert again == first
    assert github.calls("GET")[-1].query == {"head": "octo:feature-x", "state": "open"}
    # With the number the run recorded: updated straight away.
    await tracker.open_pull_request(
        head="feature-x", base="main", title="t3", body="v3", number=first.number
    )
    assert len(github.pulls) == 1
    assert github.pulls[first.number]["body"] == "v3"
    assert [(call.method, call.path) for call in github.calls("PATCH")] == [
        ("PATCH", f"/repos/octo/hello/pulls/{first.number}")
    ] * 2


async def test_a_rejected_pull_request_names_the_field(
    github: FakeGitHub, tracker: GitHubTracker
) -> None:
    with pytest.raises(TrackerError) as raised:
        await tracker.open_pull_request(head="feature-x", base="main", title="", body="b")
    assert str(raised.value) == (
        "GitHub rejected POST /repos/octo/hello/pulls (422 Validation Failed: title missing_field)"
    )
    assert not raised.value.transient


@pytest.mark.parametrize(
    ("api_url", "remote", "header_for"),
    [
        ("https://api.github.com", "https://github.com/octo/hello.git", "https://github.com/"),
        (
            "https://ghe.example.com/api/v3",
            "https://ghe.example.com/o/r",
            "https://ghe.example.com/",
        ),
        ("https://api.github.com", "git@github.com:octo/hello.git", None),
        ("https://api.github.com", "https://gitlab.com/octo/hello.git", None),
    ],
)
async def test_the_token_reaches_git_only_for_this_githubs_https_remotes(
    api_url: str, remote: str, header_for: str | None, tmp_path: Path
) -> None:
    settings = Settings(tracker="github", github_repo="octo/hello", github_api_url=api_url)
    tracker = GitHubTracker(settings, tmp_path, environ={"GITHUB_PAT": TOKEN, "PATH": ""})
    env = await tracker.push_environment(remote)
    if header_for is None:
        assert env == {}
        return
    assert env["GIT_CONFIG_COUNT"] == "1"
    assert env["GIT_CONFIG_KEY_0"] == f"http.{header_for}.extraheader"
    secret = env["GIT_CONFIG_VALUE_0"].removeprefix("AUTHORIZATION: basic ")
    assert base64.b64decode(secret).decode() == f"x-access-token:{TOKEN}"
