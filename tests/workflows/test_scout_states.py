"""Scout states in workflow files: `scouts: [...]` or `scale: N`, and one-line errors
naming the file, the state and the field when they are malformed."""

from pathlib import Path

import pytest

from adw_tui.domain.scouts import ScoutSpec
from adw_tui.workflows.graph import plain, render_graph
from adw_tui.workflows.loader import load_workflows, load_workflows_report

WORKFLOW = """\
name: scouting
states:
  scout:
{scout}
    on_success: complete
  complete:
    terminal: true
"""


def errors_of(tmp_path: Path, scout: str) -> str:
    folder = tmp_path / ".adw" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scouting.yaml").write_text(WORKFLOW.format(scout=scout))
    _, errors = load_workflows_report(tmp_path)
    assert len(errors) == 1, errors
    return str(errors[0])


def test_a_scout_state_lists_its_scouts_or_scales_the_configured_ones(tmp_path: Path) -> None:
    folder = tmp_path / ".adw" / "workflows"
    folder.mkdir(parents=True)
    scouts = (
        "    scouts: [{engine: gemini, model: gemini-2.5-flash}, {engine: claude, timeout: 60}]"
    )
    (folder / "scouting.yaml").write_text(WORKFLOW.format(scout=scouts))
    step = load_workflows(tmp_path)["scouting"].definition.states["scout"]
    assert step.is_scout
    assert step.scout_command == "/scout"
    assert step.scouts == [
        ScoutSpec(engine="gemini", model="gemini-2.5-flash"),
        ScoutSpec(engine="claude", timeout=60),
    ]
    graph = "\n".join(
        plain(line) for line in render_graph(load_workflows(tmp_path)["scouting"].definition, 60)
    )
    assert "scouts: /scout" in graph
    assert "scouts: gemini/gemini-2.5-flash, claude" in graph


@pytest.mark.parametrize(
    ("scout", "error"),
    [
        (
            "    scouts: [{engine: Gemini}]",
            'state "scout": scouts[0].engine: String should match pattern',
        ),
        ("    scouts: [{engine: claude, modle: haiku}]", 'unknown field "scouts[0].modle"'),
        (
            "    scouts: [{engine: claude, timeout: 0}]",
            "scouts[0].timeout: Input should be greater than 0",
        ),
        ("    scouts: []", "scouts: List should have at least 1 item"),
        ("    scouts: claude", "scouts: Input should be a valid list"),
        ("    scale: 0", "scale: Input should be greater than or equal to 1"),
        ("    scale: 99", "scale: Input should be less than or equal to 16"),
        ("    scale: 2\n    scouts: [{engine: claude}]", "takes `scouts` (a list) or `scale`"),
        ("    scale: 2\n    agent: scout", "a scout state has no agent"),
        ("    scale: 2\n    max_retries: 1", "a scout state has no max_retries"),
        ("    scale: 2\n    output: json", "drop `output`"),
    ],
)
def test_a_malformed_scout_state_names_the_file_state_and_field(
    tmp_path: Path, scout: str, error: str
) -> None:
    message = errors_of(tmp_path, scout)
    assert message.startswith('.adw/workflows/scouting.yaml: state "scout": ')
    assert error in message
