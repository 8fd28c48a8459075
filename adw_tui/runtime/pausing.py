"""Pausing a run to free its slot, and resuming it later: what may be paused or resumed,
and how a pause reaches a run that another `adw` process executes.

How a run is paused, for every engine: its step is stopped cleanly (the agent's process
group gets SIGTERM, then SIGKILL after the engine's grace, as on a cancel), the step's
attempt is closed `paused` with the agent's session id, the run becomes `paused` and its
slot goes back to the queue. A built-in action (git, the set-up hook, the tracker) is
not stopped half-way: the run is paused when it has ended, before its next step.

Resuming queues the run again: once it has a slot (and the memory gate lets it start)
it goes on with the step it was in, its first call resuming
that session where the engine can (`Engine.resumes_sessions`: Claude Code's `--resume`,
which the simulated agent mimics); an engine that cannot starts the step again. The
resumed call is sent the step's prompt again: the agent sees what it already did and is
asked the same thing, so its answer is judged as the step's like any other.

Why not SIGSTOP the agent and SIGCONT it later: a stopped agent keeps its memory (the
slot would be freed, the memory not); its API connection times out while it is stopped,
so the step fails when it is continued anyway; and a stopped process cannot outlive the
`adw` that started it (recovery kills agents a dead process left), so the pause could not
survive a restart of adw, which it must. A stopped step loses only the work since its
session's last message, which the resumed session still has.

Across processes: a run is paused by the process that executes it (its `owner`). Another
process writes a request on the run's row (`Claims.request_pause`); every orchestrator
polls the requests for its runs every `REQUEST_POLL_S` and pauses them, and the asking
process watches the row until the run is paused. A paused run has no owner: any process
resumes it.
"""

import asyncio

from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import RunRecord, RunStatus
from adw_tui.store import Store

REQUEST_POLL_S = 0.5
"""How often an orchestrator reads the pause requests for the runs it executes."""
ANSWER_TIMEOUT_S = 30.0
"""How long a pause asked of another process waits for that process to act."""


def refuse_pause(run: RunRecord) -> None:
    """A clear AdwError unless the run is running (only a running run holds a slot)."""
    if run.status is RunStatus.RUNNING:
        return
    if run.status is RunStatus.PAUSED:
        why = f"it is already paused: `adw resume {run.adw_id}` (or p) goes on"
    elif run.status is RunStatus.QUEUED:
        why = "it holds no slot yet, it waits for one (cancel it if it should not run)"
    elif run.status is RunStatus.INTERRUPTED:
        why = "it was interrupted and nothing runs it (`adw recover` resumes it)"
    else:
        why = "it has ended"
    raise AdwError(f"run {run.adw_id} is {run.status}: only a running run can be paused; {why}")


def refuse_resume(run: RunRecord) -> None:
    """A clear AdwError unless the run is paused."""
    if run.status is RunStatus.PAUSED:
        return
    message = f"run {run.adw_id} is {run.status}: only a paused run can be resumed"
    if run.status.is_active or run.status is RunStatus.SUCCEEDED:
        raise AdwError(message)
    raise AdwError(f"{message}; t in its detail retries it")


async def pause_elsewhere(
    store: Store,
    adw_id: str,
    *,
    actor: str,
    timeout_s: float = ANSWER_TIMEOUT_S,
    poll_s: float = REQUEST_POLL_S / 2,
) -> RunRecord:
    """Ask the process executing the running run to pause it, and wait until it has
    stopped running; returns the run then (paused, or ended before the request was
    seen). An AdwError when the run is not running, or when its process has not acted
    within `timeout_s` (the request stays: that process pauses the run when it can)."""
    run = await store.get_run(adw_id)
    refuse_pause(run)
    await store.claims.request_pause(adw_id, actor=actor)
    try:
        async with asyncio.timeout(timeout_s):
            while run.status is RunStatus.RUNNING:
                await asyncio.sleep(poll_s)
                run = await store.get_run(adw_id)
    except TimeoutError:
        raise AdwError(
            f"run {adw_id} is still running: its process {run.owner or '(none)'} did not "
            f"pause it within {timeout_s:g}s; it will once it reads the request. If that "
            "process is gone, `adw recover` settles its runs"
        ) from None
    return run
