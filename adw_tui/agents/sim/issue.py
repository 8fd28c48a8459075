"""Issues and the names derived from them: class, slug, branch, module."""

import keyword
import re
from dataclasses import dataclass
from typing import Any

from adw_tui.agents.sim.prompt import ArgumentError

_BUG = re.compile(r"\b(bug|fix|error|crash)", re.I)
_CHORE = re.compile(r"\b(chore|refactor|docs|bump|cleanup)", re.I)
ISSUE_CLASSES = ("/feature", "/bug", "/chore")


@dataclass(frozen=True)
class Issue:
    number: int
    title: str
    body: str

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> "Issue":
        try:
            number = int(value.get("number", 0))
        except (TypeError, ValueError) as error:
            raise ArgumentError(f"issue number is not a number: {value.get('number')!r}") from error
        return cls(number, str(value.get("title") or ""), str(value.get("body") or ""))

    @property
    def issue_class(self) -> str:
        """`/bug`, `/chore` or `/feature`, from keywords in the title and body."""
        text = f"{self.title}\n{self.body}"
        if _BUG.search(text):
            return "/bug"
        if _CHORE.search(text):
            return "/chore"
        return "/feature"

    @property
    def slug(self) -> str:
        return slugify(self.title) or f"issue-{self.number}"


def slugify(text: str, max_words: int = 5) -> str:
    """Lowercase words of a-z0-9 joined by dashes, at most `max_words` of them."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words[:max_words])


def module_name(slug: str) -> str:
    """A valid Python module (and function) name for a slug."""
    name = slug.replace("-", "_") or "change"
    if name[0].isdigit():
        name = f"feature_{name}"
    if keyword.iskeyword(name):
        name = f"{name}_feature"
    return name


def branch_name(issue_class: str, adw_id: str, issue: Issue) -> str:
    return f"{issue_class.strip().lstrip('/')}-issue-{issue.number}-adw-{adw_id}-{issue.slug}"
