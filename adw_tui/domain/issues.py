"""Issues as every tracker (local, GitHub, ...) hands them to a workflow."""

import json
import re
from datetime import datetime
from enum import StrEnum

from pydantic import Field, field_validator

from adw_tui.domain.command_templates import JS_SPACE
from adw_tui.domain.modeling import Model

BOT_IDENTIFIER = "[ADW-AGENTS]"
_TAG_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})
# The `!`s Claude Code would write as `\!` (or space out) when it fills a template in.
_DEFUSED_BANG = re.compile(rf"(?<=[{re.escape(JS_SPACE)}`])!|!(?=`)")


def without_nul(text: str) -> str:
    """`text` without NUL bytes: no process argument or environment value can hold one, so
    an issue carrying one would fail every agent call that quotes it."""
    return text.replace("\x00", "")


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest start of `text` whose UTF-8 encoding fits in `max_bytes`: a cut never
    falls inside a character."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    cut = max_bytes
    while cut > 0 and encoded[cut] & 0xC0 == 0x80:  # the first byte left out continues one
        cut -= 1
    return encoded[:cut].decode("utf-8", "surrogatepass")


class IssueState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class IssueMark(StrEnum):
    """What adw says of an issue with a label (where the tracker has labels): a run works
    on it, or how its last run ended."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class IssueComment(Model):
    id: int
    author: str
    body: str
    created_at: datetime
    author_association: str | None = None
    """The author's relation to the repository as GitHub says it (OWNER, MEMBER,
    COLLABORATOR, CONTRIBUTOR, NONE, ...); None where the tracker has none (local)."""

    _clean_text = field_validator("body")(without_nul)

    @property
    def from_bot(self) -> bool:
        """Comments adw posted itself; text carrying the identifier never triggers a run."""
        return BOT_IDENTIFIER in self.body


class Issue(Model):
    number: int = Field(ge=1)
    title: str
    body: str = ""
    state: IssueState = IssueState.OPEN
    created_at: datetime
    comments: list[IssueComment] = Field(default_factory=list)
    author: str | None = None
    author_association: str | None = None
    """As `IssueComment.author_association`, of whoever opened the issue."""

    _clean_text = field_validator("title", "body")(without_nul)

    def capped(self, max_body_bytes: int, full_text_path: str) -> "Issue":
        """The issue as prompts may quote it: a body over `max_body_bytes` (UTF-8) is cut
        there, at a character boundary, and ends with a marker saying how much of it is
        left and where its full text is (`full_text_path`, as the agent finds it). The
        issue itself when its body fits."""
        size = len(self.body.encode("utf-8", "surrogatepass"))
        if size <= max_body_bytes:
            return self
        kept = truncate_utf8(self.body, max_body_bytes)
        shown = len(kept.encode("utf-8", "surrogatepass"))
        marker = f"[... truncated: {shown} of {size} bytes; the full text is in {full_text_path}]"
        return self.model_copy(update={"body": f"{kept}\n{marker}"})

    def prompt_json(self) -> str:
        """The issue as the original ADW passed it to prompts: number, title and body, as
        compact JSON.

        The text is someone else's, so it is fenced: inside a JSON string nothing can end
        the string early, and `<`, `>` and `&` are written as `\\u003c`-style escapes (as
        JSON embedded in HTML is), so no text of an issue can close a tag such as
        `</command-args>` that frames it in a prompt. A `!` after whitespace or next to a
        backquote is written `\\u0021`: Claude Code would rewrite it when it fills the JSON
        into a template (`\\!`, no JSON escape), so the JSON would no longer parse. Decoding
        gives the text back exactly.
        """
        fenced = json.dumps(
            {"number": self.number, "title": self.title, "body": self.body},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return _DEFUSED_BANG.sub("\\\\u0021", fenced.translate(_TAG_ESCAPES))


class IssueSummary(Model):
    """An issue as a listing shows it: no body, and how many comments it has."""

    number: int = Field(ge=1)
    title: str
    state: IssueState = IssueState.OPEN
    created_at: datetime
    comments: int = Field(ge=0)
    updated_at: datetime | None = None
    """When anything of it last changed, where the tracker says (GitHub does)."""


class PullRequest(Model):
    """A pull request a run opened (or updated) on the tracker that hosts the repository."""

    number: int = Field(ge=1)
    url: str


def bot_comment(adw_id: str, agent_name: str, message: str) -> str:
    """`[ADW-AGENTS] <adw_id>_<agent_name>: <message>`, the original ADW's comment format."""
    return f"{BOT_IDENTIFIER} {adw_id}_{agent_name}: {message}"
