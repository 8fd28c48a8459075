"""Terminal output for the CLI: rich for people, plain JSON for programs."""

import json
import sys
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from adw_tui.domain.sanitize import json_terminal_safe, safe_markup

console = Console(highlight=False, emoji=False)
error_console = Console(stderr=True, highlight=False, emoji=False)


def print_json(value: Any) -> None:
    """Print `value` (models and lists of models included) as indented JSON on stdout,
    its text exact but with no control a terminal would act on (`json_terminal_safe`)."""
    encoded = json.dumps(_plain(value), indent=2, ensure_ascii=False)
    sys.stdout.write(json_terminal_safe(encoded) + "\n")


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
    error_console.print(f"[bold red]adw: error:[/] {safe_markup(message)}", soft_wrap=True)


def print_warning(message: str) -> None:
    error_console.print(f"[yellow]adw: warning:[/] {safe_markup(message)}", soft_wrap=True)


def short_time(value: Any) -> str:
    """A datetime as `YYYY-MM-DD HH:MM:SS` (UTC) for tables."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def key_value_grid(rows: list[tuple[str, str]]) -> Table:
    """Labels in bold on the left, values (rich markup) on the right."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, value)
    return grid
