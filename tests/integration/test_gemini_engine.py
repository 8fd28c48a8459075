"""`GeminiEngine` driving the REAL Gemini CLI against a scripted loopback Gemini API.

One `FakeGemini` serves the module (each test gives it a new script); each test runs
real `AgentRequest`s in a fresh git repository with HOME in a temporary directory and
nothing inherited but PATH. The assertions are on what the orchestrator sees: the
AgentEvents, the AgentResult, the files the agent wrote, what reached the model API, and
for the calls adw stops, that no process of the call is left.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from adw_tui.agents.gemini import GeminiEngine
from adw_tui.config import DEFAULT_MODEL_PRICES
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentRequest, AgentResult, ErrorClass
from tests.fake_anthropic import NeverAnswer
from tests.fake_gemini import (
    Call,
    FakeGemini,
    HttpError,
    Text,
    is_function_response,
    request_text,
)
from tests.integration.conftest import GEMINI_API_KEY, GEMINI_MODEL, gemini_env
from tests.integration.test_claude_engine import (
    Call as Finished,
)
from tests.integration.test_claude_engine import (
    ProcessTree,
    assert_nothing_left,
    free_port,
    raw_lines,
    tool_pairs,
)

ADW_ID = "9c0ffee1"
AGENT = "sdlc_implementor"
K = AgentEventKind


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGemini]:
    with FakeGemini() as api:
        yield api


@pytest.fixture
def api(server: FakeGemini) -> FakeGemini:
    """The module's server, with an empty script and records."""
    server.reset()
    return server


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


MakeEngine = Callable[..., GeminiEngine]


@pytest.fixture
def make_engine(gemini_bin: Path, home: Path) -> MakeEngine:
    """`make_engine(base_url, **options)`: the engine on the real CLI, offline."""

    def make(base_url: str, **options: Any) -> GeminiEngine:
        return GeminiEngine(
            binary=str(gemini_bin),
            prices=DEFAULT_MODEL_PRICES,
            environ=gemini_env(base_url, home),
            kill_grace_s=2.0,
            **options,
        )

    return make


@pytest.fixture
def request_for(git_repo: Path, tmp_path: Path) -> Callable[..., AgentRequest]:
    def make(prompt: str, **fields: Any) -> AgentRequest:
        values: dict[str, Any] = {
            "prompt": prompt,
            "adw_id": ADW_ID,
            "agent_name": AGENT,
            "model": GEMINI_MODEL,
            "cwd": git_repo,
            "output_dir": tmp_path / "agents",
            "timeout_s": 60.0,
            "idle_timeout_s": 30.0,
            **fields,
        }
        return AgentRequest.model_validate(values)

    return make


async def run_call(engine: GeminiEngine, request: AgentRequest, *, watch: bool = False) -> Finished:
    """Run to the end; with `watch`, record the CLI's process tree while it runs."""
    events: list[AgentEvent] = []
    result: AgentResult | None = None
    tree: ProcessTree | None = None
    watcher: asyncio.Task[None] | None = None

    def started(pid: int) -> None:
        nonlocal tree, watcher
        tree = ProcessTree(pid, os.getpgid(pid))
        if watch:
            watcher = asyncio.ensure_future(snapshots(tree))

    async def snapshots(tree: ProcessTree) -> None:
        while True:
            tree.snapshot()
            await asyncio.sleep(0.05)

    began = time.monotonic()
    try:
        async with aclosing(engine.run(request, on_start=started)) as stream:
            async for item in stream:
                if isinstance(item, AgentResult):
                    assert result is None, "more than one result"
                    result = item
                else:
                    assert result is None, f"an event after the result: {item}"
                    events.append(item)
    finally:
        if watcher is not None:
            watcher.cancel()
    assert result is not None, "no AgentResult"
    return Finished(events, result, time.monotonic() - began, tree)


# -- calls that succeed --------------------------------------------------------------------


