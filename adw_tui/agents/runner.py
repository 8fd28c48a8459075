"""Run an agent CLI as a subprocess and stream what it says, under two time limits.

Shared by every CLI engine: it writes the prompt and the raw stdout under
`<output_dir>/<adw_id>/<agent_name>/`, feeds stdout through the JSONL splitter into the
engine's parser, enforces the whole-call and no-output timeouts, and kills the process
tree when a limit fires, when the caller stops listening, and after the agent exits (to
reap anything it left running).
"""

import asyncio
import errno
import subprocess
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any

from adw_tui.agents.engine import AgentStream, ProcessEnding, StartHook, StreamParser
from adw_tui.agents.jsonl import JsonlSplitter
from adw_tui.agents.process import (
    AgentProcess,
    StderrTail,
    adopt,
    feed_stdin,
    kill_process_tree,
    process_exit,
    start_agent_process,
)
from adw_tui.domain.agent import AgentRequest, AgentResult, ErrorClass

CHUNK_BYTES = 256 * 1024
RAW_OUTPUT_FILE = "raw_output.jsonl"
# The raw stream is not redacted (it is the agent's exact output): only its owner reads it.
RAW_OUTPUT_MODE = 0o600
# After the agent exits, how long its stdout may stay open and quiet: a child it left
# behind can hold the pipe open forever.
DRAIN_AFTER_EXIT_S = 1.0


def prepare_run_dir(request: AgentRequest) -> Path:
    """Create the call's folder, save its prompt as `prompts/<command>.txt`, and start an
    empty `raw_output.jsonl` before the agent starts. The previous call's file is
    unlinked, not truncated: a hard link made to it (the runtime keeps one per step
    attempt) keeps that call's stream whole. The file is the owner's alone
    (`RAW_OUTPUT_MODE`), and so are its links, which share its mode."""
    prompts = request.run_dir / "prompts"
    prompts.mkdir(parents=True, exist_ok=True)
    (prompts / f"{request.command_name}.txt").write_text(request.prompt, encoding="utf-8")
    raw_output = request.run_dir / RAW_OUTPUT_FILE
    raw_output.unlink(missing_ok=True)
    raw_output.touch(mode=RAW_OUTPUT_MODE)
    raw_output.chmod(RAW_OUTPUT_MODE)  # whatever the umask
    return request.run_dir


def _start_failure(
    request: AgentRequest, argv: list[str], env: Mapping[str, str], error: OSError
) -> AgentResult:
    """Why the agent did not start, by errno: only what no other cause explains is a
    missing install (exec says ENOENT for a missing working directory too)."""
    binary = argv[0]
    if error.errno == errno.E2BIG:
        error_class = ErrorClass.PROMPT_TOO_LONG
        arguments = sum(len(arg.encode()) + 1 for arg in argv)
        environment = sum(len(f"{name}={value}".encode()) + 1 for name, value in env.items())
        message = (
            f"cannot start {binary}: its arguments ({arguments} bytes) and environment "
            f"({environment} bytes) are over the system's limit for a new process (E2BIG): "
            "shorten the longest of them (a variable ADW_AGENT_ENV lets through, or a "
            "prompt the engine passes as an argument)"
        )
    elif error.errno == errno.ENOENT and not request.cwd.is_dir():
        error_class = ErrorClass.WORKTREE_MISSING
        message = (
            f"cannot start {binary}: its working directory {request.cwd} does not exist "
            "(the run's worktree was removed)"
        )
    else:
        error_class = ErrorClass.NOT_INSTALLED
        message = f"cannot start {binary}: {error.strerror or error}"
    return AgentResult(success=False, error_class=error_class, error_message=message)


async def run_cli_engine(
    problem: str | None,
    request: AgentRequest,
    argv: list[str],
    env: Mapping[str, str],
    parser: StreamParser,
    *,
    stdin: bytes | None = None,
    kill_grace_s: float = 5.0,
    on_start: StartHook | None = None,
    spawned: "subprocess.Popen[bytes] | None" = None,
) -> AgentStream:
    """An engine's `run`: a NOT_INSTALLED result when `problem` (its `check_installed`)
    says the CLI is missing, else `run_cli_agent`'s stream."""
    if problem is not None and spawned is None:
        yield AgentResult(
            success=False, error_class=ErrorClass.NOT_INSTALLED, error_message=problem
        )
        return
    stream = run_cli_agent(
        request,
        argv,
        env,
        parser,
        stdin=stdin,
        kill_grace_s=kill_grace_s,
        on_start=on_start,
        spawned=spawned,
    )
    # aclosing: when our caller stops early, the runner's cleanup runs now, not at GC.
    async with aclosing(stream):
        async for item in stream:
            yield item


