"""Checking what an agent answered against the output its step promised.

`check_output` turns the agent's final text into the value a step `save`s (always text:
the run's state is JSON, and prompts receive it verbatim), and says whether the verdict is
positive: failing tests and blocking review issues are a *rejection* (the step's
`on_reject`), while an answer of the wrong shape is an `OutputError` (the step failed).
Agents wrap JSON in prose and code fences, so the checks look for the value inside the text
rather than demanding the whole answer be it.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from adw_tui.domain.errors import AdwError
from adw_tui.domain.modeling import Model
from adw_tui.domain.workflow import StepOutput

ISSUE_CLASSES = ("/feature", "/bug", "/chore")
QUOTE_CHARS = 200
T = TypeVar("T")

_ANY_JSON = (dict, list, str, int, float, bool, type(None))
# A class alone, not part of a path or a longer word: `/bug`, not `a/bug` or `/bugs`.
_CLASS = re.compile(r"(?<![\w/])(" + "|".join(map(re.escape, ISSUE_CLASSES)) + r")\b")
_HEADING = re.compile(r"^##[ \t]+(.+?)[ \t:]*$", re.M)
# Characters that surround a path in prose or markdown, never part of one here.
_PATH_TOKEN = re.compile(r"[^\s`'\"()\[\]<>*,;|]+")
# git check-ref-format, the rules a branch name can break in practice.
_REF_BAD_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


class OutputError(AdwError):
    """The agent answered something other than the output its step promised.

    Another attempt may answer properly, so the runtime may treat it as transient.
    """

    transient: ClassVar[bool] = True


class TestResult(Model):
    """One entry of `/test`'s JSON list (the original ADW format)."""

    __test__ = False  # not a pytest test class, despite the name
    model_config = ConfigDict(extra="ignore")

    test_name: str
    passed: bool
    execution_command: str = ""
    test_purpose: str = ""
    error: str | None = None


class Severity(StrEnum):
    SKIPPABLE = "skippable"
    TECH_DEBT = "tech_debt"
    BLOCKER = "blocker"


class ReviewIssue(Model):
    model_config = ConfigDict(extra="ignore")

    review_issue_number: int
    issue_description: str
    issue_resolution: str = ""
    issue_severity: Severity
    screenshot_path: str = ""


class ReviewResult(Model):
    """`/review`'s JSON object (the original ADW format)."""

    model_config = ConfigDict(extra="ignore")

    success: bool
    review_summary: str = ""
    review_issues: list[ReviewIssue] = Field(default_factory=list)
    screenshots: list[str] = Field(default_factory=list)

    @property
    def blockers(self) -> list[ReviewIssue]:
        return [issue for issue in self.review_issues if issue.issue_severity is Severity.BLOCKER]


@dataclass(frozen=True)
class CheckedOutput:
    value: str
    """What the step's `save` stores."""
    passed: bool
    """False for a negative verdict: the step goes to `on_reject`."""
    summary: str
    """One line for logs and views."""


_TEST_RESULTS = TypeAdapter(list[TestResult])
_REVIEW = TypeAdapter(ReviewResult)


def check_output(
    kind: StepOutput, text: str, worktree: Path, sections: Sequence[str] = ()
) -> CheckedOutput:
    """Check `text`, the agent's final answer, against `kind`; raise OutputError if it is
    not that kind of output. Paths are checked inside `worktree`; a plan file must have the
    `## ` `sections` its template declared (see `templates.command_sections`)."""
    match kind:
        case StepOutput.TEXT:
            stripped = text.strip()
            return CheckedOutput(stripped, True, _first_line(stripped))
        case StepOutput.JSON:
            value = find_json(text, _ANY_JSON, "a JSON value")
            return CheckedOutput(_compact(value), True, _first_line(_compact(value)))
        case StepOutput.CLASSIFICATION:
            issue_class = _classification(text)
            return CheckedOutput(issue_class, True, issue_class)
        case StepOutput.BRANCH_NAME:
            branch = _branch_name(text)
            return CheckedOutput(branch, True, branch)
        case StepOutput.FILE:
            path = _existing_file(text, worktree)
            return CheckedOutput(path, True, path)
        case StepOutput.PLAN_FILE:
            path = _plan_file(text, worktree, sections)
            return CheckedOutput(path, True, path)
        case StepOutput.TEST_RESULTS:
            return _test_results(text)
        case StepOutput.REVIEW:
            return _review(text)


def _error(expected: str, text: str, problem: str = "") -> OutputError:
    detail = f": {problem}" if problem else ""
    quoted = json.dumps(text.strip()[:QUOTE_CHARS], ensure_ascii=False)
    return OutputError(f"expected {expected}{detail}; the agent answered {quoted}")


