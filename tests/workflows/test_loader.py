"""Loading workflows: the built-ins, repository overrides, and one-line errors."""

import re
from pathlib import Path

import pytest

from adw_tui.domain.errors import AdwError
from adw_tui.domain.workflow import DEFAULT_MAX_VISITS, Action, WorkflowDef
from adw_tui.workflows.loader import (
    RUN_VARIABLES,
    WorkflowError,
    get_workflow,
    load_workflows,
    load_workflows_report,
    parse_workflow,
)
from adw_tui.workflows.templates import bundled_template

BUILTINS = {
    "plan",
    "build",
    "test",
    "review",
    "document",
    "patch",
    "ship",
    "sdlc",
    "sdlc_zte",
    "plan_build",
    "plan_build_test",
    "plan_build_review",
    "plan_build_test_review",
    "plan_build_document",
    "scout_plan_build",
    "plan_w_docs",
}
# Each composite runs these single-phase workflows' main lines in order, then opens the PR.
COMPOSITES = {
    "plan_build": ["build"],
    "plan_build_test": ["build", "test"],
    "plan_build_review": ["build", "review"],
    "plan_build_test_review": ["build", "test", "review"],
    "plan_build_document": ["build", "document"],
    "sdlc": ["build", "test", "review", "document"],
    "sdlc_zte": ["build", "test", "review", "document", "ship"],
}
SINGLE_PHASE = {"build", "test", "review", "document", "patch", "ship"}
# The description, then the push and the pull request (with a tracker that hosts the repo).
PR_STATES = ["pull_request", "push", "open_pr"]

VALID = """\
name: mine
description: a repository workflow
states:
  plan:
    command: /feature
    agent: sdlc_planner
    args: ["${issue_number}", "${adw_id}", "${issue_json}"]
    output: plan_file
    on_success: complete
  complete:
    terminal: true
"""


def write(repo: Path, name: str, text: str) -> Path:
    path = repo / ".adw" / "workflows" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def error_of(repo: Path) -> str:
    _, errors = load_workflows_report(repo)
    assert len(errors) == 1, errors
    return str(errors[0])


def main_line(workflow: WorkflowDef) -> list[str]:
    """The states visited from the start when every step succeeds, the terminal included."""
    name, line = workflow.first_state, []
    while True:
        line.append(name)
        step = workflow.states[name]
        if step.terminal:
            return line
        assert step.on_success is not None
        name = step.on_success


@pytest.fixture(scope="module")
def builtins() -> dict[str, WorkflowDef]:
    return {name: loaded.definition for name, loaded in load_workflows(None).items()}


def test_every_builtin_loads_from_the_package(tmp_path: Path) -> None:
    workflows = load_workflows(None)
    assert set(workflows) == BUILTINS
    for name, loaded in workflows.items():
        assert loaded.builtin
        assert loaded.source == f"builtin/{name}.yaml"
        assert loaded.definition.description
    # A repository without .adw/workflows has exactly the built-ins.
    assert set(load_workflows(tmp_path)) == BUILTINS


def test_every_builtin_ends_in_complete_or_dead_letter(builtins: dict[str, WorkflowDef]) -> None:
    for workflow in builtins.values():
        assert workflow.states["complete"].terminal
        dead_letter = workflow.states["dead_letter"]
        assert dead_letter.terminal
        assert dead_letter.action is Action.RECORD_FAILURE
        assert [name for name, step in workflow.states.items() if step.terminal] == [
            "complete",
            "dead_letter",
        ]
        assert main_line(workflow)[-1] == "complete"


def test_every_builtin_state_is_reachable(builtins: dict[str, WorkflowDef]) -> None:
    for name, workflow in builtins.items():
        seen, todo = set(), [workflow.first_state]
        while todo:
            state = todo.pop()
            if state not in seen:
                seen.add(state)
                todo.extend(workflow.states[state].transitions().values())
        assert seen == set(workflow.states), name


def test_builtins_read_only_variables_a_run_has(builtins: dict[str, WorkflowDef]) -> None:
    """The run's variables, what the workflow saves, and the issue class a plan saved."""
    for name, workflow in builtins.items():
        saved = {step.save for step in workflow.states.values() if step.save}
        for state, step in workflow.states.items():
            unknown = step.variables() - RUN_VARIABLES - saved - {"issue_class"}
            assert not unknown, f"{name}.{state} reads {unknown}"


def test_builtin_commands_all_have_bundled_templates(builtins: dict[str, WorkflowDef]) -> None:
    for workflow in builtins.values():
        for step in workflow.states.values():
            if step.command == "${issue_class}":
                names = ["feature", "bug", "chore"]
            elif step.command is not None:
                names = [step.command.removeprefix("/")]
            else:
                continue
            for command in names:
                assert bundled_template(command) is not None, command


