"""The dashboard's `p`: pause the selected run (its slot is freed), or resume it when it
is paused; the outcome, or why not, in a toast (see `adw_tui.runtime.pausing`)."""

from typing import TYPE_CHECKING

from textual.dom import DOMNode

from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import RunStatus
from adw_tui.tui.notify import notify_text

if TYPE_CHECKING:  # imported with the app, which makes the orchestrator later (tui.app)
    from adw_tui.runtime.orchestrator import Orchestrator

PAUSE_ACTOR = "tui"


async def pause_or_resume(node: DOMNode, orchestrator: "Orchestrator", adw_id: str) -> None:
    """Pause the run, or resume it if it is paused. A run another process executes is
    paused by that process, which this waits for (in a worker: the screen goes on)."""
    try:
        run = await orchestrator.store.get_run(adw_id)
        if run.status is RunStatus.PAUSED:
            await resume_paused(node, orchestrator, adw_id)
            return
        run = await orchestrator.pause(adw_id, actor=PAUSE_ACTOR)
    except AdwError as error:
        notify_text(node, str(error), title="not paused or resumed", severity="error", timeout=8)
        return
    if run.status is RunStatus.PAUSED:
        message = f"run {adw_id} paused in step {run.current_step or '?'}: p resumes it"
        notify_text(node, message, title="paused")
    else:
        message = f"run {adw_id} ended {run.status} before it could be paused"
        notify_text(node, message, title="not paused", severity="warning")


async def resume_paused(node: DOMNode, orchestrator: "Orchestrator", adw_id: str) -> None:
    """Queue the paused run again, and say so (or why not)."""
    try:
        run = await orchestrator.store.get_run(adw_id)
        await orchestrator.resume(adw_id)
    except AdwError as error:
        notify_text(node, str(error), title="not resumed", severity="error", timeout=8)
        return
    message = f"run {adw_id} queued to go on with step {run.current_step or '?'}"
    notify_text(node, message, title="resumed")
