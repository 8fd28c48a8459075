"""Issue text in prompts: at most `max_issue_bytes` of a body, the full text in a file.

An issue body is someone else's text, of any size. A run's state (and so every prompt
quoting `${issue_body}` or `${issue_json}`, and every state version) holds at most
`max_issue_bytes` of it, cut at a character boundary and ended with a marker naming
`.adw/issue-<n>.md`. The full body is saved once, when the run is created, in the run's
folder (`agents/<adw_id>/issue-<n>.md`), and copied before each agent call to that path
in the call's working directory: the run's worktree, or the repository itself for the
steps that run before the worktree exists. A copy in the repository is shared by the
runs of one issue there, and is the body as the latest of them found it. `info/exclude`
keeps the copies out of git, so an agent's `git add -A` never commits one.
"""

import logging
import os
from pathlib import Path, PurePosixPath
from typing import Any

from adw_tui.domain.issues import Issue
from adw_tui.runtime.git import ensure_excluded

logger = logging.getLogger(__name__)

ISSUE_FILES_EXCLUDE = "/.adw/issue-*.md"
"""The `info/exclude` pattern of the copies (anchored: each worktree's top level)."""

STATE_KEY = "issue_file"
"""The state key naming the copy's path when the body was cut; absent when it was not."""


def issue_file(number: int) -> PurePosixPath:
    """Where an agent finds the full text of issue `number`, from its working directory."""
    return PurePosixPath(".adw", f"issue-{number}.md")


def issue_state(issue: Issue, max_bytes: int, run_dir: Path) -> dict[str, str]:
    """The run state's issue values: title, body and prompt JSON with the body capped at
    `max_bytes`. When it was cut, the full body is saved in `run_dir` (the run's folder)
    and `issue_file` names where agents will find it."""
    path = issue_file(issue.number)
    capped = issue.capped(max_bytes, path.as_posix())
    values = {
        "issue_title": issue.title,
        "issue_body": capped.body,
        "issue_json": capped.prompt_json(),
    }
    if capped is not issue:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write(run_dir / path.name, issue.body.encode())
        values[STATE_KEY] = path.as_posix()
    return values


async def place_issue_file(state: dict[str, Any], cwd: Path, run_dir: Path) -> None:
    """Copy the run's full issue text (saved by `issue_state`) to where its prompts say it
    is, in `cwd`, git-excluded. Nothing to do when the body was not cut; a saved text
    that is gone is logged, and the agent still gets the prompt with the capped body."""
    relative = state.get(STATE_KEY)
    if not relative:
        return
    source = run_dir / PurePosixPath(relative).name
    try:
        text = source.read_bytes()
    except OSError as error:
        logger.warning(
            "the full text of the run's issue, %s, cannot be read (%s): its prompts name %s, "
            "which the agent will not find",
            source,
            error.strerror or error,
            relative,
        )
        return
    await ensure_excluded(cwd, [ISSUE_FILES_EXCLUDE])
    target = cwd / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    _write(target, text)


def _write(path: Path, data: bytes) -> None:
    """Write whole or not at all: an agent of another run of the issue may be reading it.
    The partial file's name matches the exclude pattern too."""
    partial = path.with_name(f"{path.stem}.partial-{os.getpid()}{path.suffix}")
    partial.write_bytes(data)
    partial.replace(path)