def test_single_phase_workflows_continue_a_run_in_its_worktree(
    builtins: dict[str, WorkflowDef],
) -> None:
    for name in SINGLE_PHASE:
        workflow = builtins[name]
        assert workflow.states[workflow.first_state].action is Action.SETUP_WORKTREE, name
    assert main_line(builtins["ship"]) == ["worktree", "ship", "complete"]
    assert builtins["ship"].states["ship"].action is Action.MERGE


def test_plan_mirrors_the_original_adw(builtins: dict[str, WorkflowDef]) -> None:
    plan = builtins["plan"]
    assert main_line(plan) == [
        "classify",
        "name_branch",
        "worktree",
        "plan",
        "commit_plan",
        *PR_STATES,
        "complete",
    ]
    states = plan.states
    assert (states["classify"].output, states["classify"].save) == ("classification", "issue_class")
    assert (states["name_branch"].output, states["name_branch"].save) == (
        "branch_name",
        "branch_name",
    )
    assert states["plan"].command == "${issue_class}"
    assert (states["plan"].agent, states["plan"].output, states["plan"].save) == (
        "sdlc_planner",
        "plan_file",
        "plan_file",
    )
    assert states["commit_plan"].args[0] == "sdlc_planner"


def test_loops_are_bounded(builtins: dict[str, WorkflowDef]) -> None:
    test, resolve = builtins["test"].states["test"], builtins["test"].states["resolve_tests"]
    assert (test.output, test.on_reject) == ("test_results", "resolve_tests")
    assert (resolve.max_visits, resolve.on_exhausted, resolve.on_success) == (
        4,
        "dead_letter",
        "test",
    )
    review = builtins["review"].states
    assert (review["review"].output, review["review"].on_reject) == ("review", "review_patch")
    assert review["review_patch"].max_visits == 2
    assert review["review_patch"].on_success == "review_implement"
    assert review["review_implement"].on_success == "review"
    assert builtins["document"].states["document"].when == "diff_not_empty"


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composites_chain_the_phases(builtins: dict[str, WorkflowDef], name: str) -> None:
    """Same states as the phases they are made of, joined in order: no drift between files."""
    workflow = builtins[name]
    plan_line = main_line(builtins["plan"])
    expected = plan_line[: plan_line.index(PR_STATES[0])]
    for phase in COMPOSITES[name]:
        phase_line = main_line(builtins[phase])[1:-1]  # without its worktree and complete
        if phase == "ship":
            expected += PR_STATES
        expected += phase_line
    if PR_STATES[0] not in expected:
        expected += PR_STATES
    assert main_line(workflow) == [*expected, "complete"]
    sources = [builtins["plan"], *(builtins[phase] for phase in COMPOSITES[name])]
    for state, step in workflow.states.items():
        origin = next(source for source in sources if state in source.states)
        assert step.model_dump(exclude={"on_success"}) == origin.states[state].model_dump(
            exclude={"on_success"}
        ), f"{name}.{state} differs from {origin.name}.{state}"


def test_a_repository_file_overrides_a_builtin_by_name(tmp_path: Path) -> None:
    write(tmp_path, "my_sdlc.yaml", VALID.replace("name: mine", "name: sdlc"))
    write(tmp_path, "extra.yml", VALID)
    workflows = load_workflows(tmp_path)
    assert set(workflows) == BUILTINS | {"mine"}
    sdlc = workflows["sdlc"]
    assert (sdlc.builtin, sdlc.source) == (False, ".adw/workflows/my_sdlc.yaml")
    assert list(sdlc.definition.states) == ["plan", "complete"]
    assert get_workflow("mine", tmp_path).source == ".adw/workflows/extra.yml"


