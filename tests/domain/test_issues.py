"""Issue text as prompts quote it: a body over the cap is cut at a character boundary."""

import json
from datetime import UTC, datetime

import pytest

from adw_tui.domain.issues import Issue, truncate_utf8


@pytest.mark.parametrize("max_bytes", range(12))
def test_a_cut_never_falls_inside_a_character(max_bytes: int) -> None:
    text = "aé東😀b"  # 1, 2, 3, 4 and 1 bytes
    cut = truncate_utf8(text, max_bytes)
    assert text.startswith(cut)
    assert len(cut.encode()) <= max_bytes
    # the longest such start: one more character would not fit
    assert cut == text or len(text[: len(cut) + 1].encode()) > max_bytes


def make_issue(body: str) -> Issue:
    return Issue(number=7, title="Big <issue>", body=body, created_at=datetime.now(UTC))


def test_a_body_over_the_cap_ends_with_a_marker_naming_the_full_text() -> None:
    body = "東" * 1000  # 3000 bytes
    capped = make_issue(body).capped(100, ".adw/issue-7.md")
    kept = "東" * 33  # 99 bytes: a 34th character would make 102
    assert capped.body == (
        f"{kept}\n[... truncated: 99 of 3000 bytes; the full text is in .adw/issue-7.md]"
    )
    assert json.loads(capped.prompt_json())["body"] == capped.body
    assert capped.title == "Big <issue>"


def test_a_body_within_the_cap_is_left_as_it_is() -> None:
    issue = make_issue("x" * 100)
    assert issue.capped(100, ".adw/issue-7.md") is issue
