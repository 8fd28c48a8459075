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
from typing import TYPE_CHECKING

from adw_tui.agents.engine import Engine
from adw_tui.agents.runner import RAW_OUTPUT_FILE
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentRequest, AgentResult, ErrorClass
from adw_tui.runtime.attempt_transcripts import keep_attempt_transcript
from adw_tui.runtime.budgets import budget_usd
from adw_tui.runtime.events import AgentActivity, StepStarted
from adw_tui.runtime.memory import AgentMemoryGuard
from adw_tui.runtime.services import RunServices
from adw_tui.runtime.tracing import agent_environment, annotate, event, fail, span
from adw_tui.runtime.transcript_ship import TranscriptShipper

if TYPE_CHECKING:
    from opentelemetry.trace import Span


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
    that ended without one is `no_result`, one over its memory limit `memory_limit`), in a
    span of its own (see `adw_tui.runtime.tracing`); not made at all, `budget`, when the
    run has spent its budget."""
    settings = services.settings
    agent = request.agent_name
    run = await services.store.get_run(adw_id)
    budget = await budget_usd(services.store, settings, "run")
    if budget is not None:
        spent = run.cost_usd
        if spent >= budget:
            return AgentResult(
                success=False,
                error_class=ErrorClass.BUDGET,
                error_message=f"run {adw_id} has spent ${spent:.2f} of its ${budget:.2f} budget: "
                "raise it (adw budget --run USD), then replay the dead letter",
            )
    with span(
        f"agent {agent}",
        {
            "adw.id": adw_id,
            "adw.step": step,
            "adw.agent": agent,
            "adw.engine": engine.name,
            "adw.model": request.model,
        },
    ) as call:
        request = request.model_copy(
            update={"env": {**request.env, **agent_environment(adw_id, agent)}}
        )
        # A fleet run's transcript goes to the database too, for dashboards elsewhere.
        ship = run.fleet is not None
        result = await _stream(services, adw_id, step, engine, request, attempt_id, call, ship)
        annotate(call, _result_attributes(result))
        if not result.success:
            fail(call, f"{result.error_class}: {result.error_message}")
        return result


def _result_attributes(result: AgentResult) -> dict[str, str | int | float | bool]:
    return {
        "adw.error_class": str(result.error_class),
        "adw.session_id": result.session_id or "",
        "adw.tokens.input": result.input_tokens,
        "adw.tokens.output": result.output_tokens,
        "adw.cost_usd": result.cost_usd,
        "adw.cost_estimated": result.cost_estimated,
    }


async def _stream(
    services: RunServices,
    adw_id: str,
    step: str,
    engine: Engine,
    request: AgentRequest,
    attempt_id: int,
    call: "Span | None",
    ship: bool,
) -> AgentResult:
    result = AgentResult(success=False, error_class=ErrorClass.NO_RESULT, error_message="no result")
    settings = services.settings
    guard = AgentMemoryGuard(
        settings.agent_memory_limit_mb * 2**20, settings.memory_sample_interval
    )
    pgid_saved: asyncio.Future[None] | None = None
    shipper: TranscriptShipper | None = None

    def started(pid: int) -> None:
        nonlocal pgid_saved, shipper
        guard.watch(pid)
        keep_attempt_transcript(request.run_dir, attempt_id)
        pgid_saved = asyncio.ensure_future(services.store.steps.set_pgid(attempt_id, pid))
        if ship:
            path = request.run_dir / RAW_OUTPUT_FILE
            shipper = TranscriptShipper(services.store, path, attempt_id)
            shipper.start()

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
                    if item.kind is AgentEventKind.RETRY:
                        event(call, "retry", {"text": item.text})
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
        if shipper is not None:
            await shipper.close()
