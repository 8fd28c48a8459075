"""Secret redaction: what must never be written to the database or shown in a pane.

A `Redactor` is built from an environment mapping: the values of secret-looking variables
(`ANTHROPIC_API_KEY`, `GITHUB_PAT`, `GH_TOKEN`, any `*_KEY`, `*_TOKEN`, `*_SECRET`,
`*PASSWORD*`, and the names listed in `ADW_REDACT_ENV`) become `[REDACTED:<NAME>]`, and
token shapes (Anthropic, GitHub, AWS access keys) become `[REDACTED]` whatever their
source. Values shorter than `MIN_SECRET_LENGTH` are ignored: redacting "1" or "true"
would redact everything.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

MIN_SECRET_LENGTH = 8
EXTRA_NAMES_VARIABLE = "ADW_REDACT_ENV"
SECRET_NAMES = ("ANTHROPIC_API_KEY", "GITHUB_PAT", "GH_TOKEN")
SECRET_NAME_PATTERNS = ("*_KEY", "*_TOKEN", "*_SECRET", "*PASSWORD*")
TOKEN_SHAPES = re.compile(
    r"sk-ant-[A-Za-z0-9_-]{8,}"
    r"|gh[pousr]_[A-Za-z0-9]{16,}"
    r"|github_pat_[A-Za-z0-9_]{16,}"
    r"|AKIA[0-9A-Z]{16}"
)
REDACTED = "[REDACTED]"


def secret_names(environ: Mapping[str, str]) -> list[str]:
    """The variables of `environ` whose values are secrets."""
    extra = {n.strip() for n in environ.get(EXTRA_NAMES_VARIABLE, "").split(",") if n.strip()}
    return sorted(
        name
        for name in environ
        if name in SECRET_NAMES
        or name in extra
        or any(fnmatchcase(name.upper(), p) for p in SECRET_NAME_PATTERNS)
    )


@dataclass(frozen=True)
class Redactor:
    """Replaces known secret values and token shapes in text."""

    values: Mapping[str, str] = field(default_factory=dict)  # secret value -> variable name
    _pattern: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Longest first, so a secret containing another is replaced whole.
        alternatives = sorted(self.values, key=len, reverse=True)
        pattern = re.compile("|".join(map(re.escape, alternatives))) if alternatives else None
        object.__setattr__(self, "_pattern", pattern)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "Redactor":
        values: dict[str, str] = {}
        for name in secret_names(environ):
            value = environ[name]
            if len(value) < MIN_SECRET_LENGTH:
                continue
            values[value] = name
            # The same value as it appears inside a JSON string (quotes, backslashes).
            values.setdefault(json.dumps(value)[1:-1], name)
        return cls(values)

    def with_secret(self, value: str, name: str) -> "Redactor":
        """This redactor, also replacing `value` (shown as `[REDACTED:<name>]`), unless it
        is shorter than `MIN_SECRET_LENGTH`."""
        if len(value) < MIN_SECRET_LENGTH:
            return self
        return Redactor({**self.values, value: name})

    def text(self, text: str) -> str:
        """`text` with every secret value and token shape replaced."""
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: f"[REDACTED:{self.values[m.group()]}]", text)
        return TOKEN_SHAPES.sub(REDACTED, text)

    def value(self, value: Any) -> Any:
        """`value` (str, or JSON-like lists and dicts of them) with its strings redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(v) for v in value)
        return value
