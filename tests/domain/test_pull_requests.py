"""The pull request's title and body, from the run's state."""

import pytest

from adw_tui.domain.pull_requests import MAX_BODY_CHARS, pull_request_body, pull_request_title


@pytest.mark.parametrize(
    ("issue_class", "title", "expected"),
    [
        ("/feature", "Add a  slugify\nhelper", "feature: #7 - Add a slugify helper"),
        ("/bug", "Crash", "bug: #7 - Crash"),
        (None, "Crash", "#7 - Crash"),
    ],
)
def test_the_title_is_the_original_adws(issue_class: str | None, title: str, expected: str):
    assert pull_request_title(issue_class, 7, title) == expected


def test_the_body_closes_the_issue_and_names_the_run_once():
    assert pull_request_body("## Summary\n\nDone.", 7, "abc12345") == (
        "## Summary\n\nDone.\n\nCloses #7\n\nADW ID: `abc12345`"
    )
    written = "Fixes #7.\n\nADW ID: abc12345"
    assert pull_request_body(written, 7, "abc12345") == written
    assert pull_request_body("Closes #70", 7, "a1").startswith("Closes #70\n\nCloses #7")
    assert pull_request_body("", 7, "a1") == "Closes #7\n\nADW ID: `a1`"


def test_a_long_description_is_cut_to_what_github_takes():
    body = pull_request_body("x" * 100_000, 7, "a1")
    assert len(body) < 65_536
    assert body.startswith("x" * MAX_BODY_CHARS + "\n\n(cut short)\n\nCloses #7")
