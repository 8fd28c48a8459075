"""A scout's answer: the promised format or nothing; only safe paths of existing files;
merged across scouts; the aggregate as the shipped JSON Schema says."""

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adw_tui.domain.scouts import (
    REASON_CHARS,
    AnsweredFile,
    AnsweredFindings,
    KeyFindings,
    RelevantFiles,
    ScoutFinding,
    ScoutReport,
    ScoutSpec,
    ScoutStatus,
    merge_files,
    merge_findings,
    scaled,
)
from adw_tui.workflows.scout_answers import (
    MalformedAnswer,
    check_answer,
    parse_answer,
    relevant_files_schema,
    shipped_schema,
)
from tests.workflows.json_schema import assert_valid, problems


def entry(path: str, offset: int = 0, limit: int = 10, reason: str = "") -> AnsweredFile:
    return AnsweredFile(path=path, offset=offset, limit=limit, reason=reason)


def test_the_line_format_with_list_markers_backticks_and_reasons() -> None:
    answer = parse_answer(
        "Here is what I found:\n"
        "- src/app.py (offset: 10, limit: 40) - the entry point\n"
        "* `docs/guide.md` (offset: 0, limit: 0)\n"
        "3. tests/test_app.py (offset:5,limit:7): its tests\n"
        "That is all."
    )
    assert answer.files == [
        entry("src/app.py", 10, 40, "the entry point"),
        entry("docs/guide.md", 0, 0),
        entry("tests/test_app.py", 5, 7, "its tests"),
    ]


def test_the_json_format_anywhere_in_the_text() -> None:
    value = {
        "files": [{"path": "a.py", "offset": 1, "limit": 2, "reason": "r"}],
        "key_findings": {"summary": "s", "gaps": "g", "recommendations": "x"},
    }
    text = f"Sure.\n```json\n{json.dumps(value)}\n```"
    answer = parse_answer(text)
    assert answer.files == [entry("a.py", 1, 2, "r")]
    assert answer.key_findings == AnsweredFindings(summary="s", recommendations="x")
    assert parse_answer('{"files": []}').files == []  # found nothing: still an answer


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("I looked around; all is fine.", "no `<path> (offset: N, limit: M)` line"),
        ('{"files": [{"path": "a.py", "offset": -1, "limit": 2}]}', "files.0.offset"),
        ('{"files": [{"path": "a.py", "offset": "3", "limit": 2}]}', "files.0.offset"),
        ('{"files": "a.py"}', "files"),
        ("a.py (offset: 1, limit: 99999999999)", "an offset or limit over"),
        ('{"result": "a.py"}', "no `<path>"),
    ],
)
def test_anything_else_is_malformed_never_repaired(text: str, problem: str) -> None:
    with pytest.raises(MalformedAnswer, match=re.escape(problem)):
        parse_answer(text)


def test_only_relative_normalised_paths_of_files_inside_the_worktree_are_kept(
    tmp_path: Path,
) -> None:
    worktree = tmp_path / "tree"
    (worktree / "src").mkdir(parents=True)
    (worktree / "src" / "app.py").write_text("x\n")
    (tmp_path / "secret.txt").write_text("s")
    os.symlink(tmp_path / "secret.txt", worktree / "link.txt")
    names = [
        "./src/app.py",
        "src\\app.py",
        "/etc/passwd",
        "~/notes",
        "../secret.txt",
        "src/../../secret.txt",
        "link.txt",
        "src/missing.py",
        "src",
        "src/app\x1b[2J.py",
    ]
    answer = parse_answer(json.dumps({"files": [{"path": name} for name in names]}))
    checked = check_answer("scout_a_1", answer, worktree)
    assert [item.path for item in checked.finding.files] == ["src/app.py", "src/app.py"]
    problems_by_path = {item.path: item.problem for item in checked.dropped}
    assert problems_by_path["/etc/passwd"].startswith("it is absolute")
    assert problems_by_path["~/notes"].startswith("it is absolute")
    assert problems_by_path["../secret.txt"].startswith("it has `..`")
    assert problems_by_path["src/../../secret.txt"].startswith("it has `..`")
    assert problems_by_path["link.txt"] == "it leads out of the worktree"
    assert problems_by_path["src/missing.py"] == "no such file in the worktree"
    assert problems_by_path["src"] == "no such file in the worktree"
    assert problems_by_path["src/app [2J.py"] == "it has control characters"
    assert {item.scout for item in checked.dropped} == {"scout_a_1"}


