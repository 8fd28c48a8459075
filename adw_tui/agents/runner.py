"""Run an agent CLI as a subprocess and stream what it says, under two time limits.

Shared by every CLI engine: it writes the prompt and the raw stdout under
`<output_dir>/<adw_id>/<agent_name>/`, feeds stdout through the JSONL splitter into the
engine's parser, enforces the whole-call and no-output timeouts, and kills the process
tree when a limit fires or the caller stops listening.
"""

import asyncio
from collections.abc import Mapping
from pathlib import Path

from adw_tui.agents.engine import AgentStream, ProcessEnding, StreamParser
from adw_tui.agents.jsonl import JsonlSplitter
from adw_tui.agents.process import kill_process_tree, read_tail, start_agent_process
from adw_tui.domain.agent import AgentRequest, AgentResult, ErrorClass

CHUNK_BYTES = 256 * 1024
RAW_OUTPUT_FILE = "raw_output.jsonl"


def prepare_run_dir(request: AgentRequest) -> Path:
    """Create the call's folder and save its prompt as `prompts/<command>.txt`."""
    prompts = request.run_dir / "prompts"
    prompts.mkdir(parents=True, exist_ok=True)
    (prompts / f"{request.command_name}.txt").write_text(request.prompt, encoding="utf-8")
    return request.run_dir


async def run_cli_agent(
    request: AgentRequest,
    argv: list[str],
    env: Mapping[str, str],
    parser: StreamParser,
    *,
    kill_grace_s: float = 5.0,
) -> AgentStream:
    run_dir = prepare_run_dir(request)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        process = await start_agent_process(argv, cwd=request.cwd, env=env)
    except OSError as error:
        yield AgentResult(
            success=False,
            error_class=ErrorClass.NOT_INSTALLED,
            error_message=f"cannot start {argv[0]}: {error.strerror or error}",
        )
        return
    assert process.stdout is not None
    assert process.stderr is not None
    stderr_tail = asyncio.create_task(read_tail(process.stderr))
    splitter = JsonlSplitter()
    limit: ErrorClass | None = None
    total_deadline = started + request.timeout_s if request.timeout_s else None
    idle_s = request.idle_timeout_s
    try:
        with (run_dir / RAW_OUTPUT_FILE).open("wb") as raw:
            while True:
                idle_deadline = loop.time() + idle_s if idle_s else None
                deadline = _earliest(idle_deadline, total_deadline)
                try:
                    async with asyncio.timeout_at(deadline):
                        chunk = await process.stdout.read(CHUNK_BYTES)
                except TimeoutError:
                    limit = _which_limit(loop.time(), total_deadline)
                    break
                if not chunk:
                    break
                raw.write(chunk)
                raw.flush()
                for line in splitter.feed(chunk):
                    for event in parser.events(line):
                        yield event
        if limit is None:
            try:
                async with asyncio.timeout_at(total_deadline):
                    await process.wait()
            except TimeoutError:
                limit = ErrorClass.TIMEOUT
        # Also reaps whatever the agent left running in its process group.
        await kill_process_tree(process, kill_grace_s if limit else 0.0)
        for line in splitter.close():
            for event in parser.events(line):
                yield event
        ending = ProcessEnding(
            exit_code=process.returncode,
            stderr_tail=(await stderr_tail).decode("utf-8", errors="replace"),
            duration_ms=int((loop.time() - started) * 1000),
            limit=limit,
        )
        yield parser.finish(ending)
    finally:
        if process.returncode is None:
            await kill_process_tree(process, kill_grace_s)
        stderr_tail.cancel()


def _earliest(*deadlines: float | None) -> float | None:
    present = [deadline for deadline in deadlines if deadline is not None]
    return min(present) if present else None


def _which_limit(now: float, total_deadline: float | None) -> ErrorClass:
    if total_deadline is not None and now >= total_deadline:
        return ErrorClass.TIMEOUT
    return ErrorClass.IDLE_TIMEOUT
