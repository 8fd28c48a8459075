"""One agent call recorded as a step attempt: what a command step's attempts and a scout
step's scouts share.

`open_attempt` opens the attempt's timeline entry and tells live views; `stream_call`
runs the engine under the run's rate limit and memory guard, keeps the call's transcript
as the attempt's, records its session and process group, and publishes what the agent
does (tagged with the agent's name, so a view can tell a step's parallel agents apart).
Closing the attempt is the caller's: it knows when (with the state version).
"""

import asyncio
from contextlib import aclosing

from adw_tui.agents.engine import Engine
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentRequest, AgentResult, ErrorClass
from adw_tui.runtime.attempt_transcripts import keep_attempt_transcript
from adw_tui.runtime.events import AgentActivity, StepStarted
from adw_tui.runtime.memory import AgentMemoryGuard
from adw_tui.runtime.services import RunServices


async def open_attempt(
    services: RunServices,
    adw_id: str,
    step: str,
    *,
    visit: int,
    attempt: int,
    request: AgentRequest,
    engine: str,
) -> int:
    """Open the attempt's timeline entry and announce it; returns its id."""
    attempt_id = await services.store.steps.start(
        adw_id,
        step,
        visit=visit,
        attempt=attempt,
        agent=request.agent_name,
        engine=engine,
        model=request.model,
    )
    services.bus.publish(StepStarted(adw_id, step, request.agent_name, attempt))
    return attempt_id


async def stream_call(
    services: RunServices,
    adw_id: str,
    step: str,
    engine: Engine,
    request: AgentRequest,
    attempt_id: int,
) -> AgentResult:
    """Run `request` on `engine` as attempt `attempt_id` of `step`; its result (a call
    that ended without one is `no_result`, one over its memory limit `memory_limit`)."""
    result = AgentResult(success=False, error_class=ErrorClass.NO_RESULT, error_message="no result")
    settings = services.settings
    guard = AgentMemoryGuard(
        settings.agent_memory_limit_mb * 2**20, settings.memory_sample_interval
    )
    pgid_saved: asyncio.Future[None] | None = None

    def started(pid: int) -> None:
        nonlocal pgid_saved
        guard.watch(pid)
        keep_attempt_transcript(request.run_dir, attempt_id)
        pgid_saved = asyncio.ensure_future(services.store.steps.set_pgid(attempt_id, pid))

    agent = request.agent_name
    try:
        async with (
            services.resources.rate_limit(
                engine.name, on_wait=services.rate_limit_waits(adw_id, step, engine.name)
            ),
            aclosing(engine.run(request, on_start=started)) as stream,
        ):
            async for item in stream:
                if isinstance(item, AgentEvent):
                    if item.kind is AgentEventKind.INIT and item.detail.get("session_id"):
                        session = str(item.detail["session_id"])
                        await services.store.steps.set_session(attempt_id, session)
                    services.bus.publish(AgentActivity(adw_id, step, item, agent))
                else:
                    result = item
        return guard.verdict(result)
    finally:
        guard.stop()
        if pgid_saved is not None:
            await pgid_saved
