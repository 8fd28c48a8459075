"""What a trigger has done since it started, for `/status` and the dashboard."""

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass
class TriggerCounters:
    kind: str
    """`webhook` or `poll`."""
    listening_on: str | None = None
    """The webhook's address (`127.0.0.1:8001`), the poller's tracker."""
    last_event_at: str | None = None
    last_event_kind: str | None = None
    """`issues.opened`, `issue_comment.created`, `poll`, ..."""
    accepted: int = 0
    """Deliveries (or issues and comments seen by the poller) that asked for a run."""
    ignored: int = 0
    duplicates: int = 0
    rejected: int = 0
    """Refused requests: bad signature, oversize, malformed."""
    started: int = 0
    """Runs the runtime started for accepted events."""
    refused: int = 0
    """Accepted events whose launch the runtime refused (an active run, a missing issue)."""
    errors: int = 0
    """Polls that failed (the next one tries again)."""

    def saw(self, kind: str) -> None:
        self.last_event_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.last_event_kind = kind

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
