"""The wall clock: what every part of adw asks for the time, so tests can pass their own."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, in UTC (timezone-aware): what the store records and views compare against."""
    return datetime.now(UTC)


def start_of_day(moment: datetime) -> datetime:
    """Midnight (UTC) of the day `moment` is in: where a day's spend starts counting."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
