"""Which workflow a text asks for: `adw_<workflow>` keywords, as the original ADW read them."""

import pytest

from adw_tui.domain.issues import bot_comment
from adw_tui.triggers.keywords import (
    Choice,
    choose_for_comment,
    choose_for_issue,
    pick_workflow,
    workflow_keywords,
)
from adw_tui.workflows.loader import load_workflows

WORKFLOWS = frozenset(load_workflows(None))


@pytest.mark.parametrize(
    ("text", "workflow"),
    [
        ("adw_sdlc", "sdlc"),
        ("Please run adw_plan_build on this.", "plan_build"),
        ("adw_plan_build_test", "plan_build_test"),
        ("ADW_SDLC", "sdlc"),
        ("Adw_Plan", "plan"),
        ("adw_sdlc_iso", "sdlc"),  # the original's isolated variants
        ("adw_plan_build_iso please", "plan_build"),
        ("`adw_plan`.", "plan"),
        ("**adw_plan**", "plan"),
        ("(adw_build)", "build"),
        ("line one\nadw_test\nline three", "test"),
        ("adw_plan, then adw_sdlc", "plan"),  # the first wins
        ("adw_nope then adw_build", "build"),  # the first that names a workflow
        ("xadw_plan", None),  # inside a word
        ("adw_planner", None),  # a longer word is another name
        ("adw_plan_", None),
        ("adw_", None),
        ("adw plan", None),
        ("my_adw_plan", None),
        ("adw_unknown_workflow", None),
        ("", None),
        ("adw_plan9", None),
    ],
)
def test_the_keyword_picks_the_workflow(text: str, workflow: str | None) -> None:
    assert pick_workflow(text, WORKFLOWS)[0] == workflow


def test_unknown_names_are_reported_in_order() -> None:
    assert pick_workflow("adw_foo adw_bar_iso adw_plan adw_baz", WORKFLOWS) == (
        "plan",
        ["foo", "bar_iso"],
    )
    assert workflow_keywords("ADW_Foo and adw_x" + "y" * 80) == ["foo"]  # over 64: no keyword


def test_a_workflow_named_with_iso_is_taken_as_it_is() -> None:
    assert pick_workflow("adw_deploy_iso", {"deploy_iso", "deploy"})[0] == "deploy_iso"


def test_hostile_text_is_scanned_whole_and_safely() -> None:
    body = "\x00" * 1000 + "x" * 1_000_000 + " \x1b[31m adw_build\x00"
    assert pick_workflow(body, WORKFLOWS)[0] == "build"


def test_an_opened_issue_takes_its_keyword_else_the_default() -> None:
    assert choose_for_issue(
        "adw_build", by_bot=False, workflows=WORKFLOWS, default="plan"
    ) == Choice("build")
    assert choose_for_issue("nothing", by_bot=False, workflows=WORKFLOWS, default="plan") == Choice(
        "plan"
    )
    ignored = choose_for_issue("adw_nope", by_bot=False, workflows=WORKFLOWS, default=None)
    assert ignored.workflow is None
    assert ignored.ignored is not None
    assert "unknown: adw_nope" in ignored.ignored
    assert "ADW_WEBHOOK_DEFAULT_WORKFLOW" in ignored.ignored
    assert choose_for_issue("adw_plan", by_bot=True, workflows=WORKFLOWS, default="plan") == Choice(
        ignored="the issue was opened by a bot"
    )


def test_a_comment_needs_a_keyword_from_a_person() -> None:
    assert choose_for_comment("adw_plan", by_bot=False, workflows=WORKFLOWS) == Choice("plan")
    assert choose_for_comment("looks good", by_bot=False, workflows=WORKFLOWS).workflow is None
    assert choose_for_comment("adw_plan", by_bot=True, workflows=WORKFLOWS).workflow is None
    own = choose_for_comment(
        bot_comment("abc12345", "ops", "adw_plan"), by_bot=False, workflows=WORKFLOWS
    )
    assert own.workflow is None
    assert own.ignored is not None
    assert "[ADW-AGENTS]" in own.ignored
