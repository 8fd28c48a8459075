"""The text the simulated agent writes: plans, patch plans, docs, and small Python files.

Plans name the files to create in their `## Implementation steps` section, in backticks;
`implement` reads them back from there, so plan and implementation always agree.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from adw_tui.agents.sim.issue import Issue, module_name

STEPS_HEADING = "## Implementation steps"
TEST_COMMAND = "python -m pytest -q"
_BACKTICKED_PY = re.compile(r"`([^`\s]+\.py)`")


@dataclass(frozen=True)
class Targets:
    """The two files a plan asks for: a module and its test."""

    module: str
    source: PurePosixPath
    test: PurePosixPath


def source_dir(cwd: Path) -> str:
    """The repository's top-level Python package (not tests), else `src`."""
    packages = sorted(
        child.name
        for child in cwd.iterdir()
        if child.is_dir()
        and not child.name.startswith(".")
        and child.name not in {"tests", "test"}
        and (child / "__init__.py").is_file()
    )
    return packages[0] if packages else "src"


def targets_for(cwd: Path, slug: str) -> Targets:
    module = module_name(slug)
    return Targets(
        module,
        PurePosixPath(source_dir(cwd), f"{module}.py"),
        PurePosixPath("tests", f"test_{module}.py"),
    )


def _steps(items: list[str]) -> str:
    """The implementation steps section: the given steps, then running the tests."""
    lines = [*items, f"Run `{TEST_COMMAND}` and fix anything that fails."]
    numbered = "".join(f"{i}. {line}\n" for i, line in enumerate(lines, start=1))
    return f"{STEPS_HEADING}\n{numbered}"


def render_plan(issue_class: str, adw_id: str, issue: Issue, targets: Targets) -> str:
    kind = issue_class.strip("/").capitalize() or "Feature"
    body = issue.body.strip() or "The issue gives no further detail."
    return (
        f"# {kind}: {issue.title}\n\n"
        f"## Summary\n{kind} plan for issue #{issue.number} (ADW {adw_id}): {issue.title}.\n\n"
        f"## Problem\n{body}\n\n"
        f"## Inputs\n- Issue #{issue.number}: {issue.title}\n- ADW id: `{adw_id}`\n"
        f"- Code lives in `{targets.source.parent}/`, tests in `tests/`.\n\n"
        f"## Approach\nAdd a small module `{targets.module}` exposing `{targets.module}()`, "
        "covered by one pytest test, and change nothing else.\n\n"
        + _steps(
            [
                f"Create `{targets.source}` with a function `{targets.module}()`.",
                f"Create `{targets.test}` with a pytest test of `{targets.module}()`.",
            ]
        )
        + f"\n## Testing strategy\nRun `{TEST_COMMAND}`: the new test and the old ones pass.\n\n"
        "## Risks\n- The module name could clash with an existing one; "
        "it is derived from the issue title to keep it unique.\n\n"
        f"## Success criteria\n- `{targets.module}()` returns `{_literal(targets.module)}`.\n"
        f"- `{TEST_COMMAND}` passes.\n"
    )


def render_patch(adw_id: str, change_request: str, spec: str | None, files: list[str]) -> str:
    return (
        f"# Patch: {change_request}\n\n"
        f"## Change request\n{change_request}\n\n"
        f"## Context\n- ADW id: `{adw_id}`\n- Spec: {f'`{spec}`' if spec else 'none given'}\n\n"
        + _steps([f"Create or update `{name}`." for name in files])
        + f"\n## Validation\nRun `{TEST_COMMAND}`.\n"
    )


def render_doc(adw_id: str, slug: str, spec: str | None, files: list[str]) -> str:
    title = slug.replace("-", " ").capitalize()
    built = "\n".join(f"- `{name}`" for name in files) or "- No files were listed in the spec."
    return (
        f"# {title}\n\n"
        f"**ADW ID:** {adw_id}\n"
        f"**Specification:** {f'`{spec}`' if spec else 'none'}\n\n"
        f"## Overview\n{title}, as planned and implemented by ADW run `{adw_id}`.\n\n"
        f"## What was built\n{built}\n\n"
        f"## How to use\nImport the new module and call its function.\n\n"
        f"## Testing\nRun `{TEST_COMMAND}`.\n"
    )


def planned_files(plan: str) -> list[str]:
    """The `.py` paths named in backticks in a plan's implementation steps, in order."""
    start = plan.find(STEPS_HEADING)
    if start < 0:
        return []
    section = plan[start + len(STEPS_HEADING) :]
    end = section.find("\n## ")
    found = _BACKTICKED_PY.findall(section if end < 0 else section[:end])
    return list(dict.fromkeys(found))


def plan_title(plan: str) -> str:
    first = plan.lstrip().splitlines()[0] if plan.strip() else ""
    return first.lstrip("#").strip() or "Simulated change"


def _literal(text: str) -> str:
    """A double-quoted Python string literal (the style ruff format writes)."""
    return json.dumps(text)


def render_module(module: str, title: str) -> str:
    safe_title = re.sub(r'["\\]', "", title)
    return (
        f'"""{safe_title}: written by the simulated agent."""\n\n\n'
        f"def {module}() -> str:\n"
        f'    """Return the feature\'s name, the simulated implementation\'s result."""\n'
        f"    return {_literal(module)}\n"
    )


def render_test(module: str, import_path: str | None) -> str:
    if import_path is None:
        return f"def test_{module}() -> None:\n    assert {_literal(module)}.isidentifier()\n"
    return (
        f"from {import_path} import {module}\n\n\n"
        f"def test_{module}() -> None:\n"
        f"    assert {module}() == {_literal(module)}\n"
    )


def import_path(source: str) -> str:
    """`src/foo.py` -> `src.foo`."""
    return ".".join(PurePosixPath(source).with_suffix("").parts)


def is_test_file(name: str) -> bool:
    path = PurePosixPath(name)
    return path.name.startswith("test_") or "tests" in path.parts[:-1]
