"""`adw logs ADW_ID [--follow]`: one run's lines of the structured log (`adw.log` beside
the database, and its rotated files, oldest first), as plain lines; `--follow` then
waits for more, across rotations, until Ctrl-C."""

import argparse
import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console
from adw_tui.domain.errors import AdwError
from adw_tui.domain.sanitize import safe_markup
from adw_tui.observability.logs import LEADING, LOG_FILE

FOLLOW_POLL_S = 0.25
LEVEL_STYLES = {"warning": "yellow", "error": "bold red", "critical": "bold red", "debug": "dim"}


def log_files(directory: Path) -> list[Path]:
    """`adw.log` and its rotated files, oldest first (`adw.log.5` ... `adw.log`)."""
    rotated = sorted(
        (path for path in directory.glob(f"{LOG_FILE}.*") if path.suffix[1:].isdigit()),
        key=lambda path: int(path.suffix[1:]),
        reverse=True,
    )
    current = directory / LOG_FILE
    return [*rotated, *([current] if current.exists() else [])]


def run_lines(lines: Iterator[str], adw_id: str) -> Iterator[dict[str, Any]]:
    """The JSON lines of run `adw_id`; lines that are no JSON object are passed over
    (another program's, or one cut by a crash)."""
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("adw_id") == adw_id:
            yield entry


def shown(entry: dict[str, Any]) -> str:
    """One entry as a line of rich markup: time, level, event, then the other fields."""
    level = str(entry.get("level", ""))
    style = LEVEL_STYLES.get(level, "")
    at = str(entry.get("at", ""))[:23].replace("T", " ")
    head = safe_markup(f"{level:<7} {entry.get('event', '')}")
    rest = " ".join(
        f"{key}={safe_markup(_text(value))}"
        for key, value in entry.items()
        if key not in (*LEADING, "logger")
    )
    return f"[dim]{at}[/] " + (f"[{style}]{head}[/]" if style else head) + f" {rest}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


async def show_logs(args: argparse.Namespace, context: CliContext) -> int:
    directory = context.state_dir
    current = directory / LOG_FILE
    found = 0
    for path in log_files(directory):
        if path != current:
            with path.open(encoding="utf-8", errors="replace") as file:
                found += _print(run_lines(iter(file), args.adw_id))
    tail = _Tail(current)
    try:
        found += _print(run_lines(tail.new_lines(), args.adw_id))
        if not args.follow and not found:
            await _say_why_none(context, args.adw_id, current)
        while args.follow:
            await asyncio.sleep(FOLLOW_POLL_S)
            _print(run_lines(tail.new_lines(), args.adw_id))
    finally:
        tail.close()
    return 0


async def _say_why_none(context: CliContext, adw_id: str, log: Path) -> None:
    async with context.existing_store() as store:
        if store is None:
            raise AdwError(f"no run {adw_id}: there is no database at {context.db_path} yet")
        await store.get_run(adw_id)  # RunNotFoundError names the run and what to do
    console.print(
        f"No log lines of run {adw_id} in {log} (runs write there since adw had `adw logs`; "
        "`adw show` has the steps of older ones)."
    )


def _print(entries: Iterator[dict[str, Any]]) -> int:
    count = 0
    for entry in entries:
        console.print(shown(entry), soft_wrap=True, highlight=False)
        count += 1
    return count


class _Tail:
    """The lines added to a file since the last look, across rotations: when another
    file takes the name, the old one is read to its end, then the new one from its
    start."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: BinaryIO | None = None

    def new_lines(self) -> Iterator[str]:
        while True:
            if self._file is None:
                if not self._path.exists():
                    return
                self._file = self._path.open("rb")
            yield from self._complete_lines(self._file)
            if not self._replaced(self._file):
                return
            self._file.close()
            self._file = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    @staticmethod
    def _complete_lines(file: BinaryIO) -> Iterator[str]:
        """Whole lines only: one being written is read again once it has its end."""
        while line := file.readline():
            if not line.endswith(b"\n"):
                file.seek(-len(line), os.SEEK_CUR)
                return
            yield line.decode("utf-8", errors="replace")

    def _replaced(self, file: BinaryIO) -> bool:
        try:
            return self._path.stat().st_ino != os.fstat(file.fileno()).st_ino
        except FileNotFoundError:
            return False