def _first_line(text: str) -> str:
    return text.splitlines()[0][:QUOTE_CHARS] if text else ""


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def find_json(text: str, shapes: tuple[type, ...], expected: str) -> Any:
    """The whole of `text` if it is JSON, else its first object or array, of one of `shapes`.

    Each `{` or `[` is tried in turn, so prose, code fences and bracketed words before the
    value do not matter; the value itself must be complete.
    """
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        pass
    else:
        if isinstance(whole, shapes):
            return whole
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, shapes):
            return value
    raise _error(expected, text, "no JSON found")


def _validated(adapter: TypeAdapter[T], value: Any, expected: str, text: str) -> T:
    """`value` validated by `adapter`; its first problem becomes an OutputError."""
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        problem = f"{where}: {first['msg']}" if where else first["msg"]
        raise _error(expected, text, problem) from None


def _classification(text: str) -> str:
    """One of /feature, /bug, /chore; the original ADW's `0` means the agent could not tell."""
    found = _CLASS.search(text)
    if found is None:
        raise _error(f"one of {', '.join(ISSUE_CLASSES)}", text, "could not classify the issue")
    return found.group(1)


def _branch_name(text: str) -> str:
    lines = [line.strip().strip("`'\"") for line in text.splitlines() if line.strip()]
    name = lines[-1] if lines else ""
    problem = branch_name_problem(name)
    if problem:
        raise _error("a git branch name on the last line", text, problem)
    return name


def branch_name_problem(name: str) -> str | None:
    """Why `name` is not a valid branch name, or None.

    The rules of `git check-ref-format --branch` that agents' answers break: no spaces or
    control characters, none of `~^:?*[\\`, no `..`, `//` or `@{`, no leading `-` or `/`,
    no component starting with `.`, and no trailing `/`, `.` or `.lock`.
    """
    if not name:
        return "it is empty"
    checks = (
        (
            _REF_BAD_CHARS.search(name) is not None,
            "it has a space, a control character or ~^:?*[\\",
        ),
        (".." in name, "it contains '..'"),
        ("//" in name, "it contains '//'"),
        ("@{" in name, "it contains '@{'"),
        (name.startswith(("-", "/")), "it starts with '-' or '/'"),
        (any(part.startswith(".") for part in name.split("/")), "a component starts with '.'"),
        (name.endswith(("/", ".", ".lock")), "it ends with '/', '.' or '.lock'"),
        (name == "@", "it is '@'"),
    )
    return next((problem for broken, problem in checks if broken), None)


def _existing_file(text: str, worktree: Path) -> str:
    """The last path in `text` that names a file inside `worktree`, relative to it."""
    root = worktree.resolve()
    for line in reversed(text.splitlines()):
        for token in reversed(_PATH_TOKEN.findall(line)):
            relative = _inside(token.rstrip(".:"), root)
            if relative is not None:
                return relative
    raise _error(
        "the path of a file it wrote", text, f"no line names an existing file in {worktree}"
    )


def _inside(token: str, root: Path) -> str | None:
    """`token` as a POSIX path relative to `root` if it names a file there, else None."""
    if not token or token.startswith("~"):
        return None
    candidate = Path(token) if Path(token).is_absolute() else root / token
    try:
        resolved = candidate.resolve()
        relative = resolved.relative_to(root)
    except (OSError, ValueError):
        return None
    return relative.as_posix() if resolved.is_file() else None


def _plan_file(text: str, worktree: Path, sections: Sequence[str]) -> str:
    """A non-empty file with each of `sections` as a `## ` heading (any plan when none)."""
    path = _existing_file(text, worktree)
    content = (worktree / path).read_text(encoding="utf-8", errors="replace")
    if not content.strip():
        raise OutputError(f"the plan {path} is empty: the agent wrote no plan into it")
    headings = {" ".join(heading.lower().split()) for heading in _HEADING.findall(content)}
    missing = [section for section in sections if section.lower() not in headings]
    if missing:
        raise OutputError(
            f"the plan {path} lacks the `## ` sections: {', '.join(missing)} "
            f"(its template asks for {', '.join(sections)})"
        )
    return path


def _test_results(text: str) -> CheckedOutput:
    expected = "a JSON list of {test_name, passed, execution_command, test_purpose, error}"
    value = find_json(text, (list,), expected)
    results = _validated(_TEST_RESULTS, value, expected, text)
    failed = [result.test_name for result in results if not result.passed]
    summary = f"{len(results) - len(failed)}/{len(results)} passed"
    if failed:
        summary += f"; failed: {', '.join(failed)}"
    value_text = _compact([result.model_dump(mode="json") for result in results])
    return CheckedOutput(value_text, not failed, summary)


def _review(text: str) -> CheckedOutput:
    expected = "a JSON object {success, review_summary, review_issues, screenshots}"
    value = find_json(text, (dict,), expected)
    review = _validated(_REVIEW, value, expected, text)
    blockers = len(review.blockers)
    counts = f"{len(review.review_issues)} issues, {blockers} blocking"
    summary = f"{counts}: {review.review_summary}" if review.review_summary else counts
    return CheckedOutput(review.model_dump_json(), blockers == 0, _first_line(summary))
