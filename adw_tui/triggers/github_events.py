"""GitHub's webhook deliveries as a trigger reads them: which event, which issue, who
sent it, and the workflow it asks for (see `keywords`). Everything here is untrusted
bytes: a payload that is not what GitHub sends is a PayloadError naming what is wrong."""

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from adw_tui.domain.modeling import Model
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.triggers.keywords import Choice, choose_for_comment, choose_for_issue, untrusted

HANDLED = {"issues": "opened", "issue_comment": "created"}
"""The events that can start a run, and the one action of each that does."""
NAME_CHARS = 100


class PayloadError(ValueError):
    """The delivery cannot be read; the message says what is missing or wrong."""


class _Json(Model):
    model_config = ConfigDict(extra="ignore")


class _User(_Json):
    login: str
    type: str = "User"

    @property
    def is_bot(self) -> bool:
        return self.type == "Bot" or self.login.endswith("[bot]")


class _Issue(_Json):
    number: int = Field(ge=1)
    body: str | None = None
    user: _User
    state: str = "open"
    pull_request: dict[str, Any] | None = None
    author_association: str | None = None


class _Comment(_Json):
    body: str | None = None
    user: _User
    author_association: str | None = None


class _Repository(_Json):
    full_name: str


class _IssuesEvent(_Json):
    action: str
    issue: _Issue
    repository: _Repository
    sender: _User


class _IssueCommentEvent(_IssuesEvent):
    comment: _Comment


@dataclass(frozen=True)
class GitHubEvent:
    """A delivery read: what happened, to which issue, by whom, and what to do."""

    event: str
    action: str | None
    issue: int | None
    sender: str | None
    """The sender's login, made safe to show and cut to 100 characters."""
    choice: Choice

    @property
    def kind(self) -> str:
        return f"{self.event}.{self.action}" if self.action else self.event


def read_event(
    event: str,
    body: bytes,
    *,
    workflows: Collection[str],
    default_workflow: str | None,
    repository: str | None,
    trusted: Collection[str],
) -> GitHubEvent:
    """Read a delivery of `event` (the `X-GitHub-Event` header). Events and actions that
    start no run are read no further than their action; `repository` (`owner/name`),
    when given, is the only one whose deliveries may start runs, and only text whose
    author's association with it is `trusted` does."""
    payload = _json_object(body)
    if event not in HANDLED:
        return GitHubEvent(event, _action(payload, required=False), None, None, _ignore(event))
    action = _action(payload, required=True)
    if action != HANDLED[event]:
        return GitHubEvent(event, action, None, None, _ignore(f"{event} {action}"))
    model = _IssuesEvent if event == "issues" else _IssueCommentEvent
    try:
        parsed = model.model_validate(payload)
    except ValidationError as error:
        raise PayloadError(_what_is_wrong(error)) from None
    sender = terminal_safe(parsed.sender.login[:NAME_CHARS])
    issue = parsed.issue
    choice = _choose(
        parsed, workflows=workflows, default_workflow=default_workflow, trusted=trusted
    )
    named = parsed.repository.full_name
    if repository is not None and named.lower() != repository.lower():
        shown = terminal_safe(named[:NAME_CHARS])
        choice = Choice(ignored=f"a delivery for {shown}, not {repository}")
    return GitHubEvent(event, action, issue.number, sender, choice)


def _choose(
    parsed: _IssuesEvent,
    *,
    workflows: Collection[str],
    default_workflow: str | None,
    trusted: Collection[str],
) -> Choice:
    issue = parsed.issue
    if issue.pull_request is not None:
        return Choice(ignored="a pull request, not an issue")
    if isinstance(parsed, _IssueCommentEvent):
        if issue.state != "open":
            return Choice(ignored="a comment on a closed issue")
        comment = parsed.comment
        refused = untrusted(comment.user.login, comment.author_association, trusted)
        if refused is not None:
            return refused
        return choose_for_comment(
            comment.body or "",
            by_bot=comment.user.is_bot or parsed.sender.is_bot,
            workflows=workflows,
        )
    refused = untrusted(issue.user.login, issue.author_association, trusted)
    if refused is not None:
        return refused
    return choose_for_issue(
        issue.body or "",
        by_bot=issue.user.is_bot or parsed.sender.is_bot,
        workflows=workflows,
        default=default_workflow,
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise PayloadError(f"the body is not JSON ({terminal_safe(str(error)[:120])})") from None
    if not isinstance(payload, dict):
        raise PayloadError("the body is not a JSON object")
    return payload


def _action(payload: dict[str, Any], *, required: bool) -> str | None:
    action = payload.get("action")
    if isinstance(action, str):
        return terminal_safe(action[:NAME_CHARS])
    if required:
        raise PayloadError("the payload has no action (a string)")
    return None


def _ignore(what: str) -> Choice:
    return Choice(ignored=f"{terminal_safe(what[:NAME_CHARS])} starts no run")


def _what_is_wrong(error: ValidationError) -> str:
    """`the payload has no issue.number`, or what is wrong with the first bad field."""
    first = error.errors()[0]
    place = ".".join(str(part) for part in first["loc"])
    if first["type"] == "missing":
        return f"the payload has no {place}"
    return f"the payload's {place} is invalid ({first['msg']})"
