"""What each ADW slash command does in the simulation.

A handler gets the run's context and the raw argument text, performs its tool calls, and
returns the final answer text (the runner says it and puts it in the `result`). Wrong
arguments raise `ArgumentError`, failures `CommandError`: both end the run with an
execution error.
"""

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from adw_tui.agents.sim.documents import (
    import_path,
    is_test_file,
    plan_title,
    planned_files,
    render_doc,
    render_module,
    render_patch,
    render_plan,
    render_test,
    targets_for,
)
from adw_tui.agents.sim.issue import Issue, branch_name, module_name, slugify
from adw_tui.agents.sim.prompt import ArgumentError, split_json_args, split_words
from adw_tui.agents.sim.session import Session
from adw_tui.agents.sim.tools import Toolbox

# The test runner skips the cache plugin so a run leaves no .pytest_cache behind.
PYTEST_COMMAND = "python -m pytest -q -p no:cacheprovider"
_AGENT_NAME = re.compile(r"[A-Za-z_][\w-]*")


class CommandError(Exception):
    """The command could not do its job."""


@dataclass(frozen=True)
class Context:
    session: Session
    tools: Toolbox
    cwd: Path


Handler = Callable[[Context, str], str]


def _issue_args(args: str, leading: int, usage: str) -> tuple[list[str], Issue, list[str]]:
    """`leading` words, then an issue JSON, then whatever follows it."""
    parts = split_json_args(args, what="the issue")
    if len(parts.before) < leading:
        raise ArgumentError(f"usage: {usage}")
    return parts.before, Issue.from_json(parts.value), parts.after


def _words(args: str, minimum: int, usage: str) -> list[str]:
    words = split_words(args)
    if len(words) < minimum:
        raise ArgumentError(f"usage: {usage}")
    return words


def classify_issue(ctx: Context, args: str) -> str:
    _, issue, _ = _issue_args(args, 0, "/classify_issue <issue_json>")
    return issue.issue_class


def generate_branch_name(ctx: Context, args: str) -> str:
    words, issue, _ = _issue_args(
        args, 2, "/generate_branch_name <issue_class> <adw_id> <issue_json>"
    )
    return branch_name(words[0], words[1], issue)


def planner(issue_class: str) -> Handler:
    """The handler of /feature, /bug or /chore: write the plan under specs/."""

    def plan(ctx: Context, args: str) -> str:
        words, issue, _ = _issue_args(
            args, 2, f"{issue_class} <issue_number> <adw_id> <issue_json>"
        )
        number, adw_id = words[0], words[1]
        if not number.isdigit():
            number = str(issue.number)
        name = f"specs/issue-{number}-adw-{adw_id}-sdlc_planner-{issue.slug}.md"
        targets = targets_for(ctx.cwd, issue.slug)
        ctx.tools.write(
            name,
            render_plan(issue_class, adw_id, issue, targets),
            preface=f"I'll write the {issue_class.strip('/')} plan for issue #{number}.",
        )
        return name

    return plan


def plan_with_docs(ctx: Context, args: str) -> str:
    """/plan_w_docs: read the scouts' file and the documentation (stopping when either
    is missing, as the template says), then plan as the issue's class does."""
    usage = "/plan_w_docs <issue_number> <adw_id> <issue_json> <relevant_files> <documentation>"
    _, issue, inputs = _issue_args(args, 2, usage)
    if len(inputs) < 2:
        raise ArgumentError(f"usage: {usage}")
    for name in inputs[:2]:
        if ctx.tools.read(name, preface=f"Reading {name}.") is None:
            raise CommandError(f"input missing: {name} cannot be read")
    return planner(issue.issue_class)(ctx, args)


