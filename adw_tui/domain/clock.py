"""The wall clock: what every part of adw asks for the time, so tests can pass their own."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, in UTC (timezone-aware): what the store records and views compare against."""
    return datetime.now(UTC)
