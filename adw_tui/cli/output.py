"""Terminal output for the CLI: rich for people, plain JSON for programs.

rich is imported on first use of `console` or `error_console` (module attributes made on
demand), not with this module: the listings (`adw runs`...) write plain lines and never
need it, and importing it is a good part of a short command's start.
"""

import json
import sys
from collections.abc import AsyncIterable
from functools import cache
from textwrap import indent
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import BaseModel

from adw_tui.domain.sanitize import json_terminal_safe, safe_markup

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


def __getattr__(name: str) -> "Console":
    """`console` (stdout) and `error_console` (stderr), made when first asked for."""
    if name not in _CONSOLES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _console(stderr=_CONSOLES[name])


_CONSOLES = {"console": False, "error_console": True}


@cache
def _console(*, stderr: bool) -> "Console":
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, emoji=False)


def print_json(value: Any) -> None:
    """Print `value` (models and lists of models included) as indented JSON on stdout,
    its text exact but with no control a terminal would act on (`json_terminal_safe`)."""
    sys.stdout.write(_encode(value, indent=2) + "\n")


async def stream_json(items: AsyncIterable[Any], *, lines: bool, out: TextIO | None = None) -> None:
    """Write `items` as they come: a JSON array (as `print_json` prints a list, element by
    element, never holding the list) or, with `lines`, one compact JSON value a line."""
    stream = out or sys.stdout
    separator = "[\n"
    async for item in items:
        if lines:
            stream.write(_encode(item) + "\n")
            continue
        stream.write(separator + indent(_encode(item, indent=2), "  "))
        separator = ",\n"
    if not lines:
        stream.write("[]\n" if separator == "[\n" else "\n]\n")


def _encode(value: Any, indent: int | None = None) -> str:
    encoded = json.dumps(_plain(value), indent=indent, ensure_ascii=False)
    return json_terminal_safe(encoded)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def print_error(message: str) -> None:
    """One line on stderr: `adw: error: ...`."""
    _console(stderr=True).print(f"[bold red]adw: error:[/] {safe_markup(message)}", soft_wrap=True)


def print_warning(message: str) -> None:
    _console(stderr=True).print(f"[yellow]adw: warning:[/] {safe_markup(message)}", soft_wrap=True)


def short_time(value: Any) -> str:
    """A datetime as `YYYY-MM-DD HH:MM:SS` (UTC) for tables."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def key_value_grid(rows: list[tuple[str, str]]) -> "Table":
    """Labels in bold on the left, values (rich markup) on the right."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, value)
    return grid
