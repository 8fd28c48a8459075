"""Rendering commands into prompts, and the simulated agent carrying the built-ins."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from adw_tui.domain.workflow import PLAN_SECTIONS, Action, StepOutput, WorkflowDef, substitute
from adw_tui.workflows.loader import get_workflow
from adw_tui.workflows.outputs import OutputError, check_output
from adw_tui.workflows.templates import (
    TemplateError,
    bundled_commands,
    bundled_template,
    command_sections,
    declared_sections,
    render_command,
)

SIM = [sys.executable, "-m", "adw_tui.agents.sim"]
ISSUE = {"number": 7, "title": "Add a greeting helper", "body": "Say hello to the user."}
BUILTIN_COMMANDS = {
    "classify_issue",
    "generate_branch_name",
    "feature",
    "bug",
    "chore",
    "implement",
    "test",
    "resolve_failed_test",
    "review",
    "patch",
    "document",
    "commit",
    "pull_request",
    "scout",
    "plan_w_docs",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a package and a passing test, on branch main."""
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "app" / "__init__.py").write_text("")
    (repo / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "T")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "initial")
    return repo


def run_sim(prompt: str, cwd: Path) -> dict[str, Any]:
    """Run the simulated agent like the engine does; return its `result` line."""
    env = {**os.environ, "ADW_SIM_DELAY": "0", "ADW_SIM_FAULTS": ""}
    env["ADW_SIM_STATE_DIR"] = str(cwd.parent / "sim-state")
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    done = subprocess.run(
        [*SIM, "-p", prompt, "--output-format", "stream-json", "--verbose"],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["type"] == "result", done.stdout
    return result


def test_a_repository_template_is_sent_as_a_slash_command(tmp_path: Path) -> None:
    commands = tmp_path / ".claude" / "commands"
    (commands / "team").mkdir(parents=True)
    (commands / "implement.md").write_text("Implement $ARGUMENTS\n")
    (commands / "team" / "check.md").write_text("Check\n")
    assert render_command("/implement", ["specs/a.md"], tmp_path) == "/implement specs/a.md"
    assert render_command("implement", [], tmp_path) == "/implement"
    # What is no plain word is quoted, so that Claude Code reads it back as one argument.
    assert render_command("/team:check", ["a", "b c"], tmp_path) == "/team:check a 'b c'"


def test_a_repository_template_is_expanded_by_adw_for_an_engine_that_cannot(
    tmp_path: Path,
) -> None:
    commands = tmp_path / ".claude" / "commands"
    (commands / "team").mkdir(parents=True)
    (commands / "implement.md").write_text("---\ndescription: x\n---\nImplement $0 then $1\n")
    (commands / "team" / "check.md").write_text("Check\n")
    prompt = render_command("/implement", ["specs/a.md", "b c"], tmp_path, agent_expands=False)
    assert prompt == (
        "<command-message>implement</command-message>\n<command-name>/implement</command-name>\n"
        "<command-args>specs/a.md 'b c'</command-args>\nImplement specs/a.md then b c\n"
    )
    # The repository's template wins over a bundled one of the same name.
    assert "Check" in render_command("/team:check", [], tmp_path, agent_expands=False)
    assert "Implement specs/a.md" not in render_command("/implement", ["x"], tmp_path)


def test_a_bundled_template_is_expanded_with_the_claude_code_markers(tmp_path: Path) -> None:
    issue = json.dumps({**ISSUE, "title": "Don't panic"})
    quoted = "'" + issue.replace("'", "'\"'\"'") + "'"
    prompt = render_command("/generate_branch_name", ["/feature", "c0ffee01", issue], tmp_path)
    message, name, args, body = prompt.split("\n", 3)
    assert message == "<command-message>generate_branch_name</command-message>"
    assert name == "<command-name>/generate_branch_name</command-name>"
    assert args == f"<command-args>/feature c0ffee01 {quoted}</command-args>"
    assert not body.startswith("---")  # the front matter is Claude Code's, not the prompt's
    # $0, $1, $2: each argument whole, the issue's JSON as it was, unquoted.
    assert "issue_class: /feature\nadw_id: c0ffee01\nissue_json: " + issue + "\n" in body
    assert "$" not in body.replace("${", "")


def test_a_bundled_template_is_expanded_with_its_arguments_whole_past_the_parse_limit(
    tmp_path: Path,
) -> None:
    """Beyond 10,000 characters Claude Code splits arguments at whitespace; adw, which has
    the values, still fills each in whole."""
    issue = json.dumps({**ISSUE, "body": "word " * 3000})
    prompt = render_command("/generate_branch_name", ["/feature", "c0ffee01", issue], tmp_path)
    assert "issue_json: " + issue + "\n" in prompt


def test_an_unknown_command_is_a_permanent_template_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as raised:
        render_command("/deploy", [], tmp_path)
    assert str(raised.value) == "no template for /deploy: add .claude/commands/deploy.md"
    assert raised.value.transient is False
    with pytest.raises(TemplateError, match="invalid command"):
        render_command("/has space", [], tmp_path)


def test_every_command_of_the_builtins_is_bundled() -> None:
    assert set(bundled_commands()) == BUILTIN_COMMANDS


@pytest.mark.parametrize("command", ["feature", "bug", "chore", "plan_w_docs"])
def test_plan_templates_ask_for_the_eight_sections_and_the_path(command: str) -> None:
    template = bundled_template(command)
    assert template is not None
    for section in PLAN_SECTIONS:
        assert f"`## {section}`" in template
    assert "specs/issue-<issue_number>-adw-<adw_id>-sdlc_planner-<slug>.md" in template


@pytest.mark.parametrize("command", ["feature", "bug", "chore", "plan_w_docs"])
def test_plan_templates_declare_the_eight_sections(command: str, repo: Path) -> None:
    assert command_sections(f"/{command}", repo) == PLAN_SECTIONS


ORIGINAL_FEATURE = """# Feature Planning

Create a plan in `specs/*.md` to implement the feature using the `Plan Format` below.

## Plan Format

```md
# Feature: <feature name>
## Feature Description
## User Story
## Step by Step Tasks
## Acceptance Criteria
```

## Feature
$ARGUMENTS
"""


def test_a_repository_template_without_sections_accepts_its_own_plan(repo: Path) -> None:
    """An original ADW `/feature` template declares nothing: its plan, with other
    sections than the bundled template's, is accepted as long as it has content."""
    commands = repo / ".claude" / "commands"
    commands.mkdir(parents=True)
    (commands / "feature.md").write_text(ORIGINAL_FEATURE)
    plan = repo / "specs" / "feature-add-greeting.md"
    plan.parent.mkdir()
    plan.write_text("# Feature: greeting\n## Feature Description\nSay hello.\n")
    sections = command_sections("/feature", repo)
    assert sections == ()
    checked = check_output(StepOutput.PLAN_FILE, "specs/feature-add-greeting.md", repo, sections)
    assert (checked.value, checked.passed) == ("specs/feature-add-greeting.md", True)
    plan.write_text("\n")
    with pytest.raises(OutputError, match="is empty"):
        check_output(StepOutput.PLAN_FILE, "specs/feature-add-greeting.md", repo, sections)


def test_a_repository_template_may_declare_its_sections(repo: Path) -> None:
    commands = repo / ".claude" / "commands"
    commands.mkdir(parents=True)
    front = (
        "---\nargument-hint: [adw_id] [issue_json]\n"
        "sections: [Feature Description, 'User Story']\n---\n"
    )
    (commands / "feature.md").write_text(front + ORIGINAL_FEATURE)
    assert command_sections("/feature", repo) == ("Feature Description", "User Story")
    assert declared_sections(ORIGINAL_FEATURE) == ()


@pytest.mark.parametrize(
    ("command", "needles"),
    [
        ("classify_issue", ["`/feature`", "`/bug`", "`/chore`", "exactly one"]),
        ("test", ["test_name", "passed", "execution_command", "test_purpose", '"error"']),
        (
            "review",
            ["review_summary", "review_issue_number", "issue_resolution", "tech_debt", "blocker"],
        ),
        ("generate_branch_name", ["-issue-<issue_number>-adw-<adw_id>-<slug>"]),
    ],
)
def test_templates_state_their_output_format(command: str, needles: list[str]) -> None:
    template = bundled_template(command)
    assert template is not None
    for needle in needles:
        assert needle in template


def test_the_simulated_agent_recognises_a_rendered_template(repo: Path) -> None:
    bug = {**ISSUE, "title": "Crash on start"}
    prompt = render_command("/classify_issue", [json.dumps(bug)], repo)
    assert prompt.startswith("<command-message>classify_issue</command-message>\n")
    result = run_sim(prompt, repo)
    assert result["is_error"] is False
    assert result["result"] == "/bug"
    assert (
        check_output(
            get_workflow("plan", None).definition.states["classify"].output, result["result"], repo
        ).value
        == "/bug"
    )


def walk(workflow: WorkflowDef, state: dict[str, str], repo: Path) -> list[str]:
    """Interpret `workflow` with the simulated agent, the way the runtime does, with the
    actions stubbed (the worktree is `repo` itself, merge does nothing) and every `when`
    true. Return the states visited, the terminal one last."""
    visits: Counter[str] = Counter()
    name, trail = workflow.first_state, []
    while not workflow.states[name].terminal:
        step = workflow.states[name]
        visits[name] += 1
        if step.max_visits is not None and visits[name] > step.max_visits:
            name = step.on_exhausted or step.on_failure or "dead_letter"
            continue
        trail.append(name)
        passed = True
        if step.action is Action.SETUP_WORKTREE:
            state["worktree_path"] = str(repo)
        elif step.command is not None:
            command = substitute(step.command, state)
            prompt = render_command(command, [substitute(arg, state) for arg in step.args], repo)
            result = run_sim(prompt, repo)
            assert result["is_error"] is False, (name, result["result"])
            sections = command_sections(command, repo)
            checked = check_output(step.output, result["result"], repo, sections)
            if step.save:
                state[step.save] = checked.value
            passed = checked.passed
        next_state = step.on_success if passed else step.on_reject or step.on_failure
        assert next_state is not None
        name = next_state
    return [*trail, name]


def run_state(adw_id: str = "c0ffee01") -> dict[str, str]:
    return {
        "adw_id": adw_id,
        "issue_number": str(ISSUE["number"]),
        "issue_title": str(ISSUE["title"]),
        "issue_body": str(ISSUE["body"]),
        "issue_json": json.dumps(ISSUE),
        "base_branch": "main",
        "model_set": "base",
        "backend_port": "9100",
        "frontend_port": "9200",
    }


@pytest.mark.slow
def test_the_simulated_agent_carries_sdlc_zte_end_to_end(repo: Path) -> None:
    workflow = get_workflow("sdlc_zte", None).definition
    state = run_state()
    trail = walk(workflow, state, repo)
    assert trail == [
        "classify",
        "name_branch",
        "worktree",
        "plan",
        "commit_plan",
        "implement",
        "commit_build",
        "test",
        "commit_tests",
        "review",
        "commit_review",
        "document",
        "commit_docs",
        "pull_request",
        "push",  # skipped: the local tracker hosts no repository
        "open_pr",
        "ship",
        "complete",
    ]
    assert state["issue_class"] == "/feature"
    assert state["branch_name"] == "feature-issue-7-adw-c0ffee01-add-a-greeting-helper"
    assert state["plan_file"] == "specs/issue-7-adw-c0ffee01-sdlc_planner-add-a-greeting-helper.md"
    assert state["doc_file"].startswith("app_docs/feature-c0ffee01-")
    assert json.loads(state["review_result"])["success"] is True
    log = git(repo, "log", "--format=%s")
    assert "sdlc_planner: feature: Add a greeting helper" in log
    assert "sdlc_implementor: feature: Add a greeting helper" in log
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.slow
def test_review_patches_blockers_then_passes(repo: Path) -> None:
    """A run planned but never built: the review finds the planned files missing (blockers),
    the patch plans them, the implementor writes them, and the second review passes."""
    state = run_state()
    assert walk(get_workflow("plan", None).definition, state, repo)[-1] == "complete"
    trail = walk(get_workflow("review", None).definition, state, repo)
    assert trail == [
        "worktree",
        "review",
        "review_patch",
        "review_implement",
        "review",
        "commit_review",
        "complete",
    ]
    assert state["patch_file"].startswith("specs/patch/patch-adw-c0ffee01-")


@pytest.mark.slow
def test_failing_tests_are_resolved_at_most_four_times(repo: Path) -> None:
    (repo / "tests" / "test_broken.py").write_text("def test_broken():\n    assert 1 == 2\n")
    state = {**run_state(), "issue_class": "/bug", "branch_name": "bug-x"}
    trail = walk(get_workflow("test", None).definition, state, repo)
    assert trail == ["worktree", *["test", "resolve_tests"] * 4, "test", "dead_letter"]
    assert json.loads(state["test_results"])[0]["passed"] is False
