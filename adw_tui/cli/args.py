"""Argument types and the parser class shared by the subcommands."""

import argparse
from typing import NoReturn, Protocol

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
