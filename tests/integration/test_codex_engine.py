"""`CodexEngine` driving the REAL Codex CLI (@openai/codex 0.171.0) against a scripted
OpenAI Responses API on loopback.

Each test starts a `FakeResponses`, writes a `CODEX_HOME/config.toml` whose provider
points at it, and runs real `AgentRequest`s in a fresh git repository; one runs a whole
workflow through the orchestrator. The binary comes from `ADW_CODEX_PATH` (`.ci/run`
sets it), else `.ci/node/node_modules/.bin/codex`, else `codex` on PATH; without one the
tests are skipped, or fail when `CI` is set.
"""

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from adw_tui.agents.codex import CodexEngine
from adw_tui.agents.engine import Engine
from adw_tui.agents.registry import engine_for, interactive_resume
from adw_tui.config import Settings, load_settings
from adw_tui.domain.agent import AgentEvent, AgentEventKind, AgentRequest, AgentResult, ErrorClass
from adw_tui.domain.models import RunStatus
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.fake_anthropic import NeverAnswer
from tests.fake_openai import (
    Answer,
    FakeResponses,
    HttpError,
    Reply,
    Shell,
    function_outputs,
    user_texts,
)
from tests.integration.real_clis import NODE_BIN, find_cli, usable_cli
from tests.integration.test_claude_engine import Call, ProcessTree, assert_nothing_left, free_port
from tests.integration.test_workflow_claude import git

ADW_ID = "5c0dec0d"
AGENT = "sdlc_implementor"
MODEL = "gpt-fake"  # a name Codex has no metadata for: it warns, and offers `exec_command`
PRICES = {MODEL: (2.0, 8.0)}
API_KEY_VARIABLE = "OPENAI_API_KEY"
K = AgentEventKind


def find_codex() -> tuple[Path | None, str]:
    return find_cli(
        "ADW_CODEX_PATH",
        "codex",
        NODE_BIN / "codex",
        "no Codex CLI: set ADW_CODEX_PATH, run .ci/run, or put `codex` on PATH",
    )


