"""Traces: a simulated run's spans, in memory and as `adw run` writes them to
`agents/traces.jsonl` (OTLP JSON): one trace per run, each step visit a child of the
run's span, git's calls inside them."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adw_tui.agents.claude_code import ClaudeCodeEngine
from adw_tui.agents.registry import ENGINES
from adw_tui.config import load_settings
from adw_tui.domain.models import RunStatus
from adw_tui.runtime import tracing
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.runtime.sample_repo import create_sample_repo
from adw_tui.store import Store


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider.get_tracer("test"))
    try:
        yield exporter
    finally:
        tracing.disable()


async def test_a_runs_steps_and_git_calls_are_spans_of_its_trace(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    repo = await create_sample_repo(tmp_path / "repo")
    settings = load_settings(repo).model_copy(update={"engine": "sim"})
    async with (
        await Store.open(repo / "agents" / "adw_state.db") as store,
        Orchestrator(store, repo, settings) as orchestrator,
    ):
        issue = await store.issues.create("Add slugify", "x")
        adw_id = await orchestrator.launch(issue.number, workflow="plan")
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
    finished = spans.get_finished_spans()
    [run] = [span for span in finished if span.name == "run plan"]
    assert run.attributes is not None
    assert run.attributes["adw.id"] == adw_id
    assert run.attributes["adw.status"] == "succeeded"
    assert run.parent is None
    assert run.context is not None
    steps = [span for span in finished if span.name.startswith("step ")]
    assert {span.name for span in steps} >= {"step classify", "step plan", "step worktree"}
    assert all(
        span.parent is not None and span.parent.span_id == run.context.span_id for span in steps
    )
    step_ids = {span.context.span_id for span in steps if span.context is not None}
    gits = [span for span in finished if span.name.startswith("git ")]
    assert any(span.parent is not None and span.parent.span_id in step_ids for span in gits)
    assert {span.context.trace_id for span in steps if span.context} == {run.context.trace_id}
    in_run = {
        span.name
        for span in finished
        if span.context and span.context.trace_id == run.context.trace_id
    }
    assert {"worktree create", "tracker comment", "agent issue_classifier"} <= in_run


def _spans(path: Path) -> list[dict[str, Any]]:
    return [
        span
        for line in path.read_text().splitlines()
        for resource in json.loads(line)["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


def test_adw_run_writes_the_runs_tree_as_otlp_json_lines(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    for argv in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "first"]):
        subprocess.run(["git", "-C", str(repo), *argv], check=True, capture_output=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ADW_", "OTEL_"))}
    env["ADW_ENGINE"] = "sim"
    for argv in (
        ["issue", "new", "--title", "Slugs", "--body", "x"],
        ["run", "1", "--workflow", "sdlc"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "adw_tui", *argv],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    spans = _spans(repo / "agents" / "traces.jsonl")
    [run] = [span for span in spans if span["name"] == "run sdlc"]
    assert "parentSpanId" not in run or not run["parentSpanId"]
    assert len(run["traceId"]) == 32  # hex, as OTLP/JSON writes ids
    steps = [span for span in spans if span["name"].startswith("step ")]
    # Every step of the sdlc, each visit a child of the run's span.
    assert {"step plan", "step implement", "step test", "step review", "step document"} <= {
        span["name"] for span in steps
    }
    assert {span["parentSpanId"] for span in steps} == {run["spanId"]}
    in_run = [span for span in spans if span["traceId"] == run["traceId"]]
    assert any(span["name"].startswith("git ") for span in in_run)  # inside the steps


STREAM = (
    {"type": "system", "subtype": "init", "session_id": "s-1", "model": "m"},
    {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "result": "done",
        "session_id": "s-1",
        "total_cost_usd": 0,
        "num_turns": 1,
        "duration_ms": 1,
    },
)


def env_dumping_cli(dump: Path) -> str:
    """A CLI that writes its environment to `dump`, then answers as Claude Code does."""
    answer = "".join(f"echo '{json.dumps(line)}'\n" for line in STREAM)
    return f'#!/bin/sh\nenv > "{dump}"\ncat > /dev/null\n{answer}'


async def test_an_agent_call_gets_the_runs_context_and_its_spans_traceparent(
    tmp_path: Path, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    dump = tmp_path / "env.txt"
    cli = tmp_path / "agent-cli"
    cli.write_text(env_dumping_cli(dump))
    cli.chmod(0o755)
    monkeypatch.setitem(
        ENGINES,
        "env_dumping",
        replace(
            ENGINES["claude"],
            name="env_dumping",
            build=lambda settings, environ: ClaudeCodeEngine(binary=str(cli), environ=environ),
        ),
    )
    repo = await create_sample_repo(tmp_path / "repo")
    (repo / ".adw" / "workflows").mkdir(parents=True)
    (repo / ".adw" / "workflows" / "one_call.yaml").write_text(
        "name: one_call\nstates:\n"
        "  ask:\n    command: /hello\n    agent: greeter\n    on_success: complete\n"
        "  complete: {terminal: true}\n"
        "  dead_letter: {terminal: true, action: record_failure}\n"
    )
    (repo / ".claude" / "commands").mkdir(parents=True)
    (repo / ".claude" / "commands" / "hello.md").write_text("Say hello.\n")
    settings = load_settings(repo).model_copy(update={"engine": "env_dumping"})
    async with (
        await Store.open(repo / "agents" / "adw_state.db") as store,
        Orchestrator(store, repo, settings) as orchestrator,
    ):
        issue = await store.issues.create("Greet", "x")
        adw_id = await orchestrator.launch(issue.number, workflow="one_call")
        assert (await orchestrator.wait(adw_id)).status is RunStatus.SUCCEEDED
    seen = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
    assert seen["ADW_ID"] == adw_id
    assert seen["ADW_AGENT"] == "greeter"
    [call] = [span for span in spans.get_finished_spans() if span.name == "agent greeter"]
    assert call.context is not None
    _version, trace_id, span_id, _flags = seen["TRACEPARENT"].split("-")
    assert trace_id == f"{call.context.trace_id:032x}"
    assert span_id == f"{call.context.span_id:016x}"  # the agent call's own span
    assert call.attributes is not None
    assert call.attributes["adw.engine"] == "claude"  # what the engine calls itself
    assert call.attributes["adw.session_id"] == "s-1"
