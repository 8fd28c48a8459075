"""Issues as every tracker (local, GitHub, ...) hands them to a workflow."""

import json
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

BOT_IDENTIFIER = "[ADW-AGENTS]"


class IssueState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class IssueComment(BaseModel):
    id: int
    author: str
    body: str
    created_at: datetime

    @property
    def from_bot(self) -> bool:
        """Comments adw posted itself; text carrying the identifier never triggers a run."""
        return BOT_IDENTIFIER in self.body


class Issue(BaseModel):
    number: int = Field(ge=1)
    title: str
    body: str = ""
    state: IssueState = IssueState.OPEN
    created_at: datetime
    comments: list[IssueComment] = Field(default_factory=list)

    def prompt_json(self) -> str:
        """The issue as the original ADW passed it to prompts: number, title and body, as
        compact JSON (pydantic's `model_dump_json`: no spaces, non-ASCII kept as is)."""
        issue = {"number": self.number, "title": self.title, "body": self.body}
        return json.dumps(issue, separators=(",", ":"), ensure_ascii=False)


def bot_comment(adw_id: str, agent_name: str, message: str) -> str:
    """`[ADW-AGENTS] <adw_id>_<agent_name>: <message>`, the original ADW's comment format."""
    return f"{BOT_IDENTIFIER} {adw_id}_{agent_name}: {message}"
