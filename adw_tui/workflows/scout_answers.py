"""Reading a scout's answer: the promised format or nothing, and only paths that are safe.

A scout answers either the seed's lines, `<path> (offset: N, limit: M)` (a list marker
and a trailing ` - reason` allowed), or its JSON object `{"files": [{"path", "offset",
"limit", "reason"}], "key_findings": {...}}` anywhere in its text. Anything else is
malformed: the scout is skipped, never repaired (`MalformedAnswer`).

What a well-formed answer names is still a model's text. Each path must be relative,
normalised and inside the worktree (no `..`, no absolute path, no control character, no
symbolic link out of it) and name an existing file; the others are dropped, each with its
reason, for the aggregate to record. Reasons and summaries lose their control characters
and are cut to a bounded length: they go into the plan's prompt.
"""

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import ClassVar

from pydantic import TypeAdapter, ValidationError

from adw_tui.domain.errors import AdwError
from adw_tui.domain.scouts import (
    MAX_LINE,
    REASON_CHARS,
    SUMMARY_CHARS,
    AnsweredFile,
    AnsweredFindings,
    DroppedFile,
    RelevantFiles,
    ScoutAnswer,
    ScoutFinding,
    bounded,
)
from adw_tui.workflows.outputs import OutputError, find_json

SCHEMA_FILE = "relevant_files.schema.json"
"""The JSON Schema of `relevant_files.json`, shipped beside the workflows."""

_LINE = re.compile(
    r"^[ \t]*(?:[-*+][ \t]+|\d+[.)][ \t]+)?`?(?P<path>[^`\s][^`\n]*?)`?[ \t]*"
    r"\([ \t]*offset:[ \t]*(?P<offset>\d+)[ \t]*,[ \t]*limit:[ \t]*(?P<limit>\d+)[ \t]*\)"
    r"(?:[ \t]*(?:[-\u2013\u2014:][ \t]*)?(?P<reason>.*))?$",
    re.M,
)
# Terminal and bidirectional controls: in a path they are refused, in prose removed.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ANSWER = TypeAdapter(ScoutAnswer)


class MalformedAnswer(AdwError):
    """The scout did not answer in the promised format: it is skipped, not repaired."""

    transient: ClassVar[bool] = False


@dataclass(frozen=True)
class CheckedAnswer:
    finding: ScoutFinding
    dropped: list[DroppedFile]


def parse_answer(text: str) -> ScoutAnswer:
    """The answer's files and findings; MalformedAnswer when it is in neither format."""
    try:
        value = find_json(text, (dict,), "a JSON object with `files`")
    except OutputError:
        value = None
    if isinstance(value, dict) and "files" in value:
        try:
            return _ANSWER.validate_python(value)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise MalformedAnswer(f"its JSON does not fit: {where}: {first['msg']}") from None
    lines = list(_LINE.finditer(text))
    if not lines:
        raise MalformedAnswer(
            "no `<path> (offset: N, limit: M)` line and no JSON object with `files`"
        )
    files: list[AnsweredFile] = []
    for match in lines:
        offset, limit = int(match["offset"]), int(match["limit"])
        if max(offset, limit) > MAX_LINE:
            raise MalformedAnswer(f"{match['path']!r}: an offset or limit over {MAX_LINE}")
        files.append(
            AnsweredFile(
                path=match["path"].strip(), offset=offset, limit=limit, reason=match["reason"] or ""
            )
        )
    return ScoutAnswer(files=files)


def check_answer(agent: str, answer: ScoutAnswer, worktree: Path) -> CheckedAnswer:
    """`answer`'s files that name existing files inside `worktree`, cleaned; the rest
    dropped with their reasons."""
    root = worktree.resolve()
    kept: list[AnsweredFile] = []
    dropped: list[DroppedFile] = []
    for answered in answer.files:
        path, problem = _checked_path(answered.path, root)
        if problem is not None:
            dropped.append(
                DroppedFile(scout=agent, path=_clean(answered.path, 200), problem=problem)
            )
            continue
        reason = _clean(answered.reason, REASON_CHARS)
        kept.append(answered.model_copy(update={"path": path, "reason": reason}))
    findings = AnsweredFindings(
        summary=_clean(answer.key_findings.summary, SUMMARY_CHARS),
        recommendations=_clean(answer.key_findings.recommendations, SUMMARY_CHARS),
    )
    return CheckedAnswer(ScoutFinding(agent=agent, files=kept, findings=findings), dropped)


def _checked_path(raw: str, root: Path) -> tuple[str, str | None]:
    """(the normalised relative path, None) or (raw, why it is refused)."""
    if _CONTROL.search(raw):
        return raw, "it has control characters"
    text = raw.strip().replace("\\", "/")
    pure = PurePosixPath(text)
    if pure.is_absolute() or text.startswith("~"):
        return raw, "it is absolute: paths must be relative to the worktree"
    if ".." in pure.parts:
        return raw, "it has `..`: paths must stay inside the worktree"
    normalised = pure.as_posix()
    if normalised in ("", "."):
        return raw, "it names no file"
    try:
        resolved = (root / normalised).resolve()
        resolved.relative_to(root)
    except (OSError, ValueError):
        return raw, "it leads out of the worktree"
    if not resolved.is_file():
        return raw, "no such file in the worktree"
    return normalised, None


def _clean(text: str, limit: int) -> str:
    """`text` without control characters (newlines become spaces), cut to `limit`."""
    return bounded(" ".join(_CONTROL.sub(" ", text).split()), limit)


def relevant_files_schema() -> str:
    """The JSON Schema of the aggregate, as the shipped file holds it."""
    schema = TypeAdapter(RelevantFiles).json_schema()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def shipped_schema() -> str:
    """The schema file shipped with the package."""
    return resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
