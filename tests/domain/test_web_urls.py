"""Where a run's work shows in a browser: only http(s), never a remote's credentials."""

import pytest

from adw_tui.domain.models import RunState
from adw_tui.domain.web_urls import branch_url, pull_request_url


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("https://github.com/o/r.git", "https://github.com/o/r/tree/adw/issue-1-abc"),
        ("git@github.com:o/r.git", "https://github.com/o/r/tree/adw/issue-1-abc"),
        ("ssh://git@GitHub.com/o/r", "https://github.com/o/r/tree/adw/issue-1-abc"),
        (
            "https://x-access-token:ghp_secret@github.com/o/r.git",
            "https://github.com/o/r/tree/adw/issue-1-abc",
        ),
        ("https://gitlab.com/g/sub/r.git", "https://gitlab.com/g/sub/r/-/tree/adw/issue-1-abc"),
        ("/srv/git/r.git", None),
        ("file:///srv/git/r.git", None),
        ("https://git.example.com/o/r.git", None),
        ("https://github.com/r.git", None),
        ("https://github.com/o/../r.git", None),
    ],
)
def test_a_branch_url_is_derived_for_known_hosts_only(remote: str, expected: str | None):
    assert branch_url(remote, "adw/issue-1-abc") == expected


def test_a_branch_name_is_quoted():
    assert branch_url("https://github.com/o/r", "a b#c") == "https://github.com/o/r/tree/a%20b%23c"


@pytest.mark.parametrize(
    ("saved", "expected"),
    [
        ("https://github.com/o/r/pull/3", "https://github.com/o/r/pull/3"),
        ("javascript:alert(1)", None),
        ("file:///etc/passwd", None),
        (3, None),
    ],
)
def test_only_a_web_pull_request_url_is_opened(saved: object, expected: str | None):
    state = RunState.model_validate({"adw_id": "abc12345", "pr_url": saved})
    assert pull_request_url(state) == expected
