"""Which workflow an issue or a comment asks for: an `adw_<workflow>` keyword, as the
original ADW's triggers read them (`adw_sdlc`, `adw_plan_build_iso`, ...).

Pure functions over untrusted text: a scan is one linear regex pass, whatever the text
holds (a 1 MB body, NUL bytes, markup).
"""

import re
from collections.abc import Collection
from dataclasses import dataclass

from adw_tui.domain.issues import BOT_IDENTIFIER
from adw_tui.domain.sanitize import terminal_safe

# `adw_` at a word start, then a workflow name (the loader's NAME_PATTERN, any case), at a
# word end. A name of over 64 characters is no keyword.
_KEYWORD = re.compile(r"(?<!\w)adw_([a-z][a-z0-9_]{0,63})(?!\w)", re.IGNORECASE)
ISO_SUFFIX = "_iso"
"""The original's isolated-worktree variants (`adw_sdlc_iso`): every adw run is isolated."""


def workflow_keywords(text: str) -> list[str]:
    """The names the `adw_<name>` keywords of `text` give, in order, lower case."""
    return [match.group(1).lower() for match in _KEYWORD.finditer(text)]


def pick_workflow(text: str, workflows: Collection[str]) -> tuple[str | None, list[str]]:
    """The first keyword naming one of `workflows` (`adw_x_iso` names `x` unless a
    workflow is called `x_iso`), and the unknown names met before it."""
    unknown: list[str] = []
    for name in workflow_keywords(text):
        if name in workflows:
            return name, unknown
        stripped = name.removesuffix(ISO_SUFFIX)
        if stripped != name and stripped in workflows:
            return stripped, unknown
        unknown.append(name)
    return None, unknown


@dataclass(frozen=True)
class Choice:
    """What a trigger does with an issue or a comment: run `workflow`, or ignore it."""

    workflow: str | None = None
    ignored: str | None = None
    """Why nothing runs (set exactly when `workflow` is None)."""


def untrusted(
    author: str | None, association: str | None, trusted: Collection[str]
) -> Choice | None:
    """Ignore text from someone GitHub does not count among the repository's trusted
    (`trusted`: OWNER, MEMBER, COLLABORATOR by default): on a public repository anyone
    can open an issue or comment, and a run executes an agent on that text. None (go
    on) when trusted, or when the tracker says nothing of it (the local tracker)."""
    if association is None or association.upper() in {name.upper() for name in trusted}:
        return None
    who = terminal_safe((author or "its author")[:100])
    return Choice(
        ignored=f"{who} is {terminal_safe(association[:30])} of the repository, not one of "
        f"{', '.join(trusted)} (ADW_TRIGGER_ASSOCIATIONS)"
    )


def choose_for_issue(
    body: str, *, by_bot: bool, workflows: Collection[str], default: str | None
) -> Choice:
    """An opened issue: its body's keyword, else the default workflow, else nothing."""
    if by_bot:
        return Choice(ignored="the issue was opened by a bot")
    workflow, unknown = pick_workflow(body, workflows)
    if workflow is not None:
        return Choice(workflow)
    if default is not None:
        return Choice(default)
    return Choice(ignored=_no_keyword("the issue", unknown, default_applies=True))


def choose_for_comment(body: str, *, by_bot: bool, workflows: Collection[str]) -> Choice:
    """A new comment: its keyword, unless adw or a bot wrote it."""
    if BOT_IDENTIFIER in body:
        return Choice(ignored=f"adw's own comment ({BOT_IDENTIFIER})")
    if by_bot:
        return Choice(ignored="the comment is a bot's")
    workflow, unknown = pick_workflow(body, workflows)
    if workflow is not None:
        return Choice(workflow)
    return Choice(ignored=_no_keyword("the comment", unknown, default_applies=False))


def _no_keyword(what: str, unknown: list[str], *, default_applies: bool) -> str:
    reason = f"{what} names no workflow with an adw_<workflow> keyword"
    if unknown:
        shown = ", ".join(f"adw_{name}" for name in unknown[:3])
        reason += f" (unknown: {shown}; `adw workflows` lists them)"
    if default_applies:
        reason += " and ADW_WEBHOOK_DEFAULT_WORKFLOW is not set"
    return reason