def _inside(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def implement(ctx: Context, args: str) -> str:
    plan_file = _words(args, 1, "/implement <plan_file>")[0]
    plan = ctx.tools.read(plan_file, preface=f"Let me read the plan in {plan_file}.")
    if plan is None:
        raise CommandError(f"plan file not found: {plan_file}")
    files = [name for name in planned_files(plan) if _inside(name)]
    if not files:
        return f"The plan {plan_file} lists no files to create; nothing to implement."
    sources = [name for name in files if not is_test_file(name)]
    tests = [name for name in files if is_test_file(name)]
    title = plan_title(plan)
    for source in sources:
        module = module_name(PurePosixPath(source).stem)
        ctx.tools.write(source, render_module(module, title), preface=f"Creating {source}.")
    by_stem = {PurePosixPath(source).stem: source for source in sources}
    for test in tests:
        stem = PurePosixPath(test).stem.removeprefix("test_")
        tested = by_stem.get(stem)
        ctx.tools.write(
            test,
            render_test(module_name(stem), import_path(tested) if tested else None),
            preface=f"Adding the test {test}.",
        )
    listing = "\n".join(f"- {name}" for name in [*sources, *tests])
    return f"Implemented {plan_file}:\n{listing}"


def run_tests(ctx: Context, args: str) -> str:
    """Run pytest for real when there is a tests/ folder; answer ADW's JSON list."""
    if not (ctx.cwd / "tests").is_dir():
        entry: dict[str, object] = {
            "test_name": "no tests",
            "passed": True,
            "execution_command": "",
            "test_purpose": "The repository has no tests/ folder, so there is nothing to run.",
            "error": None,
        }
    else:
        outcome = ctx.tools.bash(
            PYTEST_COMMAND, "Run the test suite", preface="Running the test suite."
        )
        passed = outcome.exit_code == 0
        entry = {
            "test_name": "pytest",
            "passed": passed,
            "execution_command": PYTEST_COMMAND,
            "test_purpose": "Runs the repository's whole pytest suite.",
            "error": None if passed else "\n".join(outcome.content.splitlines()[-20:]),
        }
    return json.dumps([entry], indent=2)


SCOUT_FILES = 5
_SCOUT_WORD = re.compile(r"[a-z][a-z0-9]{3,}")


def scout(ctx: Context, args: str) -> str:
    """List the tracked files (for real, with git) and answer, in the scout's JSON
    format, those whose path shares a word with the issue's title (the first files when
    none does), each read from its first line to its last."""
    _, issue, _ = _issue_args(args, 0, "/scout <issue_json>")
    listing = ctx.tools.bash(
        "git ls-files", "List the repository's files", preface="Let me see what is here."
    )
    names = [name for name in listing.content.splitlines() if (ctx.cwd / name).is_file()]
    words = set(_SCOUT_WORD.findall(issue.title.lower()))
    matching = [name for name in names if words & set(_SCOUT_WORD.findall(name.lower()))]
    files = [
        {
            "path": name,
            "offset": 0,
            "limit": len(
                (ctx.cwd / name).read_text(encoding="utf-8", errors="replace").splitlines()
            ),
            "reason": "its path shares a word with the issue's title"
            if matching
            else "a tracked file",
        }
        for name in (matching or names)[:SCOUT_FILES]
    ]
    findings = {
        "summary": f"{len(files)} of {len(names)} tracked files look relevant.",
        "recommendations": "Read the listed ranges before planning.",
    }
    return json.dumps({"files": files, "key_findings": findings}, indent=2)


def resolve_failed_test(ctx: Context, args: str) -> str:
    failed = split_json_args(args, what="the failed test").value
    name = failed.get("test_name") or "the failing test"
    error = failed.get("error") or "no error output was given"
    return (
        f"Investigated {name}. Reported error: {error}. "
        "The simulated agent made no changes; re-run the tests to confirm the state."
    )


def _read_spec_files(ctx: Context, spec: str | None) -> tuple[bool, list[str]]:
    """Read a spec through the Read tool: (found, the files its steps name)."""
    if not spec:
        return False, []
    text = ctx.tools.read(spec, preface=f"Reading the spec {spec}.")
    return text is not None, planned_files(text) if text else []


def review(ctx: Context, args: str) -> str:
    """Check that every file the spec names exists; each missing one is a blocker."""
    words = _words(args, 1, "/review <adw_id> <spec_file> <agent_name>")
    spec = words[1] if len(words) > 1 else None
    found, files = _read_spec_files(ctx, spec)
    missing = [name for name in files if not (ctx.cwd / name).is_file()]
    issues = [
        {
            "review_issue_number": number,
            "issue_description": f"`{name}`, named in the spec, does not exist.",
            "issue_resolution": f"Create `{name}` as the spec describes.",
            "issue_severity": "blocker",
        }
        for number, name in enumerate(missing, start=1)
    ]
    if not found:
        summary = f"The spec {spec or '(none given)'} was not found; nothing to check against."
    elif missing:
        summary = f"{len(missing)} of the {len(files)} files the spec names are missing."
    else:
        summary = f"All {len(files)} files named in {spec} exist; the work matches the spec."
    report = {"success": not missing, "review_summary": summary, "review_issues": issues}
    return json.dumps({**report, "screenshots": []}, indent=2)


def _patch_args(words: list[str]) -> tuple[str, str | None, str | None]:
    """(change request, spec path, agent name) from the words after the adw id."""
    rest = list(words)
    spec = agent = None
    if len(rest) >= 3 and rest[-2].endswith(".md") and _AGENT_NAME.fullmatch(rest[-1]):
        spec, agent = rest[-2], rest[-1]
        rest = rest[:-2]
    elif len(rest) >= 2 and rest[-1].endswith(".md"):
        spec = rest[-1]
        rest = rest[:-1]
    return " ".join(rest), spec, agent


def patch(ctx: Context, args: str) -> str:
    words = _words(args, 2, "/patch <adw_id> <change_request> [spec_path] [agent_name]")
    adw_id = words[0]
    change, spec, _agent = _patch_args(words[1:])
    slug = slugify(change) or "patch"
    _, files = _read_spec_files(ctx, spec)
    if not files:
        targets = targets_for(ctx.cwd, slug)
        files = [str(targets.source), str(targets.test)]
    name = f"specs/patch/patch-adw-{adw_id}-{slug}.md"
    ctx.tools.write(
        name, render_patch(adw_id, change, spec, files), preface="I'll write the patch plan."
    )
    return name


def _spec_slug(spec: str) -> str:
    stem = PurePosixPath(spec).stem
    named = re.fullmatch(r"issue-\d+-adw-[^-]+-sdlc_planner-(.+)", stem) or re.fullmatch(
        r"patch-adw-[^-]+-(.+)", stem
    )
    return slugify(named[1] if named else stem) or "changes"


def document(ctx: Context, args: str) -> str:
    words = _words(args, 1, "/document <adw_id> [spec_path]")
    adw_id = words[0]
    spec = words[1] if len(words) > 1 else None
    _, files = _read_spec_files(ctx, spec)
    slug = _spec_slug(spec) if spec else "changes"
    name = f"app_docs/feature-{adw_id}-{slug}.md"
    ctx.tools.write(
        name, render_doc(adw_id, slug, spec, files), preface="I'll document the change."
    )
    return name


def commit(ctx: Context, args: str) -> str:
    """Commit everything in the cwd for real; an unchanged tree is not a failure."""
    words, issue, _ = _issue_args(args, 2, "/commit <agent_name> <issue_class> <issue_json>")
    title = " ".join(issue.title.split()) or f"issue {issue.number}"
    message = f"{words[0]}: {words[1].lstrip('/')}: {title}"
    outcome = ctx.tools.bash(
        f"git add -A && git commit -m {shlex.quote(message)}",
        "Commit all changes",
        preface="Committing the changes.",
    )
    if outcome.exit_code == 0:
        return message
    if "nothing to commit" in outcome.content:
        return "Nothing to commit: the working tree is clean."
    raise CommandError(f"git commit failed: {outcome.content.strip()}")


def pull_request(ctx: Context, args: str) -> str:
    """The pull request's description: the plan's summary and the branch's commits (read
    for real with git), closing the issue."""
    words, issue, rest = _issue_args(
        args, 1, "/pull_request <branch_name> <issue_json> <plan_file> <adw_id>"
    )
    plan = rest[0] if rest else ""
    adw_id = rest[1] if len(rest) > 1 else ""
    log = ctx.tools.bash(
        "git log --oneline --no-decorate -n 20", "List the branch's commits", preface=None
    )
    commits = [f"- {line}" for line in log.content.splitlines() if line.strip()]
    parts = [
        "## Summary",
        f"{' '.join(issue.title.split())} (branch `{words[0]}`).",
        f"Plan: `{plan}`" if plan else "",
        "## Commits",
        "\n".join(commits) or "- (none)",
        f"Closes #{issue.number}",
        f"ADW ID: {adw_id}" if adw_id else "",
    ]
    return "\n\n".join(part for part in parts if part)


COMMANDS: dict[str, Handler] = {
    "classify_issue": classify_issue,
    "generate_branch_name": generate_branch_name,
    "feature": planner("/feature"),
    "bug": planner("/bug"),
    "chore": planner("/chore"),
    "implement": implement,
    "test": run_tests,
    "resolve_failed_test": resolve_failed_test,
    "review": review,
    "patch": patch,
    "document": document,
    "commit": commit,
    "pull_request": pull_request,
    "scout": scout,
    "plan_w_docs": plan_with_docs,
}