async def run_cli_agent(
    request: AgentRequest,
    argv: list[str],
    env: Mapping[str, str],
    parser: StreamParser,
    *,
    stdin: bytes | None = None,
    kill_grace_s: float = 5.0,
    on_start: StartHook | None = None,
    spawned: "subprocess.Popen[bytes] | None" = None,
) -> AgentStream:
    """`stdin`, when given, is written to the agent's standard input (then closed) while
    its output is read; without it the agent's stdin is /dev/null. The request's own
    variables (`AgentRequest.env`) join the engine's environment `env`.

    `spawned` is this very call's process, started already by `spawn_agent` with `argv`,
    `env` and a stdin pipe when `stdin` is given (`adw prompt` starts its agent before
    importing the rest of adw); a pipe the caller gave `stdin` to already (`give_prompt`)
    is not fed again. The call's files are made before its output is read."""
    env = {**env, **request.env}
    run_dir = prepare_run_dir(request)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        if spawned is not None:
            process = await adopt(spawned)
        else:
            process = await start_agent_process(
                argv, cwd=request.cwd, env=env, stdin=stdin is not None
            )
    except OSError as error:
        yield _start_failure(request, argv, env, error)
        return
    assert process.stdout is not None
    assert process.stderr is not None
    tree_ended = False
    feeding = None
    stderr: StderrTail | None = None
    try:
        if on_start is not None:
            on_start(process.pid)
        if stdin is not None and process.stdin is not None:
            feeding = asyncio.ensure_future(feed_stdin(process.stdin, stdin))
        stderr = StderrTail(process.stderr)
        stdout = _StdoutReader(process, request, started)
        splitter = JsonlSplitter()
        with (run_dir / RAW_OUTPUT_FILE).open("ab") as raw:
            async with aclosing(stdout.chunks()) as chunks:
                async for chunk in chunks:
                    raw.write(chunk)
                    raw.flush()
                    for line in splitter.feed(chunk):
                        for event in parser.events(line):
                            yield event
        limit = stdout.limit or await _wait_for_exit(process, stdout.total_deadline)
        await kill_process_tree(process, kill_grace_s if limit else 0.0)
        tree_ended = True
        for line in splitter.close():
            for event in parser.events(line):
                yield event
        ending = ProcessEnding(
            exit_code=process.returncode,
            stderr_tail=await stderr.text(),
            duration_ms=int((loop.time() - started) * 1000),
            limit=limit,
        )
        yield parser.finish(ending)
    finally:
        # Stopped early (a pause, a cancel, a consumer gone, an error): the whole tree,
        # even when the agent itself has exited and a child it left holds stdout open.
        # Shielded: a second cancel does not leave the tree half-killed.
        if not tree_ended:
            await asyncio.shield(kill_process_tree(process, kill_grace_s))
        if feeding is not None:
            feeding.cancel()
        if stderr is not None:
            stderr.close()
        process.close()


class _StdoutReader:
    """Yields stdout chunks until EOF, a time limit, or the agent has exited and its
    stdout went quiet (held open by something it left behind)."""

    def __init__(self, process: AgentProcess, request: AgentRequest, started: float) -> None:
        assert process.stdout is not None
        self._process = process
        self._stream = process.stdout
        self._idle_s = request.idle_timeout_s
        self.total_deadline = started + request.timeout_s if request.timeout_s else None
        self.limit: ErrorClass | None = None

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        loop = asyncio.get_running_loop()
        exited = asyncio.ensure_future(process_exit(self._process))
        read: asyncio.Future[bytes] | None = None
        try:
            while True:
                read = read or asyncio.ensure_future(self._stream.read(CHUNK_BYTES))
                now = loop.time()
                deadline = _earliest(
                    now + self._idle_s if self._idle_s else None,
                    self.total_deadline,
                    now + DRAIN_AFTER_EXIT_S if exited.done() else None,
                )
                waiting: set[asyncio.Future[Any]] = {read} if exited.done() else {read, exited}
                done, _ = await asyncio.wait(
                    waiting,
                    timeout=None if deadline is None else max(0.0, deadline - now),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if read in done:
                    chunk, read = read.result(), None
                    if not chunk:
                        return
                    yield chunk
                elif exited in done:
                    continue
                elif exited.done():
                    return
                else:
                    self.limit = _which_limit(loop.time(), self.total_deadline)
                    return
        finally:
            if read is not None:
                read.cancel()
            exited.cancel()


async def _wait_for_exit(process: AgentProcess, total_deadline: float | None) -> ErrorClass | None:
    """Wait for the agent to exit after closing its stdout; TIMEOUT if it outlives the
    whole-call limit."""
    try:
        async with asyncio.timeout_at(total_deadline):
            await process_exit(process)
    except TimeoutError:
        return ErrorClass.TIMEOUT
    return None


def _earliest(*deadlines: float | None) -> float | None:
    present = [deadline for deadline in deadlines if deadline is not None]
    return min(present) if present else None


def _which_limit(now: float, total_deadline: float | None) -> ErrorClass:
    if total_deadline is not None and now >= total_deadline:
        return ErrorClass.TIMEOUT
    return ErrorClass.IDLE_TIMEOUT