@pytest.fixture(scope="session")
def codex_bin(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The real `codex`, checked with `--version`; skipped (failed under CI) if absent."""
    return str(
        usable_cli(find_codex(), "Codex CLI", lambda out: "codex-cli" in out, tmp_path_factory)
    )


def codex_env(base_url: str, root: Path, **extra: str) -> dict[str, str]:
    """A whole environment for Codex against `base_url`: its own HOME and CODEX_HOME (one
    per test: calls sharing one race to install its skills), nothing inherited but PATH."""
    home = root / "home"
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(
        'model_provider = "fake"\n'
        "[model_providers.fake]\n"
        'name = "Fake loopback"\n'
        f'base_url = "{base_url}"\n'
        f'env_key = "{API_KEY_VARIABLE}"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 1\n"
        "stream_max_retries = 1\n"
    )
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        API_KEY_VARIABLE: "sk-fake",
        **extra,
    }


@pytest.fixture
def api() -> Iterator[FakeResponses]:
    with FakeResponses() as server:
        yield server


MakeEngine = Callable[..., CodexEngine]


@pytest.fixture
def make_engine(codex_bin: str, tmp_path: Path) -> MakeEngine:
    """`make_engine(base_url)`: the engine on the real binary, offline against `base_url`."""

    def make(base_url: str, **options: Any) -> CodexEngine:
        return CodexEngine(
            binary=codex_bin,
            environ=codex_env(base_url, tmp_path),
            prices=PRICES,
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
            "model": MODEL,
            "cwd": git_repo,
            "output_dir": tmp_path / "agents",
            "timeout_s": 30.0,
            "idle_timeout_s": 20.0,
            **fields,
        }
        return AgentRequest.model_validate(values)

    return make


async def run_call(engine: Engine, request: AgentRequest) -> Call:
    """Run to the end, recording the agent's process tree while it runs."""
    events: list[AgentEvent] = []
    result: AgentResult | None = None
    tree: ProcessTree | None = None
    started = time.monotonic()

    def on_start(pid: int) -> None:
        nonlocal tree
        tree = ProcessTree(pid, os.getpgid(pid))
        tree.snapshot()

    async def watch() -> None:
        while True:
            if tree is not None:
                tree.snapshot()
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    try:
        async with aclosing(engine.run(request, on_start=on_start)) as stream:
            async for item in stream:
                if isinstance(item, AgentResult):
                    assert result is None, "more than one result"
                    result = item
                else:
                    assert result is None, f"an event after the result: {item}"
                    events.append(item)
    finally:
        watcher.cancel()
    assert result is not None, "no AgentResult"
    return Call(events, result, time.monotonic() - started, tree)


# -- calls that succeed ------------------------------------------------------------------------


async def test_a_shell_command_runs_in_the_repository(
    api: FakeResponses, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    request = request_for("Create notes/hello.txt")
    api.script = [
        Shell("mkdir -p notes && echo hello from the model > notes/hello.txt", "Writing it."),
        Reply("Wrote notes/hello.txt"),
    ]
    call = await run_call(make_engine(api.base_url), request)

    result = call.result
    assert result.success, call.describe()
    assert (request.cwd / "notes" / "hello.txt").read_text() == "hello from the model\n"
    assert call.kinds(K.INIT, K.TOOL_USE, K.TOOL_RESULT, K.TEXT, K.RESULT) == [
        K.INIT,
        K.TEXT,
        K.TOOL_USE,
        K.TOOL_RESULT,
        K.TEXT,
        K.RESULT,
    ], call.describe()
    assert not call.of(K.ERROR), call.describe()
    [warning] = call.of(K.WARNING)  # no metadata for the model's name
    assert "gpt-fake" in warning.text
    init = call.of(K.INIT)[0]
    assert init.detail["session_id"] == result.session_id
    assert init.detail["model"] == MODEL
    [use] = call.of(K.TOOL_USE)
    assert (use.tool_name, use.text) == (
        "shell",
        "mkdir -p notes && echo hello from the model > notes/hello.txt",
    )
    [outcome] = call.of(K.TOOL_RESULT)
    assert (outcome.tool_id, outcome.is_error) == (use.tool_id, False)
    assert [e.text for e in call.of(K.TEXT)] == ["Writing it.", "Wrote notes/hello.txt"]

    assert result.output == "Wrote notes/hello.txt"
    assert result.exit_code == 0
    assert result.error_class is ErrorClass.NONE
    assert result.session_id
    # two model requests of 100 tokens in (20 cached) and 50 out each
    assert (result.input_tokens, result.cache_read_tokens, result.output_tokens) == (160, 40, 100)
    assert result.cost_estimated
    assert result.cost_usd == pytest.approx((160 * 2.0 + 40 * 0.2 + 100 * 8.0) / 1e6)
    assert result.num_turns == 1
    assert result.retries == 0

    # the prompt came through stdin, the model saw the command's output
    assert len(api.requests) == 2
    assert user_texts(api.requests[0])[-1] == "Create notes/hello.txt"
    assert f"<cwd>{request.cwd}</cwd>" in user_texts(api.requests[0])[0]
    [output] = function_outputs(api.requests[1]).values()
    assert "Process exited with code 0" in output
    headers = {name.lower(): value for name, value in api.log[0].headers.items()}
    assert headers["authorization"] == "Bearer sk-fake"
    assert (request.run_dir / "prompts" / "prompt.txt").read_text() == "Create notes/hello.txt"
    raw = (request.run_dir / "raw_output.jsonl").read_text()
    assert raw.splitlines()[0] == f'{{"type":"thread.started","thread_id":"{result.session_id}"}}'
    assert '"type":"turn.completed"' in raw.splitlines()[-1]
    assert_nothing_left(call.tree, request.cwd)


async def test_a_300_kb_prompt_reaches_the_model_intact_through_stdin(
    api: FakeResponses, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    line = "Ünïcödé issue text, 東京, line\r\n"
    prompt = "Summarise this issue.\n" + line * (310_000 // len(line.encode())) + "</end>"
    assert len(prompt.encode()) > 300_000
    api.script = [Reply("Summarised.")]
    call = await run_call(make_engine(api.base_url), request_for(prompt))

    assert call.result.success, call.describe()
    sent = user_texts(api.requests[0])[-1]
    if sent != prompt:
        pytest.fail(f"the prompt of {len(prompt)} chars arrived as {len(sent)} chars")


async def test_a_paused_call_goes_on_with_its_thread(
    api: FakeResponses,
    make_engine: MakeEngine,
    request_for: Callable[..., AgentRequest],
    codex_bin: str,
    tmp_path: Path,
) -> None:
    engine = make_engine(api.base_url)
    api.script = [Reply("first answer")]
    first = await run_call(engine, request_for("Remember the word tangerine."))
    assert first.result.success, first.describe()

    api.script = [Reply("tangerine")]
    thread = first.result.session_id
    second = await run_call(engine, request_for("Which word?", resume_session_id=thread))

    assert second.result.success, second.describe()
    assert second.result.session_id == thread
    assert second.result.output == "tangerine"
    # the whole thread went to the model again, this call's prompt last
    assert user_texts(api.requests[-1])[-2:] == ["Remember the word tangerine.", "Which word?"]
    # Codex reports the thread's totals: both calls' requests
    total_in = second.result.input_tokens + second.result.cache_read_tokens
    assert (total_in, second.result.output_tokens) == (200, 100)

    # a person can take the thread over in Codex's own interactive session
    assert thread is not None
    env = {"ADW_CODEX_PATH": codex_bin, "CODEX_HOME": str(tmp_path / "home" / ".codex")}
    handover = interactive_resume("codex", Settings(), thread, env)
    assert handover.argv == [codex_bin, "resume", thread]
    assert handover.env["CODEX_HOME"] == env["CODEX_HOME"]


async def test_the_registry_prices_the_default_models(
    api: FakeResponses, codex_bin: str, request_for: Callable[..., AgentRequest], tmp_path: Path
) -> None:
    settings = Settings()
    model = settings.model_set("codex")["base"]
    env = codex_env(api.base_url, tmp_path, ADW_CODEX_PATH=codex_bin)
    engine = engine_for("codex", settings, env)
    api.script = [Reply("ok")]
    call = await run_call(engine, request_for("hi", model=model))

    assert call.result.success, call.describe()
    assert api.requests[0]["model"] == model
    price_in, price_out = settings.price_table()[model]
    assert call.result.cost_estimated
    assert call.result.cost_usd == pytest.approx(
        (80 * price_in + 2 * price_in + 50 * price_out) / 1e6
    )


# -- API errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error_class", "says"),
    [
        (HttpError(401, "bad key"), ErrorClass.AUTH, "401 Unauthorized: bad key"),
        (HttpError(429, "slow down"), ErrorClass.RATE_LIMIT, "last status: 429"),
        (
            HttpError(400, "bad request", code="invalid_value"),
            ErrorClass.INVALID_REQUEST,
            "bad request",
        ),
        (
            HttpError(400, "too long", code="context_length_exceeded"),
            ErrorClass.INVALID_REQUEST,
            "context window",
        ),
        (HttpError(429, "no money", code="insufficient_quota"), ErrorClass.AUTH, "Quota exceeded"),
        (HttpError(500, "boom"), ErrorClass.OVERLOADED, "high demand"),
    ],
)
async def test_api_errors_are_classed(
    api: FakeResponses,
    make_engine: MakeEngine,
    request_for: Callable[..., AgentRequest],
    answer: HttpError,
    error_class: ErrorClass,
    says: str,
) -> None:
    api.respond = lambda body: answer
    call = await run_call(make_engine(api.base_url), request_for("hi"))

    result = call.result
    assert not result.success, call.describe()
    assert result.error_class is error_class, call.describe()
    assert says in result.error_message
    assert result.exit_code == 1
    assert result.session_id
    assert call.kinds(K.ERROR, K.RESULT) == [K.ERROR, K.RESULT], call.describe()
    assert call.of(K.RESULT)[0].is_error
    assert result.retries == len(call.of(K.RETRY))
    assert_nothing_left(call.tree, request_for("hi").cwd)


async def test_a_missing_api_key_is_an_auth_error(
    api: FakeResponses, codex_bin: str, request_for: Callable[..., AgentRequest], tmp_path: Path
) -> None:
    env = codex_env(api.base_url, tmp_path)
    del env[API_KEY_VARIABLE]
    engine = CodexEngine(binary=codex_bin, environ=env)
    call = await run_call(engine, request_for("hi"))

    assert call.result.error_class is ErrorClass.AUTH, call.describe()
    assert f"Missing environment variable: `{API_KEY_VARIABLE}`" in call.result.error_message
    assert not api.requests


# -- calls adw has to stop -----------------------------------------------------------------------


@pytest.mark.slow
async def test_unreachable_api_hits_the_whole_call_timeout(
    make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    # Codex waits for the network forever; only adw's timeout ends the call.
    request = request_for("hi", timeout_s=4, idle_timeout_s=30)
    call = await run_call(make_engine(f"http://127.0.0.1:{free_port()}/v1"), request)

    result = call.result
    assert result.error_class is ErrorClass.TIMEOUT, call.describe()
    assert result.transient
    assert result.retries == len(call.of(K.RETRY)) >= 1
    assert "waiting for network" in result.error_message
    assert 4 <= call.seconds < 15, call.describe()
    assert not call.of(K.RESULT)
    assert result.session_id  # the thread exists: a later call could resume it
    assert_nothing_left(call.tree, request.cwd)


@pytest.mark.slow
async def test_a_silent_api_hits_the_idle_timeout(
    api: FakeResponses, make_engine: MakeEngine, request_for: Callable[..., AgentRequest]
) -> None:
    api.script = [NeverAnswer()]
    request = request_for("hi", idle_timeout_s=3, timeout_s=60)
    call = await run_call(make_engine(api.base_url), request)

    assert call.result.error_class is ErrorClass.IDLE_TIMEOUT, call.describe()
    assert 3 <= call.seconds < 15, call.describe()
    assert len(api.requests) == 1
    assert_nothing_left(call.tree, request.cwd)


# -- a workflow ----------------------------------------------------------------------------------

WORKFLOW_YAML = """\
name: greet
description: make a worktree, write a greeting there
states:
  worktree:
    action: setup_worktree
    on_success: greet
    on_failure: dead_letter
  greet:
    command: /greet
    agent: greeter
    args: ["${issue_number}", "${issue_title}"]
    output: file
    save: greeting_file
    on_success: complete
    on_failure: dead_letter
  complete:
    terminal: true
  dead_letter:
    terminal: true
    action: record_failure
"""
GREETING = "greetings/hello.md"
GREET_TEMPLATE = (
    "Write a greeting for issue $0, titled {$1}, to {path}, then answer with its path.\n"
)


@pytest.fixture
def workflow_repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "test")
    git(path, "config", "user.email", "t@example.invalid")
    git(path, "config", "commit.gpgsign", "false")
    (path / ".gitignore").write_text("agents/\ntrees/\n.ports.env\n")
    (path / ".adw" / "workflows").mkdir(parents=True)
    (path / ".adw" / "workflows" / "greet.yaml").write_text(WORKFLOW_YAML)
    (path / ".claude" / "commands").mkdir(parents=True)
    (path / ".claude" / "commands" / "greet.md").write_text(
        "---\ndescription: Write a greeting\n---\n" + GREET_TEMPLATE.replace("{path}", GREETING)
    )
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "greeter workflow")
    return path


@pytest.fixture
async def store(workflow_repo: Path) -> AsyncIterator[Store]:
    async with await Store.open(workflow_repo / "agents" / "adw_state.db") as opened:
        yield opened


async def test_a_workflow_runs_on_codex_with_the_repositorys_template_expanded_by_adw(
    api: FakeResponses, codex_bin: str, workflow_repo: Path, store: Store, tmp_path: Path
) -> None:
    def greet(body: dict[str, Any]) -> Answer:
        if function_outputs(body):
            return Reply(GREETING)
        return Shell(f"mkdir -p greetings && echo '# Hello' > {GREETING}")

    api.respond = greet
    issue = await store.issues.create("Say hello", "Greet whoever reads the repository.")
    settings = load_settings(workflow_repo).model_copy(
        update={"agent_timeout": 60.0, "agent_idle_timeout": 30.0, "kill_grace": 2.0}
    )
    env = codex_env(api.base_url, tmp_path, ADW_CODEX_PATH=codex_bin)
    orchestrator = Orchestrator(store, workflow_repo, settings)
    try:
        adw_id = await orchestrator.launch(
            issue.number, workflow="greet", engine="codex", engine_env=env
        )
        run = await orchestrator.wait(adw_id)
    finally:
        await orchestrator.aclose()

    timeline = await store.steps.timeline(adw_id)
    assert run.status is RunStatus.SUCCEEDED, timeline
    worktree = workflow_repo / "trees" / adw_id
    assert (worktree / GREETING).read_text() == "# Hello\n"
    # Codex reads no .claude/commands: adw sent the template expanded, arguments filled in
    prompt = user_texts(api.requests[0])[-1]
    assert "<command-name>/greet</command-name>" in prompt
    assert f"Write a greeting for issue 1, titled {{Say hello}}, to {GREETING}" in prompt
    assert f"<cwd>{worktree}</cwd>" in user_texts(api.requests[0])[0]
    assert api.requests[0]["model"] == settings.model_set("codex")["base"]

    loaded = await store.load(adw_id)
    assert loaded.state.as_data()["greeting_file"] == GREETING
    [attempt] = [a for a in await store.steps.for_run(adw_id) if a.step == "greet"]
    assert attempt.engine == "codex"
    assert attempt.session_id
    assert run.cost_usd > 0  # estimated from the tokens at the default model's price
