"""Checking agents' answers against the output their step promised."""

import json
from pathlib import Path

import pytest

from adw_tui.domain.workflow import PLAN_SECTIONS, StepOutput
from adw_tui.workflows.outputs import (
    OutputError,
    branch_name_problem,
    check_output,
)

PLAN = "specs/issue-7-adw-c0ffee01-sdlc_planner-add-a-thing.md"


def plan_text(sections: tuple[str, ...] = PLAN_SECTIONS) -> str:
    return "# Feature: add a thing\n\n" + "".join(f"## {name}\nText.\n\n" for name in sections)


def entry(name: str, passed: bool) -> dict[str, object]:
    return {
        "test_name": name,
        "passed": passed,
        "execution_command": "pytest",
        "test_purpose": "checks",
        "error": None if passed else "boom",
    }


def test_text_is_stripped_and_always_passes(tmp_path: Path) -> None:
    checked = check_output(StepOutput.TEXT, "\n  Done: two files.\nMore.\n", tmp_path)
    assert (checked.value, checked.passed, checked.summary) == (
        "Done: two files.\nMore.",
        True,
        "Done: two files.",
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1, "b": [1, 2]}', '{"a":1,"b":[1,2]}'),
        ('Here it is:\n```json\n{"a": "é"}\n```\nDone.', '{"a":"é"}'),
        ('I ran [several] checks: [1, {"x": null}] in total', '[1,{"x":null}]'),
        ("42", "42"),
    ],
)
def test_json_finds_the_first_value(tmp_path: Path, text: str, value: str) -> None:
    checked = check_output(StepOutput.JSON, text, tmp_path)
    assert (checked.value, checked.passed) == (value, True)


def test_json_missing_is_an_error_quoting_the_answer(tmp_path: Path) -> None:
    answer = "I could not do it " + "x" * 300
    with pytest.raises(OutputError) as raised:
        check_output(StepOutput.JSON, answer, tmp_path)
    message = str(raised.value)
    assert message.startswith("expected a JSON value: no JSON found; the agent answered ")
    assert json.dumps(answer[:200]) in message
    assert "x" * 201 not in message


@pytest.mark.parametrize(
    ("text", "value"),
    [("/feature", "/feature"), ("This is a bug, so: /bug", "/bug"), ("`/chore`\n", "/chore")],
)
def test_classification(tmp_path: Path, text: str, value: str) -> None:
    assert check_output(StepOutput.CLASSIFICATION, text, tmp_path).value == value


@pytest.mark.parametrize("text", ["0", "It is a feature", "/features", "a/bug"])
def test_classification_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(OutputError, match="could not classify"):
        check_output(StepOutput.CLASSIFICATION, text, tmp_path)


def test_branch_name_is_the_last_line(tmp_path: Path) -> None:
    text = "Here is the name:\n\n`feature-issue-7-adw-c0ffee01-add-a-thing`\n"
    checked = check_output(StepOutput.BRANCH_NAME, text, tmp_path)
    assert checked.value == "feature-issue-7-adw-c0ffee01-add-a-thing"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        ("has space", "a space"),
        ("a..b", "'..'"),
        ("-lead", "starts with '-'"),
        ("a~b", "~^:?*[\\"),
        ("a:b", "~^:?*[\\"),
        ("a\\b", "~^:?*[\\"),
        ("x.lock", ".lock"),
        ("x/", "ends with '/'"),
        ("a/.hidden", "starts with '.'"),
        ("a@{b", "'@{'"),
    ],
)
def test_branch_name_rules(tmp_path: Path, name: str, problem: str) -> None:
    found = branch_name_problem(name)
    assert found is not None
    assert problem in found
    with pytest.raises(OutputError, match="expected a git branch name"):
        check_output(StepOutput.BRANCH_NAME, f"The branch:\n{name}", tmp_path)


def test_valid_branch_names(tmp_path: Path) -> None:
    for name in ("feature/x-1", "bug-issue-3-adw-0a1b2c3d-crash", "a.b_c"):
        assert branch_name_problem(name) is None


