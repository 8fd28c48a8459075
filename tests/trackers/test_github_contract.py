"""Every call the GitHub tracker makes, checked against GitHub's own REST API description
served by prism: a call GitHub would reject fails the test with prism's reasons, and the
description's examples are the answers the tracker has to read. (Behaviour over many
calls — paging, ETags, rate limits — is tested against tests/fake_github.py.)"""

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from adw_tui.config import Settings
from adw_tui.domain.errors import IssueNotFoundError, TrackerError
from adw_tui.domain.issues import IssueMark, IssueState
from adw_tui.trackers.github import GitHubTracker
from adw_tui.trackers.github_api import GitHubApi
from adw_tui.trackers.github_setup import github_token
from tests import github_openapi, github_prism
from tests.github_prism import CheckedTransport, ContractViolation

TOKEN = "ghp_" + "t" * 36
REPO = "/repos/octocat/hello-world"
EXAMPLE = 1347
"""The number of the issue in the description's examples."""


@pytest.fixture(scope="session")
def description(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cut of GitHub's description, made once per test session."""
    return github_openapi.cut_file(github_openapi.session_cache(tmp_path_factory))


@pytest.fixture(scope="session")
def prism_url(description: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One prism per test process, serving the cut description."""
    with github_prism.serve(description, tmp_path_factory.mktemp("prism") / "prism.log") as url:
        yield url


@pytest.fixture
def transport() -> CheckedTransport:
    return CheckedTransport()


@pytest.fixture
async def api(prism_url: str, transport: CheckedTransport) -> AsyncIterator[GitHubApi]:
    """The GitHubApi the tracker would make, over the checking transport."""
    opened = GitHubApi(prism_url, await github_token({"GITHUB_PAT": TOKEN}), transport=transport)
    yield opened
    await opened.aclose()


@pytest.fixture
def tracker(prism_url: str, api: GitHubApi, tmp_path: Path) -> GitHubTracker:
    settings = Settings(
        tracker="github", github_repo="octocat/hello-world", github_api_url=prism_url
    )
    return GitHubTracker(settings, tmp_path, environ={"GITHUB_PAT": TOKEN}, api=api)


def test_the_cut_holds_adws_operations_and_all_they_refer_to(description: Path) -> None:
    cut = json.loads(description.read_text())
    kept = {path: sorted(set(item) & github_openapi.METHODS) for path, item in cut["paths"].items()}
    assert kept == {path: sorted(methods) for path, methods in github_openapi.OPERATIONS.items()}
    for ref in github_openapi.refs(cut):
        kind, name = github_openapi.component(ref)
        assert name in cut["components"][kind], ref
    assert github_openapi.cut(cut) == cut  # cutting again changes nothing


def an_issue_labelled_running(issue: dict[str, Any]) -> dict[str, Any]:
    """The example issue is a pull request labelled `bug`; as a plain issue adw marked
    running, get_issue reads its comments and mark takes the label off."""
    labels = [*issue["labels"], {**issue["labels"][0], "name": "adw:running"}]
    return {key: value for key, value in issue.items() if key != "pull_request"} | {
        "labels": labels
    }


async def test_every_call_of_the_tracker_is_one_github_allows(
    tracker: GitHubTracker, transport: CheckedTransport
) -> None:
    issue_path = f"{REPO}/issues/{EXAMPLE}"
    transport.edit[f"GET {issue_path}"] = an_issue_labelled_running
    transport.prefer[f"GET {REPO}/issues/9"] = "code=404"

    issue = await tracker.get_issue(EXAMPLE)
    assert (issue.number, issue.title, issue.state) == (EXAMPLE, "Found a bug", IssueState.OPEN)
    assert [(c.author, c.body) for c in issue.comments] == [("octocat", "Me too")]
    # The example listing holds one pull request, which adw leaves out.
    assert [i async for i in tracker.issues()] == []
    assert [i async for i in tracker.issues(state=IssueState.OPEN, limit=5)] == []
    created = await tracker.create_issue("New feature", "Please.")
    assert (created.number, created.title) == (EXAMPLE, "Found a bug")
    comment = await tracker.comment(EXAMPLE, "[ADW-AGENTS] a1b2c3d4_ops: started")
    assert (comment.id, comment.body) == (1, "Me too")
    await tracker.mark(EXAMPLE, IssueMark.SUCCEEDED)
    await tracker.close_issue(EXAMPLE)
    with pytest.raises(IssueNotFoundError):
        await tracker.get_issue(9)

    assert transport.sent == [
        f"GET {issue_path}",
        f"GET {issue_path}/comments",
        f"GET {REPO}/issues",
        f"GET {REPO}/issues",
        f"POST {REPO}/issues",
        f"POST {issue_path}/comments",
        f"GET {issue_path}",
        f"DELETE {issue_path}/labels/adw:running",
        f"POST {issue_path}/labels",
        f"PATCH {issue_path}",
        f"GET {REPO}/issues/9",
        f"GET {REPO}",
    ]


async def test_a_missing_repository_is_told_apart_from_a_missing_issue(
    tracker: GitHubTracker, transport: CheckedTransport
) -> None:
    transport.prefer[f"GET {REPO}/issues/9"] = "code=404"
    transport.prefer[f"GET {REPO}"] = "code=404"
    with pytest.raises(TrackerError, match=f"GitHub has no GET {REPO} "):
        await tracker.get_issue(9)


async def test_a_call_github_would_reject_fails_the_test(
    api: GitHubApi, transport: CheckedTransport
) -> None:
    """The check itself: without it every test above would pass whatever adw sent."""
    with pytest.raises(ContractViolation, match="must have required property 'body'"):
        await api.send("POST", f"{REPO}/issues/{EXAMPLE}/comments", {"text": "no body"})
    # Issues' bodies too: prism checks them only once the cut mends their schemas.
    with pytest.raises(ContractViolation, match="must have required property 'title'"):
        await api.send("POST", f"{REPO}/issues", {"body": "no title"})
    with pytest.raises(ContractViolation, match="state must be equal to one of"):
        await api.send("PATCH", f"{REPO}/issues/{EXAMPLE}", {"state": "shut"})
    with pytest.raises(ContractViolation, match="query parameter state"):
        await api.get(f"{REPO}/issues", {"state": "any"})
    with pytest.raises(ContractViolation, match="no path matched"):
        await api.get(f"{REPO}/issue/{EXAMPLE}")


async def test_opening_and_updating_a_pull_request_are_calls_github_allows(
    tracker: GitHubTracker, transport: CheckedTransport
) -> None:
    """A first run finds no open pull request for its branch and opens one; a run that
    recorded its number updates it. (The description's example pull request is #1347.)"""
    transport.edit[f"GET {REPO}/pulls"] = lambda pulls: []
    opened = await tracker.open_pull_request(
        head="feature-issue-1-adw-a1b2c3d4-x", base="main", title="feature: #1 - X", body="B"
    )
    assert opened.number == EXAMPLE
    assert opened.url.startswith("https://github.com/octocat/Hello-World/pull/")
    updated = await tracker.open_pull_request(
        head="feature-issue-1-adw-a1b2c3d4-x", base="main", title="t", body="B2", number=EXAMPLE
    )
    assert updated == opened
    assert transport.sent == [
        f"GET {REPO}/pulls",
        f"POST {REPO}/pulls",
        f"PATCH {REPO}/pulls/{EXAMPLE}",
    ]
