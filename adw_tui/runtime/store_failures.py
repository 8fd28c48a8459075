"""A run stopped because the database refused a write: the disk is full, the file is
read-only, or the disk failed. No dead letter can be written then; the run is settled
with as small a write as can be, or left for the next start to settle."""

import contextlib

from adw_tui.domain.errors import DatabaseWriteError, StoreError
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.events import EventBus, RunChanged
from adw_tui.runtime.services import RUNTIME_ACTOR
from adw_tui.store import Store


async def interrupt_unsaved(
    store: Store, bus: EventBus, adw_id: str, owner: str, error: DatabaseWriteError
) -> StoreError:
    """Mark the run `interrupted` (its open attempts closed, its claim dropped) if the
    database still takes that much once its write-ahead log is emptied, which gives back
    the log's room; return the error to report, saying where the run stands."""
    with contextlib.suppress(StoreError):
        await store.checkpoint()
    try:
        step = (await store.get_run(adw_id)).current_step
        await store.steps.close_running(adw_id, error=f"interrupted: {error}")
        await store.set_status(
            adw_id, RunStatus.INTERRUPTED, actor=RUNTIME_ACTOR, current_step=step
        )
        await store.claims.release(adw_id, owner)
    except StoreError:
        bus.publish(RunChanged(adw_id, RunStatus.RUNNING, str(error)))
        return StoreError(
            f"run {adw_id} stopped: {error}. It is still recorded as running: once the "
            "database can be written, the next `adw run` or `adw recover` settles and "
            "resumes it"
        )
    bus.publish(RunChanged(adw_id, RunStatus.INTERRUPTED, str(error)))
    return StoreError(
        f"run {adw_id} stopped, interrupted: {error}. Once that is fixed, `adw recover` "
        "resumes it from its last completed step"
    )
