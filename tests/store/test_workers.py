"""The fleet's worker rows: written at each heartbeat, forgotten a while after the worker
stopped or went silent."""

from datetime import UTC, datetime, timedelta

from adw_tui.domain.fleet import WorkerRecord
from adw_tui.store import Store


def worker(name: str, beat: datetime, *, stopped: bool = False) -> WorkerRecord:
    return WorkerRecord(
        name=name,
        host="h",
        pid=1,
        slots=1,
        started_at=beat,
        heartbeat_at=beat,
        stopped_at=beat if stopped else None,
        version="0.1.0",
    )


async def test_rows_of_workers_gone_before_the_cutoff_are_forgotten(store: Store) -> None:
    now = datetime.now(UTC)
    for record in (
        worker("working", now),
        worker("stopped-long-ago", now - timedelta(days=9), stopped=True),
        worker("silent-long-ago", now - timedelta(days=9)),
        worker("stopped-lately", now - timedelta(days=1), stopped=True),
    ):
        await store.fleet.register(record)

    forgotten = await store.fleet.forget_workers((now - timedelta(days=7)).isoformat())

    assert forgotten == 2
    kept = await store.fleet.workers()
    assert [w.name for w in kept] == ["working", "stopped-lately"]
    assert {w.version for w in kept} == {"0.1.0"}
