"""Run identifiers: 8 lowercase hex characters when adw makes them, as the original ADW
scripts did; the original also took ids from webhooks (`adw-3af4a34d`), so any short name
of lowercase letters, digits, `-` and `_` is accepted. Ids name folders and appear in
branch names, so nothing else (no `/`, `.`, spaces) is."""

import os
import re

ADW_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
ADW_ID_RULE = "1 to 40 lowercase letters, digits, - or _, starting with a letter or digit"
_ADW_ID_RE = re.compile(ADW_ID_PATTERN)


def new_adw_id() -> str:
    """Return a fresh run id: 8 random hex characters, as the first 8 of a UUID4 are
    (`uuid` itself is not imported: it costs every command's start some 2 ms)."""
    return os.urandom(4).hex()


def is_adw_id(value: str) -> bool:
    """Tell whether `value` is a well-formed run id."""
    return _ADW_ID_RE.fullmatch(value) is not None
