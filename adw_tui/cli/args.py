"""Argument types and the parser class shared by the subcommands."""

import argparse
import contextlib
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal, NoReturn, Protocol

from adw_tui.domain.clock import utc_now
from adw_tui.domain.durations import parse_age
from adw_tui.domain.errors import AdwError
from adw_tui.domain.ids import ADW_ID_RULE, is_adw_id


class AddParser(Protocol):
    """`subparsers.add_parser`, as each command module receives it."""

    def __call__(self, name: str, *, help: str) -> argparse.ArgumentParser: ...


class ArgumentParser(argparse.ArgumentParser):
    """argparse with usage errors as one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"adw: error: {message} (see `{self.prog} --help`)\n")


def adw_id_arg(value: str) -> str:
    if not is_adw_id(value):
        raise argparse.ArgumentTypeError(
            f"invalid run id {value!r}: expected {ADW_ID_RULE}, e.g. 3f2a9c01"
        )
    return value


SQLITE_MAX_INTEGER = 2**63 - 1
"""The largest id SQLite stores; a larger number cannot name anything."""


def positive_int_arg(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= SQLITE_MAX_INTEGER:
        raise argparse.ArgumentTypeError(
            f"expected a positive whole number up to {SQLITE_MAX_INTEGER}, got {value!r}"
        )
    return number


def positive_float_arg(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not number > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}")
    return number


BudgetArg = float | Literal["none", "default"]


def budget_arg(value: str) -> BudgetArg:
    """US dollars (more than 0), `none` (no limit) or `default` (the setting's)."""
    if value in ("none", "default"):
        return "none" if value == "none" else "default"
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected US dollars (such as 25 or 2.50), none or default, got {value!r}"
        )
    return number


DEFAULT_LIMIT = 50


def since_arg(value: str) -> datetime:
    """A moment: an ISO date or time (UTC unless it names its offset), or an age before
    now (`30m`, `12h`, `7d`, `2w`)."""
    with contextlib.suppress(AdwError, OverflowError):
        return utc_now() - parse_age(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date or time (2026-01-31, 2026-01-31T12:00, UTC unless it says) "
            f"or an age (30m, 12h, 7d, 2w), got {value!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def add_listing_options(
    parser: argparse.ArgumentParser, noun: str, *, all_help: str | None = None
) -> None:
    """What every listing takes: `--limit N` or `--all`, `--since WHEN`, `--json` or
    `--jsonl`. `noun` is plural: "runs"."""
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--limit",
        type=positive_int_arg,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"the newest N {noun} (default {DEFAULT_LIMIT})",
    )
    size.add_argument(
        "--all", action="store_true", help=all_help or f"all the {noun}, not only the newest"
    )
    parser.add_argument(
        "--since",
        type=since_arg,
        metavar="WHEN",
        help="only since WHEN: a date or time (2026-01-31, 2026-01-31T12:00; UTC) or an "
        "age (30m, 12h, 7d, 2w)",
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print a JSON list")
    form.add_argument("--jsonl", action="store_true", help="print one JSON object a line")


def at_least_two_arg(value: str) -> int:
    number = positive_int_arg(value)
    if number < 2:
        raise argparse.ArgumentTypeError(f"at least 2 runs to compare, got {value}")
    return number


LABEL = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def labels_arg(value: str) -> list[str]:
    """A comma-separated list of worker labels (`gpu,large`): lower-case words."""
    labels = [label.strip() for label in value.split(",") if label.strip()]
    bad = [label for label in labels if not LABEL.match(label)]
    if bad or not labels:
        raise argparse.ArgumentTypeError(
            f"bad label {', '.join(map(repr, bad)) or repr(value)}: labels are lower-case "
            "letters, digits, '_', '.' and '-', such as gpu or large-disk"
        )
    return labels


def names_arg(known: Sequence[str], what: str) -> Callable[[str], list[str]]:
    """A comma-separated list of `known` names (`claude,sim`)."""

    def names(value: str) -> list[str]:
        chosen = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in known]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown) or repr(value)}: "
                f"choose among {', '.join(known)}"
            )
        return chosen

    return names
