"""Run identifiers: 8 lowercase hex characters, as the original ADW scripts made them."""

import re
import uuid

ADW_ID_PATTERN = r"^[0-9a-f]{8}$"
_ADW_ID_RE = re.compile(ADW_ID_PATTERN)


def new_adw_id() -> str:
    """Return a fresh run id (the first 8 hex characters of a UUID4)."""
    return uuid.uuid4().hex[:8]


def is_adw_id(value: str) -> bool:
    """Tell whether `value` is a well-formed run id."""
    return _ADW_ID_RE.fullmatch(value) is not None