def test_reasons_and_summaries_are_cleaned_and_bounded(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x")
    text = json.dumps(
        {
            "files": [{"path": "a.py", "reason": "line\none\x1b]0;t\x07" + "x" * 1000}],
            "key_findings": {"summary": "s\x9b31m", "recommendations": "r"},
        }
    )
    finding = check_answer("scout_a_1", parse_answer(text), tmp_path).finding
    [kept] = finding.files
    assert kept.reason.startswith("line one ]0;t")
    assert len(kept.reason) == REASON_CHARS
    assert finding.findings.summary == "s 31m"


def test_ranges_of_a_file_are_merged_across_scouts() -> None:
    first = ScoutFinding(
        agent="scout_a_1",
        files=[entry("a.py", 0, 10, "top"), entry("b.py", 50, 10), entry("c.py", 0, 5)],
        findings=AnsweredFindings(summary="found a", recommendations=""),
    )
    second = ScoutFinding(
        agent="scout_b_2",
        files=[entry("a.py", 5, 20, "parser"), entry("b.py", 0, 10), entry("c.py", 3, 0)],
        findings=AnsweredFindings(summary="", recommendations="start at a"),
    )
    merged = merge_files([first, second])
    assert [(m.path, m.offset, m.limit, m.scouts) for m in merged] == [
        ("a.py", 0, 25, ["scout_a_1", "scout_b_2"]),  # overlapping: their union
        ("c.py", 0, 0, ["scout_a_1", "scout_b_2"]),  # the whole file covers its ranges
        ("b.py", 0, 10, ["scout_b_2"]),  # apart: kept apart
        ("b.py", 50, 10, ["scout_a_1"]),
    ]
    assert merged[0].reason == "top; parser"
    assert merge_findings([first, second]) == ("scout_a_1: found a", "scout_b_2: start at a")


def test_scale_takes_the_first_n_then_goes_round() -> None:
    a, b = ScoutSpec(engine="gemini"), ScoutSpec(engine="claude", model="haiku")
    assert scaled([a, b], 1) == [a]
    assert scaled([a, b], 5) == [a, b, a, b, a]
    with pytest.raises(ValueError, match="set `scouts` in the settings"):
        scaled([], 2)


def test_the_shipped_schema_is_the_models_and_checks_an_aggregate() -> None:
    assert shipped_schema() == relevant_files_schema(), (
        "adw_tui/workflows/relevant_files.schema.json is stale: regenerate it with "
        "`uv run python -c 'from adw_tui.workflows.scout_answers import relevant_files_schema "
        'as s; open("adw_tui/workflows/relevant_files.schema.json", "w").write(s())\'`'
    )
    schema = json.loads(shipped_schema())
    aggregate = RelevantFiles(
        task="Count words",
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        files=merge_files(
            [ScoutFinding(agent="scout_a_1", files=[entry("a.py")], findings=AnsweredFindings())]
        ),
        key_findings=KeyFindings(
            summary="", gaps=["scout_b_2 (b): skipped: timeout: late"], recommendations=""
        ),
        scouts=[
            ScoutReport(
                agent="scout_b_2",
                engine="b",
                model="m",
                status=ScoutStatus.TIMEOUT,
                detail="late",
                files=0,
            )
        ],
        dropped=[],
        worktree_changes=None,
    )
    value = json.loads(aggregate.model_dump_json())
    assert_valid(value, schema)
    value["scouts"][0]["status"] = "lost"
    value["files"][0]["offset"] = -1
    del value["key_findings"]["gaps"]
    assert sorted(problems(value, schema, schema)) == [
        "$.files[0].offset: under 0",
        "$.key_findings: lacks gaps",
        "$.scouts[0].status: not one of ['running', 'done', 'skipped: timeout', "
        "'skipped: malformed', 'skipped: failed']",
    ]
