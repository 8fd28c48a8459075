"""The workflow graph: every built-in and a repository workflow drawn within a width,
states in execution order, transitions as arrows, loops as lanes going back up."""

from pathlib import Path

import pytest
from rich.cells import cell_len

from adw_tui.domain.workflow import WorkflowDef
from adw_tui.workflows.graph import (
    LOOP_MARK,
    MIN_WIDTH,
    execution_order,
    plain,
    reachable,
    render_graph,
)
from adw_tui.workflows.loader import load_workflows

BUILTINS = load_workflows(None)

CUSTOM = """\
name: custom
description: Build, then merge until it holds 説明
start: build
states:
  orphan:
    command: /chore
    agent: nobody
    on_success: done
  build:
    description: a_description_word_far_longer_than_any_box_can_hold_on_one_line and more
    command: /implement
    agent: builder
    on_success: check
    on_failure: failed
  check:
    description: 日本語の説明は一文字が二つのセルを使います
    action: merge
    on_success: done
    on_reject: check
    on_failure: build
  done:
    terminal: true
  failed:
    terminal: true
    action: record_failure
"""


@pytest.fixture
def custom(tmp_path: Path) -> WorkflowDef:
    """A repository workflow: explicit start, a self-loop, a back edge, an orphan."""
    folder = tmp_path / ".adw" / "workflows"
    folder.mkdir(parents=True)
    (folder / "custom.yaml").write_text(CUSTOM, encoding="utf-8")
    return load_workflows(tmp_path)["custom"].definition


def graph(workflow: WorkflowDef, width: int) -> list[str]:
    return [plain(line) for line in render_graph(workflow, width)]


def top_row(lines: list[str], state: str) -> int:
    """The row of the state's box title."""
    (row,) = [n for n, line in enumerate(lines) if line.lstrip("╭╔─═ ").startswith(f"{state} ")]
    return row


def cells(line: str) -> list[str]:
    """The line's characters by terminal column: a wide one takes two (the second "")."""
    return [part for char in line for part in ([char, ""] if cell_len(char) == 2 else [char])]


def follow_lane(lines: list[str], arrival: int) -> int:
    """From the `◀` on row `arrival` along its lane (down from `╮`, up from `╯`) to the
    lane's other end, which must be a departure (`├` on a box's border): that row."""
    grid = [cells(line) for line in lines]
    line = grid[arrival]
    column = next(n for n in range(line.index("◀"), len(line)) if line[n] in "╮╯")
    step, end = (1, "╯") if line[column] == "╮" else (-1, "╮")
    row = arrival + step
    while grid[row][column] != end:
        assert grid[row][column] in "│┼┤", (row, lines[row])
        row += step
    assert "├" in lines[row]
    return row


@pytest.mark.parametrize("name", sorted(BUILTINS))
@pytest.mark.parametrize("width", [80, 40])
def test_every_builtin_shows_every_state_and_transition(name: str, width: int) -> None:
    workflow = BUILTINS[name].definition
    lines = graph(workflow, width)
    assert lines == graph(workflow, width)  # deterministic
    order = execution_order(workflow)
    assert sorted(order) == sorted(workflow.states)
    assert [top_row(lines, state) for state in order] == sorted(
        top_row(lines, state) for state in order
    )
    assert f"{workflow.first_state} · start" in lines[0]
    text = "\n".join(lines)
    for n, (state, step) in enumerate((s, workflow.states[s]) for s in order):
        box = lines[
            top_row(lines, state) : top_row(lines, order[n + 1]) if n + 1 < len(order) else None
        ]
        for field, target in step.transitions().items():
            written = any(f"{field} → {target}" in line for line in box)
            arrow_down = order[n + 1] == target and any(
                line.strip().startswith("│ ") and field in line for line in box
            )
            assert written or arrow_down, (state, field, target)
        if step.terminal:
            assert lines[top_row(lines, state)].startswith(f"╔═ {state} ■")
    assert "unreachable" not in text


@pytest.mark.parametrize("name", sorted(BUILTINS))
@pytest.mark.parametrize("width", [10, MIN_WIDTH, 50, 80, 200])
def test_lines_fit_the_width(name: str, width: int) -> None:
    lines = graph(BUILTINS[name].definition, width)
    assert max(cell_len(line) for line in lines) <= max(width, MIN_WIDTH)


def test_execution_order_puts_each_fix_loop_under_the_state_it_fixes() -> None:
    assert execution_order(BUILTINS["sdlc"].definition) == [
        *("classify", "name_branch", "worktree", "plan", "commit_plan", "implement"),
        *("commit_build", "test", "resolve_tests", "commit_tests"),
        *("review", "review_patch", "review_implement", "commit_review"),
        *("document", "commit_docs", "pull_request", "push", "open_pr"),
        *("complete", "dead_letter"),
    ]


def test_a_loop_is_a_lane_back_up_and_a_branch_an_arrow_down() -> None:
    lines = graph(BUILTINS["test"].definition, 80)
    test = top_row(lines, "test")
    assert "◀" in lines[test]
    back = follow_lane(lines, test)
    assert lines[back].lstrip("│ ").startswith(f"on_success → test {LOOP_MARK}")
    assert back > top_row(lines, "resolve_tests")  # it leaves the box below: up, a loop
    # test branches: on_reject straight down to resolve_tests, on_success around it.
    below = lines[top_row(lines, "resolve_tests") - 2 : top_row(lines, "resolve_tests")]
    assert [line.strip()[:1] for line in below] == ["│", "▼"]
    assert "on_reject" in below[0]
    commit = top_row(lines, "commit_tests")
    skip = follow_lane(lines, commit)
    assert lines[skip].lstrip("│ ").startswith("on_success → commit_tests")
    assert test < skip < commit  # leaves the test box, arrives further down


def test_the_review_loop_spans_two_boxes() -> None:
    lines = graph(BUILTINS["review"].definition, 60)
    back = follow_lane(lines, top_row(lines, "review"))
    assert top_row(lines, "review_implement") < back
    assert "on_success → review ↺" in lines[back]


def test_too_narrow_for_lanes_the_transitions_are_still_written() -> None:
    lines = graph(BUILTINS["test"].definition, MIN_WIDTH)
    assert not any("◀" in line for line in lines)
    test_box = lines[top_row(lines, "test") : top_row(lines, "resolve_tests")]
    assert any("commit_tests" in line for line in test_box)  # on_success, wrapped
    assert any(f"test {LOOP_MARK}" in line for line in lines)


def test_a_repository_workflow(custom: WorkflowDef) -> None:
    assert execution_order(custom) == ["build", "check", "orphan", "done", "failed"]
    assert reachable(custom) == {"build", "check", "done", "failed"}
    lines = graph(custom, 40)
    assert all(cell_len(line) <= 40 for line in lines)
    assert lines[0].startswith("╭─ build · start ")
    assert "orphan · unreachable" in lines[top_row(lines, "orphan")]
    check = top_row(lines, "check")
    arrivals = [follow_lane(lines, check)]
    assert any(f"on_reject → check {LOOP_MARK}" in lines[row] for row in arrivals)
    back = follow_lane(lines, top_row(lines, "build"))
    assert f"on_failure → build {LOOP_MARK}" in lines[back]
    assert "on_success → done ■" in "\n".join(lines)
    assert lines[top_row(lines, "failed")].startswith("╔═ failed ■")
    assert any("ends the run: dead letter" in line for line in lines)
    assert any("日本語" in line for line in lines)
    assert any("a_description_word_far" in line for line in lines)