async def test_a_plain_answer(
    api: FakeGemini, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    # Through stdin whole: over a pipe's buffer (the CLI waits only 500 ms for a first
    # chunk, then reads to the end), over one argument's 128 KiB, non-ASCII, `$` and a
    # trailing blank line.
    line = "Ünïcödé issue text, 東京, keep `$ARGUMENTS` as is\n"
    prompt = "Say hello.\n" + line * (200_000 // len(line.encode())) + "\n"
    assert len(prompt.encode()) > 190_000
    request = request_for(prompt)
    api.script = [Text("Hello from Gemini.")]
    call = await run_call(make_engine(api.base_url), request)

    result = call.result
    assert result.success, call.describe()
    assert call.kinds() == [K.INIT, K.TEXT, K.RESULT], call.describe()
    init = call.of(K.INIT)[0]
    assert init.detail == {"model": GEMINI_MODEL, "session_id": result.session_id}
    assert result.session_id
    assert result.output == "Hello from Gemini."
    assert (result.exit_code, result.error_class, result.num_turns) == (0, ErrorClass.NONE, 1)
    assert (result.input_tokens, result.cache_read_tokens, result.output_tokens) == (80, 20, 50)
    price_in, price_out = DEFAULT_MODEL_PRICES[GEMINI_MODEL]
    assert result.cost_estimated
    assert result.cost_usd == pytest.approx((100 * price_in + 50 * price_out) / 1e6)

    [body] = api.requests
    assert api.models == [GEMINI_MODEL]
    if body["contents"][-1]["parts"][-1]["text"] != prompt:  # no 200 KB diff from pytest
        pytest.fail("the prompt did not reach the model as sent")
    assert str(request.cwd) in request_text(body)  # the CLI works in the request's cwd
    [logged] = api.log
    assert logged.headers["x-goog-api-key"] == GEMINI_API_KEY
    assert logged.path == f"/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse"

    lines = raw_lines(request)
    assert [line["type"] for line in lines] == ["init", "message", "message", "result"]
    assert (request.run_dir / "prompts" / "prompt.txt").read_text() == prompt
    assert lines[1]["content"] == prompt  # the CLI's echo of it
    # adw keeps the CLI's home (the test's HOME has no ~/.gemini) and no key in it.
    settings = Path(request.cwd.parent / "home/.local/state/adw/gemini/.gemini/settings.json")
    assert json.loads(settings.read_text())["security"]["auth"]["selectedType"] == (
        "gemini-api-key"
    )
    assert GEMINI_API_KEY not in settings.read_text()


async def test_tool_calls_run_in_the_working_directory(
    api: FakeGemini, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    request = request_for("Create notes/hello.txt")
    # A repository's .env (often secrets) stays out of the agent's environment.
    (request.cwd / ".env").write_text("LEAKED_SECRET=from-dotenv\n")
    shell = 'echo "[$LEAKED_SECRET][$GEMINI_API_KEY]" > seen.txt'
    api.script = [
        Call("write_file", {"file_path": "notes/hello.txt", "content": "hello from the model\n"}),
        Call("run_shell_command", {"command": shell, "description": "look around"}),
        Text("Wrote notes/hello.txt"),
    ]
    call = await run_call(make_engine(api.base_url), request)

    assert call.result.success, call.describe()
    assert (request.cwd / "notes" / "hello.txt").read_text() == "hello from the model\n"
    assert (request.cwd / "seen.txt").read_text() == f"[][{GEMINI_API_KEY}]\n"
    assert call.kinds() == [
        K.INIT,
        K.TOOL_USE,
        K.TOOL_RESULT,
        K.TOOL_USE,
        K.TOOL_RESULT,
        K.TEXT,
        K.RESULT,
    ], call.describe()
    assert [(name, failed) for name, _, failed in tool_pairs(call)] == [
        ("write_file", False),
        ("run_shell_command", False),
    ]
    assert [e.text for e in call.of(K.TOOL_USE)] == ["notes/hello.txt", shell]
    assert call.result.output == "Wrote notes/hello.txt"
    assert call.result.num_turns == 3
    assert len(api.requests) == 3
    assert all(is_function_response(body) for body in api.requests[1:])


async def test_a_session_is_resumed(
    api: FakeGemini, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    engine = make_engine(api.base_url)
    api.script = [Text("Noted: 42."), Text("It was 42.")]
    first = await run_call(engine, request_for("Remember the number 42."))
    assert first.result.success, first.describe()
    session = first.result.session_id
    assert session

    second = await run_call(engine, request_for("Which number was it?", resume_session_id=session))
    assert second.result.success, second.describe()
    assert second.result.session_id == session
    assert second.result.output == "It was 42."
    conversation = api.requests[1]["contents"]
    said = [(c["role"], c["parts"][-1].get("text")) for c in conversation]
    assert said[-3:] == [
        ("user", "Remember the number 42."),
        ("model", "Noted: 42."),
        ("user", "Which number was it?"),
    ]


# -- API errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "exit_code", "error_class"),
    [
        (401, 145, ErrorClass.AUTH),
        (429, 173, ErrorClass.RATE_LIMIT),
        (500, 244, ErrorClass.OVERLOADED),
    ],
)
async def test_http_errors_are_classified(
    api: FakeGemini,
    make_engine: MakeEngine,
    request_for: Callable[..., AgentRequest],
    home: Path,
    status: int,
    exit_code: int,
    error_class: ErrorClass,
) -> None:
    api.respond = lambda body: HttpError(status)
    call = await run_call(make_engine(api.base_url, api_attempts=1), request_for("hi"))

    result = call.result
    assert result.error_class is error_class, call.describe()
    assert not result.success
    assert result.transient is (status != 401)
    assert result.exit_code == exit_code  # the status modulo 256
    assert f"HTTP {status}, exit code {exit_code}" in result.error_message
    assert f"scripted {status}" in result.error_message
    assert call.kinds() == [K.INIT, K.RESULT]
    assert call.of(K.RESULT)[0].is_error
    assert len(api.requests) == 1  # one attempt: adw's retry policy does the rest
    # The CLI's report of the error (with the conversation) goes to TMPDIR.
    assert list((home / "tmp").glob("gemini-client-error-*.json"))


async def test_a_refused_connection_is_a_network_error(
    make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    engine = make_engine(f"http://127.0.0.1:{free_port()}", api_attempts=1)
    call = await run_call(engine, request_for("hi"))

    result = call.result
    assert result.error_class is ErrorClass.NETWORK, call.describe()
    assert result.transient
    assert result.exit_code == 1
    assert "fetch failed" in result.error_message


# -- calls adw has to stop -------------------------------------------------------------------


async def test_a_silent_api_hits_the_idle_timeout_and_the_tree_is_killed(
    api: FakeGemini, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    # Gemini CLI waits on a silent API (and retries a failing one) without a word on
    # stdout: adw's no-output timeout ends the call.
    api.script = [NeverAnswer()]
    request = request_for("hi", idle_timeout_s=3, timeout_s=30)
    call = await run_call(make_engine(api.base_url), request, watch=True)

    result = call.result
    assert result.error_class is ErrorClass.IDLE_TIMEOUT, call.describe()
    assert result.transient
    assert result.error_message.startswith("stopped by the no-output timeout")
    # On a loaded machine the CLI may still be starting when the limit fires: either
    # way nothing but its init line came out, and nothing of it is left running.
    assert call.kinds() in ([K.INIT], []), call.describe()
    assert len(api.requests) <= 1
    assert_nothing_left(call.tree, request.cwd)


# -- the command line ------------------------------------------------------------------------


def test_adw_prompt_with_engine_gemini(
    api: FakeGemini, gemini_bin: Path, git_repo: Path, home: Path
) -> None:
    """`adw prompt --engine gemini`: the engine's base model, the live transcript of the
    tool call, and the estimated cost marked as such."""
    api.script = [
        Call("write_file", {"file_path": "notes/hi.txt", "content": "hi\n"}),
        Text("Wrote notes/hi.txt"),
    ]
    environ = {key: value for key, value in os.environ.items() if not key.startswith("ADW_")}
    environ.update(gemini_env(api.base_url, home, ADW_GEMINI_PATH=str(gemini_bin)))
    environ["COLUMNS"] = "200"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "adw"), "prompt", "--engine", "gemini", "Write it"],
        cwd=git_repo,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "→ write_file notes/hi.txt" in done.stdout
    assert "Wrote notes/hi.txt" in done.stdout
    assert "✔ done in 2 turns · ~$0.0" in done.stdout
    assert (git_repo / "notes" / "hi.txt").read_text() == "hi\n"
    assert api.models == [GEMINI_MODEL, GEMINI_MODEL]