def test_file_is_the_last_existing_path_inside_the_worktree(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.md").write_text("a")
    (tmp_path / "specs" / "b.md").write_text("b")
    text = f"I wrote `specs/a.md` and **specs/b.md**.\nSee {tmp_path}/specs/a.md: done.\nBye"
    assert check_output(StepOutput.FILE, text, tmp_path).value == "specs/a.md"
    assert check_output(StepOutput.FILE, "Wrote specs/b.md.", tmp_path).value == "specs/b.md"


def test_file_outside_the_worktree_or_missing_is_an_error(tmp_path: Path) -> None:
    worktree = tmp_path / "tree"
    worktree.mkdir()
    (tmp_path / "outside.md").write_text("x")
    for text in ("../outside.md", f"{tmp_path}/outside.md", "specs/missing.md", ""):
        with pytest.raises(OutputError, match="no line names an existing file"):
            check_output(StepOutput.FILE, text, worktree)


def test_plan_file_with_every_section(tmp_path: Path) -> None:
    (tmp_path / PLAN).parent.mkdir()
    text = plan_text().replace("## Implementation steps", "##  implementation STEPS:")
    (tmp_path / PLAN).write_text(text)
    checked = check_output(StepOutput.PLAN_FILE, PLAN, tmp_path, PLAN_SECTIONS)
    assert (checked.value, checked.passed) == (PLAN, True)


def test_plan_file_lists_the_missing_sections(tmp_path: Path) -> None:
    (tmp_path / PLAN).parent.mkdir()
    (tmp_path / PLAN).write_text(plan_text(PLAN_SECTIONS[:-2]) + "### Risks\n")
    with pytest.raises(OutputError) as raised:
        check_output(StepOutput.PLAN_FILE, PLAN, tmp_path, PLAN_SECTIONS)
    assert str(raised.value).startswith(
        f"the plan {PLAN} lacks the `## ` sections: Risks, Success criteria ("
    )


def test_test_results_all_passed(tmp_path: Path) -> None:
    results = [entry("unit", True), entry("lint", True)]
    text = f"Results:\n```json\n{json.dumps(results, indent=2)}\n```"
    checked = check_output(StepOutput.TEST_RESULTS, text, tmp_path)
    assert (checked.passed, checked.summary) == (True, "2/2 passed")
    assert json.loads(checked.value) == results


def test_failing_test_results_are_a_rejection(tmp_path: Path) -> None:
    results = [entry(f"t{i}", i != 2) for i in range(4)]
    checked = check_output(StepOutput.TEST_RESULTS, json.dumps(results), tmp_path)
    assert (checked.passed, checked.summary) == (False, "3/4 passed; failed: t2")
    assert json.loads(checked.value)[2]["error"] == "boom"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"test_name": "x", "passed": true}', "no JSON found"),
        ('[{"test_name": "x"}]', "0.passed: Field required"),
        ('[{"test_name": "x", "passed": "maybe"}]', "0.passed: Input should be a valid boolean"),
        ("all good", "no JSON found"),
    ],
)
def test_test_results_errors(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(OutputError) as raised:
        check_output(StepOutput.TEST_RESULTS, text, tmp_path)
    assert str(raised.value).startswith("expected a JSON list of {test_name, passed, ")
    assert f": {problem}" in str(raised.value)
    assert f"; the agent answered {json.dumps(text)}" in str(raised.value)


def review(*severities: str) -> str:
    issues = [
        {
            "review_issue_number": number,
            "issue_description": "d",
            "issue_resolution": "r",
            "issue_severity": severity,
        }
        for number, severity in enumerate(severities, start=1)
    ]
    blocked = "blocker" in severities
    body = {"success": not blocked, "review_summary": "Looks fine.", "review_issues": issues}
    return "Review done.\n" + json.dumps(body)


def test_review_without_blockers_passes(tmp_path: Path) -> None:
    checked = check_output(StepOutput.REVIEW, review("skippable", "tech_debt"), tmp_path)
    assert (checked.passed, checked.summary) == (True, "2 issues, 0 blocking: Looks fine.")
    value = json.loads(checked.value)
    assert value["screenshots"] == []
    assert [issue["issue_severity"] for issue in value["review_issues"]] == [
        "skippable",
        "tech_debt",
    ]


def test_review_with_a_blocker_is_a_rejection(tmp_path: Path) -> None:
    checked = check_output(StepOutput.REVIEW, review("tech_debt", "blocker"), tmp_path)
    assert (checked.passed, checked.summary) == (False, "2 issues, 1 blocking: Looks fine.")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (review("urgent"), "review_issues.0.issue_severity: Input should be"),
        ('{"review_summary": "x"}', "success: Field required"),
        ("[]", "no JSON found"),
    ],
)
def test_review_errors(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(OutputError) as raised:
        check_output(StepOutput.REVIEW, text, tmp_path)
    assert str(raised.value).startswith("expected a JSON object {success, ")
    assert f": {problem}" in str(raised.value)


def test_every_output_kind_is_checked(tmp_path: Path) -> None:
    """A new StepOutput must get a rule here: check_output has no fallback."""
    answers = {
        StepOutput.TEXT: "ok",
        StepOutput.JSON: "{}",
        StepOutput.CLASSIFICATION: "/bug",
        StepOutput.BRANCH_NAME: "b",
        StepOutput.FILE: "f.md",
        StepOutput.PLAN_FILE: "plan.md",
        StepOutput.TEST_RESULTS: "[]",
        StepOutput.REVIEW: '{"success": true}',
    }
    (tmp_path / "f.md").write_text("x")
    (tmp_path / "plan.md").write_text(plan_text())
    assert set(answers) == set(StepOutput)
    for kind, answer in answers.items():
        assert check_output(kind, answer, tmp_path).passed