def test_a_lookup_parses_only_the_files_that_changed(tmp_path: Path) -> None:
    write(tmp_path, "extra.yml", VALID)
    get_workflow("mine", tmp_path)  # the first lookup parses what is not parsed yet
    before = parse_workflow.cache_info()
    assert get_workflow("mine", tmp_path).definition.states["plan"].command == "/feature"
    after = parse_workflow.cache_info()
    assert after.misses == before.misses  # nothing parsed again
    write(tmp_path, "extra.yml", VALID.replace("/feature", "/chore"))
    assert get_workflow("mine", tmp_path).definition.states["plan"].command == "/chore"
    assert parse_workflow.cache_info().misses == after.misses + 1  # the changed file only


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            VALID.replace("on_success: complete", "on_success: nope"),
            'x.yaml: state "plan": on_success: names unknown state "nope"',
        ),
        (
            VALID.replace("    command:", "    comand:"),
            'x.yaml: state "plan": unknown field "comand"',
        ),
        (
            VALID.replace("    output: plan_file", "    output: plan"),
            'x.yaml: state "plan": output: Input should be',
        ),
        (
            VALID.replace("    agent: sdlc_planner\n", ""),
            'x.yaml: state "plan": a command state needs `agent`',
        ),
        (
            VALID.replace('"${issue_json}"]', '"${issue_json}", 7]'),
            'x.yaml: state "plan": args[3]: Input should be a valid string',
        ),
        (VALID.replace("name: mine\n", ""), 'x.yaml: missing field "name"'),
        (VALID + "colour: blue\n", 'x.yaml: unknown field "colour"'),
        (VALID.replace("name: mine", "name: Mine"), "x.yaml: name: String should match"),
        (
            VALID.replace("states:", "start: nowhere\nstates:"),
            'x.yaml: start: names unknown state "nowhere"',
        ),
        (
            VALID.replace("  complete:\n    terminal: true\n", "")
            + "  complete:\n    command: /x\n    agent: a\n    on_success: plan\n",
            "x.yaml: a workflow needs at least one terminal state",
        ),
        ("- just\n- a list\n", "x.yaml: expected a mapping with `name` and `states`, got a list"),
        ("", "x.yaml: expected a mapping with `name` and `states`, got nothing"),
    ],
)
def test_schema_errors_name_the_file_state_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    write(tmp_path, "x.yaml", text)
    assert error_of(tmp_path).startswith(f".adw/workflows/{message}")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    lines = VALID.splitlines()
    lines[6] = "    args: [unclosed"  # line 7
    write(tmp_path, "x.yaml", "\n".join(lines))
    assert re.fullmatch(r"\.adw/workflows/x\.yaml line \d+: invalid YAML: .+", error_of(tmp_path))
    write(tmp_path, "x.yaml", VALID.replace("    agent: sdlc_planner", "    agent: a: b"))
    # libyaml and PyYAML word it differently.
    assert error_of(tmp_path).startswith(
        ".adw/workflows/x.yaml line 6: invalid YAML: mapping values are not allowed"
    )


def test_a_state_defined_twice_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "x.yaml", VALID + "  plan:\n    terminal: true\n")
    assert error_of(tmp_path) == (
        ".adw/workflows/x.yaml line 12: invalid YAML: duplicate key 'plan'"
    )


def test_two_repository_files_may_not_share_a_name(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    write(tmp_path, "b.yaml", VALID)
    assert error_of(tmp_path) == (
        '.adw/workflows/b.yaml: name "mine" is already defined by .adw/workflows/a.yaml'
    )


def test_a_broken_file_does_not_hide_the_others(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", VALID)
    write(tmp_path, "bad.yaml", "name: a: b\n")
    write(
        tmp_path, "worse.yaml", VALID.replace("name: mine", "name: other").replace("/feature", "")
    )
    workflows, errors = load_workflows_report(tmp_path)
    assert set(workflows) == BUILTINS | {"mine"}
    assert [error.source for error in errors] == [
        ".adw/workflows/bad.yaml line 1",
        ".adw/workflows/worse.yaml",
    ]
    with pytest.raises(WorkflowError) as raised:
        load_workflows(tmp_path)
    assert str(raised.value).startswith(".adw/workflows/bad.yaml line 1: invalid YAML:")
    assert str(raised.value).endswith("(and 1 more: `adw workflows` lists them)")
    assert "\n" not in str(raised.value)


def test_a_broken_file_stops_only_runs_of_its_own_workflow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "good.yaml", VALID)
    write(tmp_path, "bad.yaml", "name: a: b\n")

    assert get_workflow("mine", tmp_path).source == ".adw/workflows/good.yaml"
    assert get_workflow("plan", tmp_path).builtin
    assert ".adw/workflows/bad.yaml line 1: invalid YAML" in caplog.text
    with pytest.raises(WorkflowError, match=r"^\.adw/workflows/bad\.yaml line 1: invalid YAML"):
        get_workflow("broken_one", tmp_path)


def test_a_loop_with_no_way_out_names_its_states(tmp_path: Path) -> None:
    loop = VALID.replace("on_success: complete", "on_success: fix\n    on_failure: fix") + (
        "  fix:\n    command: /patch\n    agent: fixer\n"
        "    on_success: plan\n    on_failure: plan\n"
    )
    write(tmp_path, "x.yaml", loop)
    assert error_of(tmp_path) == (
        '.adw/workflows/x.yaml: states "plan", "fix" can never reach a terminal state '
        "(every transition leads back among them): point an on_failure or on_exhausted "
        "at a terminal state"
    )


def test_a_state_without_max_visits_is_bounded_by_the_default() -> None:
    plan = parse_workflow("x.yaml", VALID).states["plan"]
    assert plan.max_visits is None
    assert plan.visit_limit == DEFAULT_MAX_VISITS


def test_an_unknown_workflow_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(AdwError, match=r'unknown workflow "nope"; known workflows: build, '):
        get_workflow("nope", tmp_path)


def test_the_readme_example_is_a_valid_workflow() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("## Workflows\n") :]
    example = section[section.index("```yaml\n") + 8 : section.index("\n```\n")]
    workflow = parse_workflow("README.md", example)
    assert workflow.first_state == "classify"
    assert set(workflow.states["test"].transitions().values()) == {"complete", "resolve"}
