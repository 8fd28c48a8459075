"""Scouts: several agents, on any engines, search one worktree in parallel for the files a
task needs; their answers are merged into one `relevant_files.json` for the plan step.

A scout is untrusted twice over: it may not answer in time, or in the promised format,
and what it answers is text a model wrote. So a scout is never retried (a late one is
skipped at its timeout), a malformed answer is skipped and never repaired, and every path
it names is checked before the plan sees it (`workflows.scout_answers`). This module holds
the shapes (what a scout answers, the aggregate, the scouts of a step) and the pure merge.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field, StrictInt

from adw_tui.domain.modeling import Model

DEFAULT_SCOUT_TIMEOUT = 180.0
"""Seconds a scout may run: the seed's three minutes."""
MAX_SCALE = 16
"""The most scouts `scale:` may ask for: each is an agent process in the same worktree."""
REASON_CHARS = 300
"""A file's reason is cut to this many characters: it goes into the plan's prompt."""
SUMMARY_CHARS = 2000
"""The merged summary (and recommendations) are cut to this many characters."""
MAX_FILES = 200
"""The aggregate keeps at most this many ranges: the most-agreed first."""
MAX_LINE = 10_000_000
"""The largest offset or limit taken: a bound on numbers a model wrote, not a file's size."""


class ScoutSpec(Model):
    """One scout of a step: which engine, with which model, for how long."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str = Field(
        pattern=r"^[a-z][a-z0-9_-]*$", description="a registered engine: claude, codex, ..."
    )
    model: str | None = Field(
        default=None, min_length=1, description="the engine's model; default: its base model"
    )
    timeout: float | None = Field(
        default=None, gt=0, description="seconds before it is skipped; default: the step's"
    )

    @property
    def label(self) -> str:
        """`engine` or `engine/model`, for messages."""
        return f"{self.engine}/{self.model}" if self.model else self.engine


def scaled(configured: Sequence[ScoutSpec], count: int) -> list[ScoutSpec]:
    """The first `count` of `configured`, going round it again when `count` exceeds it
    (the seed's "if count >= 2, if count >= 3" rules, then round robin)."""
    if not configured:
        raise ValueError("no scouts are configured: set `scouts` in the settings (ADW_SCOUTS)")
    return [configured[index % len(configured)] for index in range(count)]


def scout_agent(engine: str, index: int) -> str:
    """The agent name of the `index`th (1-based) scout: its folder under agents/<adw_id>/."""
    return f"scout_{engine}_{index}"


class ScoutStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    TIMEOUT = "skipped: timeout"
    MALFORMED = "skipped: malformed"
    FAILED = "skipped: failed"
    """The engine could not run it (not installed, auth, breaker open, crash)."""


# What a scout answers (JSON form; the line form is parsed into the same shape).


class AnsweredFile(Model):
    model_config = ConfigDict(extra="ignore", frozen=True)

    path: str = Field(min_length=1, max_length=4096)
    offset: StrictInt = Field(default=0, ge=0, le=MAX_LINE)
    limit: StrictInt = Field(default=0, ge=0, le=MAX_LINE)
    reason: str = Field(default="", max_length=100_000)


class AnsweredFindings(Model):
    model_config = ConfigDict(extra="ignore", frozen=True)

    summary: str = Field(default="", max_length=100_000)
    recommendations: str = Field(default="", max_length=100_000)


class ScoutAnswer(Model):
    """`{"files": [{"path", "offset", "limit", "reason"}], "key_findings": {...}}`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    files: list[AnsweredFile] = Field(max_length=10_000)
    key_findings: AnsweredFindings = Field(default_factory=AnsweredFindings)


# The aggregate: agents/<adw_id>/scout/relevant_files.json


class RelevantFile(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1, description="relative to the worktree, POSIX separators")
    offset: int = Field(ge=0, description="the first line to read (as the scouts counted)")
    limit: int = Field(ge=0, description="lines to read from offset; 0: the whole file")
    reason: str = Field(max_length=REASON_CHARS * 4, description="why, as the scouts said")
    scouts: list[str] = Field(min_length=1, description="the scouts that named this range")


class KeyFindings(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: str = Field(max_length=SUMMARY_CHARS)
    gaps: list[str] = Field(
        description="every scout that gave nothing: timed out, malformed or failed, and why"
    )
    recommendations: str = Field(max_length=SUMMARY_CHARS)


class ScoutReport(Model):
    """How one scout ended."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: str
    engine: str
    model: str
    status: ScoutStatus
    detail: str = Field(description="why it was skipped; empty when done")
    files: int = Field(ge=0, description="the ranges it named that were kept")

    @property
    def gap(self) -> str:
        """The line `key_findings.gaps` gives a scout that gave nothing."""
        return f"{self.agent} ({self.engine}): {self.status}: {self.detail}"


class DroppedFile(Model):
    """A path a scout named that the plan does not get, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scout: str
    path: str
    problem: str


class WorktreeChanges(Model):
    """What the scouts changed in the worktree (they must not), before adw undid it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    diff_stat: str = Field(description="`git diff --stat` of the tracked files")
    untracked: list[str] = Field(description="files the scouts created, removed again")


class RelevantFiles(Model):
    """The scout step's result, in the seed's schema plus what the step recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    timestamp: datetime
    files: list[RelevantFile] = Field(max_length=MAX_FILES)
    key_findings: KeyFindings
    scouts: list[ScoutReport]
    dropped: list[DroppedFile]
    worktree_changes: WorktreeChanges | None


class ScoutFinding(Model):
    """A scout's answer once its paths were checked: what the merge takes from it."""

    model_config = ConfigDict(frozen=True)

    agent: str
    files: list[AnsweredFile]
    findings: AnsweredFindings


def merge_files(findings: Iterable[ScoutFinding]) -> list[RelevantFile]:
    """Every scout's ranges, de-duplicated: the ranges of one file that overlap (or touch)
    become their union, with the reasons and scouts of each. A limit of 0 (the whole
    file) covers every range of its file. The ranges more scouts agree on come first, then
    by path and offset; at most `MAX_FILES`."""
    by_path: dict[str, list[tuple[AnsweredFile, str]]] = {}
    for finding in findings:
        for answered in finding.files:
            by_path.setdefault(answered.path, []).append((answered, finding.agent))
    merged: list[RelevantFile] = []
    for path, ranges in by_path.items():
        merged.extend(_union(path, ranges))
    merged.sort(key=lambda item: (-len(item.scouts), item.path, item.offset))
    return merged[:MAX_FILES]


def _union(path: str, ranges: list[tuple[AnsweredFile, str]]) -> list[RelevantFile]:
    if any(answered.limit == 0 for answered, _ in ranges):
        return [_combined(path, 0, 0, ranges)]
    ordered = sorted(ranges, key=lambda item: (item[0].offset, item[0].limit))
    groups: list[tuple[int, int, list[tuple[AnsweredFile, str]]]] = []
    for answered, agent in ordered:
        end = answered.offset + answered.limit
        if groups and answered.offset <= groups[-1][1]:
            start, last_end, members = groups[-1]
            groups[-1] = (start, max(last_end, end), [*members, (answered, agent)])
        else:
            groups.append((answered.offset, end, [(answered, agent)]))
    return [_combined(path, start, end - start, members) for start, end, members in groups]


def _combined(
    path: str, offset: int, limit: int, members: list[tuple[AnsweredFile, str]]
) -> RelevantFile:
    reasons = list(dict.fromkeys(a.reason for a, _ in members if a.reason))
    scouts = list(dict.fromkeys(agent for _, agent in members))
    return RelevantFile(
        path=path,
        offset=offset,
        limit=limit,
        reason=bounded("; ".join(reasons), REASON_CHARS * 4),
        scouts=scouts,
    )


def merge_findings(findings: Iterable[ScoutFinding]) -> tuple[str, str]:
    """The scouts' summaries and recommendations, each line naming its scout."""
    listed = list(findings)

    def joined(pick: str) -> str:
        lines = [
            f"{finding.agent}: {text}"
            for finding in listed
            if (text := getattr(finding.findings, pick).strip())
        ]
        return bounded("\n".join(lines), SUMMARY_CHARS)

    return joined("summary"), joined("recommendations")


def bounded(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
