"""Databases the benchmarks share: each built once through the store's own API (a
transaction per write, as adw makes them) and kept in the temporary directory
(`adw-bench-cache/`), since a year's worth of runs takes minutes to write.

A cached file is never opened by a measurement: copy it first (`copy_database`), so that
no run of a benchmark changes what the next one reads.
"""

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

CACHE = Path(tempfile.gettempdir()) / "adw-bench-cache"


def cached_database(
    name: str, build: Callable[[Path], Coroutine[Any, Any, None]]
) -> tuple[Path, bool]:
    """The cached database `name` (which says what it holds and its generation: change
    it when `build` changes), made by `build(path)` when missing; and whether it was."""
    path = CACHE / name
    if path.exists():
        asyncio.run(_migrate(path))
        return path, False
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    for leftover in CACHE.glob(f"{partial.name}*"):
        leftover.unlink()
    asyncio.run(build(partial))
    partial.rename(path)  # the store is closed: the WAL was checkpointed into the file
    return path, True


async def _migrate(path: Path) -> None:
    """Bring a cached database to the current schema once, so that the copies a
    measurement opens do not each pay the migrations a new adw version brought."""
    from adw_tui.store import Store

    store = await Store.open(path, create=False)
    await store.close()


def copy_database(database: Path, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(database, destination)
    return destination
