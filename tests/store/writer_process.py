"""A writer in its own OS process, for the multi-process and crash tests.

    python -m tests.store.writer_process DB NAME ADW_ID[,ADW_ID...] COUNT [--mode update|cas]

Opens its own Store on DB (a file or a postgresql:// DSN, which must exist) and saves COUNT
times, forever if COUNT is 0, round-robin over the runs. Each save adds one to
`counters[NAME]` of the run's state; after the save returns it prints
`committed <adw_id> <version> <counter>` and flushes, so every line printed names a
committed version. `update` mode uses `Store.update()`, `cas` mode loads, saves with
`expected_version` and retries on StaleVersionError.
"""

import argparse
import asyncio
import sys
from typing import Any

from adw_tui.domain.errors import StaleVersionError
from adw_tui.store import Store

MAX_RETRIES = 1_000  # per save; a working store never needs nearly as many


def bump(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The state with this writer's counter one higher, plus a payload naming the save."""
    counters = dict(data.get("counters") or {})
    counters[name] = counters.get(name, 0) + 1
    return {**data, "counters": counters, "payload": f"{name}:{counters[name]}:" + "x" * 256}


async def save_by_update(store: Store, adw_id: str, name: str) -> tuple[int, int]:
    written: dict[str, Any] = {}

    def change(data: dict[str, Any]) -> dict[str, Any]:
        written.clear()
        written.update(bump(data, name))
        return written

    version = await store.update(adw_id, change, reason=f"{name} save", actor=name)
    return version, written["counters"][name]


async def save_by_cas(store: Store, adw_id: str, name: str) -> tuple[int, int, int]:
    for retries in range(MAX_RETRIES):
        current = await store.load(adw_id)
        data = bump(current.state.as_data(), name)
        try:
            version = await store.save(adw_id, data, current.run.version, f"{name} save", name)
        except StaleVersionError:
            continue
        return version, data["counters"][name], retries
    raise RuntimeError(f"{name} lost the race {MAX_RETRIES} times in a row on {adw_id}")


async def main(db: str, name: str, runs: list[str], count: int, mode: str) -> int:
    saves = retries = 0
    async with await Store.open(db, create=False) as store:
        while count == 0 or saves < count:
            adw_id = runs[saves % len(runs)]
            if mode == "update":
                version, counter = await save_by_update(store, adw_id, name)
            else:
                version, counter, lost = await save_by_cas(store, adw_id, name)
                retries += lost
            saves += 1
            print(f"committed {adw_id} {version} {counter}", flush=True)
    print(f"done {saves} retries {retries}", flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("name")
    parser.add_argument("runs", help="comma-separated run ids")
    parser.add_argument("count", type=int, help="saves to make; 0 saves until killed")
    parser.add_argument("--mode", choices=["update", "cas"], default="update")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.db, args.name, args.runs.split(","), args.count, args.mode)))
