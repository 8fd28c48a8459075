"""The title and body of the pull request a run opens, from what its state holds."""

import re

MAX_BODY_CHARS = 60_000
"""GitHub refuses a body over 65,536 characters; the rest is left for what adw adds."""


def pull_request_title(issue_class: str | None, number: int, title: str) -> str:
    """`feature: #12 - Add a slugify helper`, the original ADW's form (the class from the
    run's classification, `/feature` -> `feature`; none when it was not classified)."""
    kind = (issue_class or "").strip().lstrip("/")
    text = f"#{number} - {' '.join(title.split())}"
    return f"{kind}: {text}" if kind else text


def pull_request_body(text: str, number: int, adw_id: str) -> str:
    """The agent's description (or the plan's), cut to what GitHub takes, with the line
    that closes the issue on merge and the run's id added when it lacks them."""
    body = text.strip()
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS].rstrip() + "\n\n(cut short)"
    closes = re.compile(rf"\b(close[sd]?|fix(e[sd])?|resolve[sd]?)\s+#{number}\b", re.IGNORECASE)
    extra = [] if closes.search(body) else [f"Closes #{number}"]
    if adw_id not in body:
        extra.append(f"ADW ID: `{adw_id}`")
    return "\n\n".join(part for part in (body, *extra) if part)
