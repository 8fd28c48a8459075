"""Ages as people write and read them: `7d`, `12h`, `90m`."""

import re
from datetime import timedelta

from adw_tui.domain.errors import AdwError

_PART = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def format_age(delta: timedelta) -> str:
    """How old something is, in its largest whole unit: `40s`, `52m`, `5h`, `3d`."""
    seconds = max(int(delta.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_age(text: str) -> timedelta:
    """`7d`, `12h`, `1w2d`, `90m`, `30s` as a duration; an AdwError naming the form."""
    parts = _PART.findall(text.strip())
    if not parts or "".join(f"{n}{u}" for n, u in parts) != text.strip():
        raise AdwError(f"{text!r} is not an age: use a number and a unit, such as 7d, 12h or 90m")
    try:
        return timedelta(**{_UNITS[unit]: int(n) for n, unit in parts})
    except OverflowError:
        raise AdwError(
            f"{text!r} is longer than any age adw can count: use a shorter one"
        ) from None
