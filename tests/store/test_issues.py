"""Local issues: numbering, comments, errors, audit entries; the local tracker over them."""

import json

import pytest

from adw_tui.domain.command_templates import expand, quote_arguments
from adw_tui.domain.errors import AdwError, IssueNotFoundError, NotFoundError
from adw_tui.domain.issues import BOT_IDENTIFIER, IssueMark, IssueState
from adw_tui.store import Store
from adw_tui.trackers.base import IssueTracker, post_status
from adw_tui.trackers.local import LocalTracker


async def test_issues_are_numbered_from_1_and_open(store: Store) -> None:
    first = await store.issues.create("  Fix the crash  ", "It crashes on start.")
    second = await store.issues.create("Add dark mode", "")
    assert (first.number, second.number) == (1, 2)
    assert first.title == "Fix the crash"
    assert first.body == "It crashes on start."
    assert first.state is IssueState.OPEN
    assert first.comments == []
    assert await store.issues.get(1) == first


async def test_get_returns_the_comments_oldest_first(store: Store) -> None:
    issue = await store.issues.create("Fix the crash", "body")
    other = await store.issues.create("Other", "")
    first = await store.issues.add_comment(issue.number, "first", author="alice")
    await store.issues.add_comment(other.number, "elsewhere", author="bob")
    second = await store.issues.add_comment(issue.number, "second", author="adw")
    loaded = await store.issues.get(issue.number)
    assert loaded.comments == [first, second]
    assert [(c.author, c.body) for c in loaded.comments] == [("alice", "first"), ("adw", "second")]
    assert first.id < second.id
    assert first.created_at <= second.created_at


async def test_list_is_newest_first_with_comments(store: Store) -> None:
    assert await store.issues.list() == []
    for title in ("one", "two", "three"):
        await store.issues.create(title, "")
    await store.issues.add_comment(1, "a", author="x")
    await store.issues.add_comment(1, "b", author="x")
    await store.issues.add_comment(3, "c", author="x")
    issues = await store.issues.list()
    assert [(i.number, i.title, len(i.comments)) for i in issues] == [
        (3, "three", 1),
        (2, "two", 0),
        (1, "one", 2),
    ]
    assert [c.body for c in issues[2].comments] == ["a", "b"]


async def test_unknown_issue_is_not_found(store: Store) -> None:
    await store.issues.create("only one", "")
    with pytest.raises(IssueNotFoundError, match=r"issue 7 not found: `adw issue ls`") as caught:
        await store.issues.get(7)
    assert isinstance(caught.value, NotFoundError)
    assert caught.value.number == 7
    with pytest.raises(IssueNotFoundError, match="issue 7 not found"):
        await store.issues.add_comment(7, "hello", author="adw")
    assert (await store.issues.get(1)).comments == []


@pytest.mark.parametrize("title", ["", "   ", "\n\t"])
async def test_an_empty_title_is_refused(store: Store, title: str) -> None:
    with pytest.raises(AdwError, match="title is empty"):
        await store.issues.create(title, "body")
    assert await store.issues.list() == []
    assert await store.audit.entries() == []


async def test_an_empty_comment_is_refused(store: Store) -> None:
    await store.issues.create("t", "")
    with pytest.raises(AdwError, match="non-empty body"):
        await store.issues.add_comment(1, "  ", author="adw")
    assert (await store.issues.get(1)).comments == []


async def test_every_write_is_audited(store: Store) -> None:
    await store.issues.create("Fix the crash", "", actor="cli")
    comment = await store.issues.add_comment(1, "on it", author="adw")
    with pytest.raises(IssueNotFoundError):
        await store.issues.add_comment(2, "nowhere", author="adw")
    entries = await store.audit.entries()
    assert [(e.actor, e.action, e.adw_id, e.detail) for e in entries] == [
        ("adw", "issue.comment", None, {"number": 1, "comment_id": comment.id}),
        ("cli", "issue.create", None, {"number": 1, "title": "Fix the crash"}),
    ]


async def test_numbers_survive_reopening(store: Store) -> None:
    await store.issues.create("one", "")
    reopened = await Store.open(store.path)
    try:
        assert (await reopened.issues.create("two", "")).number == 2
        assert [i.title for i in await reopened.issues.list()] == ["two", "one"]
    finally:
        await reopened.close()


# The local tracker


async def test_local_tracker_implements_the_protocol(store: Store) -> None:
    tracker: IssueTracker = LocalTracker(store)
    assert tracker.name == "local"
    issue = await tracker.create_issue("Fix the crash", "details")
    assert issue.number == 1
    comment = await tracker.comment(1, "looking")
    assert (comment.author, comment.body, comment.from_bot) == ("adw", "looking", False)
    listed = [issue async for issue in tracker.issues(state=IssueState.OPEN)]
    assert [(i.number, i.title, i.comments) for i in listed] == [(1, "Fix the crash", 1)]
    assert await tracker.count_issues() == 1
    await tracker.mark(1, IssueMark.RUNNING)  # no labels here: nothing happens
    await tracker.close_issue(1)
    await tracker.close_issue(1)  # closed already: nothing more is written
    assert (await tracker.get_issue(1)).state is IssueState.CLOSED
    assert [i async for i in tracker.issues(state=IssueState.OPEN)] == []
    assert [e.action for e in await store.audit.entries()] == [  # newest first
        "issue.close",
        "issue.comment",
        "issue.create",
    ]
    assert {e.actor for e in await store.audit.entries()} == {"adw"}
    with pytest.raises(IssueNotFoundError):
        await tracker.get_issue(2)
    with pytest.raises(IssueNotFoundError):
        await tracker.close_issue(2)


async def test_post_status_uses_the_adw_comment_format(store: Store) -> None:
    tracker = LocalTracker(store)
    await tracker.create_issue("Fix the crash", "")
    comment = await post_status(tracker, 1, "a1b2c3d4", "sdlc_planner", "Plan ready")
    assert comment.body == f"{BOT_IDENTIFIER} a1b2c3d4_sdlc_planner: Plan ready"
    assert comment.from_bot
    assert (await tracker.get_issue(1)).comments == [comment]


async def test_the_prompt_json_is_compact_as_the_original_passed_it(store: Store) -> None:
    issue = await store.issues.create("Café menu", 'Say "bonjour".')
    assert issue.prompt_json() == '{"number":1,"title":"Café menu","body":"Say \\"bonjour\\"."}'


async def test_the_prompt_json_escapes_the_bangs_claude_code_would_rewrite(store: Store) -> None:
    """Claude Code writes a `!` after whitespace as `\\!` when it fills a value in, which is
    no JSON escape; `\\u0021` is, and reads back as the same text."""
    issue = await store.issues.create("Wow! it works !now", "run `!ls`, then a!` and <b>")
    fenced = issue.prompt_json()
    assert fenced == (
        '{"number":1,"title":"Wow! it works \\u0021now",'
        '"body":"run `\\u0021ls`, then a\\u0021` and \\u003cb\\u003e"}'
    )
    assert json.loads(expand("$0", quote_arguments([fenced]))) == {
        "number": 1,
        "title": "Wow! it works !now",
        "body": "run `!ls`, then a!` and <b>",
    }
