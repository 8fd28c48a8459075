"""Benchmark: reading an agent's stream, against a bare json.loads loop and the bare CLI.

Two questions, each answered against a baseline measured in the same run:

1. Can adw read a Claude Code stream as fast as Python can parse JSON lines? A
   deterministic transcript (default 200,000 lines, in a temporary directory) is built
   with the simulated CLI's own message builders, which copy real Claude Code 2.1.328
   lines field for field: an init line; then turns cycling through an assistant text
   block, an assistant tool_use (Write, Read, Bash, Edit, Grep), the user tool_result
   with its `tool_use_result` metadata, a thinking block every 6th turn and a
   `system/api_retry` every 97th; a final result line. Lines are mostly 0.5-3 KB, Read
   results up to ~13 KB.
   - json_loads: `for line in f: json.loads(line)` over the file opened in binary mode
     (bytes, as the engine parses them too).
   - reader_parser: what the runner does per chunk, in-process: read `CHUNK_BYTES`,
     write and flush it to a raw output file, feed `JsonlSplitter`, pass every parsed
     line to `ClaudeStreamParser.events`. Target: at least 0.7 times the lines/s of json_loads.
   - engine_e2e (no target): `ClaudeCodeEngine` whose "claude" is a shell script that
     cats the transcript, every event consumed: adds the pipe, asyncio and process control.
   Each is the best of N passes over the same file (in the page cache).

2. Does `adw prompt --engine sim` take longer than the simulated CLI it drives? Both run
   as subprocesses, stdout to /dev/null, each in a fresh temporary git repository,
   alternating, N times; the figure is the median wall time. The workload is `/implement`
   of a plan naming `--sim-files` modules and their tests (default 100: 200 Write calls,
   606 lines, 0.5 MB), paced by ADW_SIM_DELAY=`--sim-delay` (default 5 ms per line), so
   it streams for ~3.5 s. Why this: a real agent call lasts minutes and emits a line every
   second or so; 5 ms per line is hundreds of times faster, so any per-line cost in adw
   still shows, and a call this short weighs adw's start-up far more than a real one
   would, which makes the target harder, not easier. The same call unpaced (the sim as
   fast as it can write) is reported without a target: it bounds adw's per-line cost. So
   that a reader can split the gap into start-up and streaming, the fixed costs are
   reported too: `adw --version` vs `python -m adw_tui.agents.sim --version` (which
   import almost nothing) and a two-line call (`adw prompt hello` vs the sim answering
   `hello`). The sim gets exactly the argv and stdin the engine gives it. The subprocesses run with
   PYTHONPYCACHEPREFIX in the temporary directory (PYTHONDONTWRITEBYTECODE dropped, the
   prefix allow-listed for the agent), after one untimed warm-up of each, so both start
   from cached bytecode as an installed adw does, and the project tree is not touched.

Why the baselines run in the same process and minute: absolute figures on a shared or
virtual machine swing from run to run (CPU frequency, noisy neighbours), so the targets
are ratios to a baseline measured on the same machine, in the same minute.

The tables go to stdout, followed by exactly one JSON line (the last line) with every
figure. Run: `uv run python bench/stream.py [--quick]`.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from rich.table import Table

from adw_tui.agents.claude_code import ClaudeCodeEngine, SimulatedClaudeEngine
from adw_tui.agents.claude_stream import ClaudeStreamParser
from adw_tui.agents.engine import ProcessEnding, StreamParser
from adw_tui.agents.jsonl import JsonlSplitter
from adw_tui.agents.runner import CHUNK_BYTES, RAW_OUTPUT_FILE
from adw_tui.agents.sim.output import encode
from adw_tui.agents.sim.stream import (
    Envelope,
    Message,
    Outcome,
    api_retry_message,
    assistant_message,
    init_message,
    result_message,
    text_block,
    tool_result_message,
    tool_use_block,
)
from adw_tui.agents.sim.usage import Tally, message_usage, output_tokens_for
from adw_tui.domain.agent import AgentEvent, AgentRequest, AgentResult
from bench.common import Target, filesystem_of, print_report, targets_table

TARGET_PARSE_RATIO = 0.7
TARGET_WALL_RATIO = 1.05
MODEL = "claude-sonnet-4-5"
CWD = "/home/user/repo"  # the transcript's cwd, as in the reference transcripts
NAMESPACE = uuid.UUID("0b6c53c4-3f7e-4e43-9a55-7f1d2c8e9b10")
TRANSCRIPT_ENV = "ADW_BENCH_TRANSCRIPT"
PLAN_FILE = "specs/bench-plan.md"
SIM_PROMPT = f"/implement {PLAN_FILE}"


@dataclass(frozen=True)
class Params:
    lines: int = 200_000
    repeats: int = 5  # in-process passes (best of)
    e2e_repeats: int = 3
    sim_files: int = 100
    sim_delay: float = 0.005
    sim_repeats: int = 5  # subprocess pairs (median of)
    quick: bool = False


QUICK = Params(lines=20_000, repeats=1, e2e_repeats=1, sim_files=10, sim_repeats=1, quick=True)


# The transcript.


def envelope(session_id: str, number: int) -> Envelope:
    seconds, millis = divmod(number * 37, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return Envelope(
        session_id=session_id,
        uuid=str(uuid.uuid5(NAMESPACE, f"line-{number}")),
        timestamp=f"2026-01-{1 + hours // 24:02d}T{hours % 24:02d}:{minutes:02d}:"
        f"{seconds:02d}.{millis:03d}Z",
    )


def source_text(turn: int, lines: int) -> str:
    """A deterministic Python file of `lines` lines (about 45 bytes each)."""
    body = [f'"""Module {turn}: generated for the stream benchmark."""', ""]
    for index in range(lines - 2):
        body.append(f"STEP_{turn}_{index} = compute({index}, scale={turn % 97})  # step {index}")
    return "\n".join(body) + "\n"


# Lines per file by turn: mostly small, now and then a big one.
FILE_LINES = (6, 14, 30, 10, 45, 8, 20, 120)
TOOLS = ("Write", "Read", "Bash", "Edit", "Grep")


def tool_call(turn: int) -> tuple[str, dict[str, Any], str, Message]:
    """(tool name, input, result text, tool_use_result metadata) of turn `turn`."""
    name = TOOLS[turn % len(TOOLS)]
    path = f"{CWD}/pkg/module_{turn % 500:03d}.py"
    text = source_text(turn, FILE_LINES[turn % len(FILE_LINES)])
    if name == "Write":
        note = f"File created successfully at: {path}"
        meta: Message = {"type": "create", "filePath": path, "content": text}
        return (
            name,
            {"file_path": path, "content": text},
            note,
            meta | {"structuredPatch": [], "originalFile": None},
        )
    if name == "Read":
        numbered = "\n".join(f"{i:>6}\t{line}" for i, line in enumerate(text.splitlines(), 1))
        count = text.count("\n")
        file: Message = {"filePath": path, "content": text, "numLines": count, "startLine": 1}
        return name, {"file_path": path}, numbered, {"type": "text", "file": file}
    if name == "Bash":
        out = "\n".join(f"tests/test_{turn}_{i}.py::test_case PASSED" for i in range(8))
        command = {"command": "python -m pytest -q", "description": "Run the tests"}
        meta = {"stdout": out, "stderr": "", "interrupted": False, "isImage": False}
        return name, command, out, meta
    if name == "Edit":
        old, new = f"STEP_{turn}_0 = compute(0", f"STEP_{turn}_0 = compute_fast(0"
        note = f"The file {path} has been updated successfully."
        hunk = {"oldStart": 3, "oldLines": 1, "newStart": 3, "newLines": 1, "lines": [old, new]}
        edit = {"file_path": path, "old_string": old, "new_string": new}
        meta = {"filePath": path, "oldString": old, "newString": new, "structuredPatch": [hunk]}
        return name, edit, note, meta | {"originalFile": text, "userModified": False}
    files = [f"{CWD}/pkg/module_{(turn + i) % 500:03d}.py" for i in range(6)]
    pattern = {"pattern": f"STEP_{turn}_", "path": CWD}
    found: Message = {"mode": "files_with_matches", "filenames": files, "numFiles": len(files)}
    return name, pattern, "\n".join(files), found


def turn_messages(session_id: str, turn: int, tally: Tally) -> Iterator[Callable[[int], Message]]:
    """One turn's lines, as builders taking the line number."""
    message_id = f"msg_{uuid.uuid5(NAMESPACE, f'message-{turn}').hex[:24]}"
    input_tokens = 2_000 + 32 * turn

    def assistant(block: Message, size: str) -> Callable[[int], Message]:
        tokens = output_tokens_for(size)
        tally.add(input_tokens, tokens)
        return lambda n: assistant_message(
            envelope(session_id, n),
            message_id=message_id,
            model=MODEL,
            content=[block],
            usage=message_usage(input_tokens, tokens),
        )

    if turn % 97 == 13:
        yield lambda n: api_retry_message(
            envelope(session_id, n),
            attempt=1,
            max_retries=10,
            delay_ms=524,
            status=529,
            error="server_error",
        )
    if turn % 6 == 0:
        thought = f"Turn {turn}: the plan asks for module {turn % 500}; check it first. " * 4
        yield assistant(
            {"type": "thinking", "thinking": thought, "signature": "c2ln" * 40}, thought
        )
    preface = f"Next I'll work on pkg/module_{turn % 500:03d}.py (step {turn} of the plan)."
    yield assistant(text_block(preface), preface)
    name, tool_input, content, meta = tool_call(turn)
    tool_id = f"toolu_{uuid.uuid5(NAMESPACE, f'tool-{turn}').hex[:24]}"
    yield assistant(tool_use_block(tool_id, name, tool_input), json.dumps(tool_input))
    yield lambda n: tool_result_message(
        envelope(session_id, n),
        tool_use_id=tool_id,
        content=content,
        is_error=False,
        tool_use_result=meta,
    )


def transcript(count: int) -> Iterator[bytes]:
    """`count` encoded lines: init, turns, result."""
    session_id = str(uuid.uuid5(NAMESPACE, "session"))
    init = init_message(
        envelope(session_id, 0),
        cwd=Path(CWD),
        model=MODEL,
        permission_mode="bypassPermissions",
        custom_commands=["implement", "feature", "test"],
        mcp_servers=[],
        home="/home/user",
    )
    yield encode(init).encode()
    tally, number, turn = Tally(model=MODEL), 1, 0
    while number < count - 1:
        for build in turn_messages(session_id, turn, tally):
            if number == count - 1:
                break
            yield encode(build(number)).encode()
            number += 1
        turn += 1
    result = result_message(
        envelope(session_id, number),
        outcome=Outcome(text="Implemented the plan."),
        tally=tally,
        num_turns=turn,
        duration_ms=number * 37,
        duration_api_ms=40 * turn,
    )
    yield encode(result).encode()


@dataclass(frozen=True)
class TranscriptFacts:
    lines: int
    megabytes: float
    line_bytes_mean: float
    line_bytes_p50: float
    line_bytes_p99: float
    line_bytes_max: int


def write_transcript(path: Path, lines: Iterable[bytes]) -> TranscriptFacts:
    """Write `lines` (without their newlines) to `path`; what they are like."""
    sizes: list[int] = []
    with path.open("wb") as file:
        for line in lines:
            file.write(line + b"\n")
            sizes.append(len(line) + 1)
    cuts = statistics.quantiles(sizes, n=100, method="inclusive")
    return TranscriptFacts(
        lines=len(sizes),
        megabytes=sum(sizes) / 1e6,
        line_bytes_mean=statistics.fmean(sizes),
        line_bytes_p50=cuts[49],
        line_bytes_p99=cuts[98],
        line_bytes_max=max(sizes),
    )


# Part 1: parsing.


def json_loads_pass(path: Path, _raw: Path) -> tuple[int, int]:
    """The baseline: (lines, objects) of a bare loop over the file in binary mode."""
    lines = 0
    with path.open("rb") as file:
        for line in file:
            json.loads(line)
            lines += 1
    return lines, lines


def reader_parser_pass(
    path: Path, raw: Path, parser: StreamParser | None = None
) -> tuple[int, int]:
    """(lines, events) of the runner's per-chunk work, without the subprocess, with
    `parser` (default: Claude Code's)."""
    splitter = JsonlSplitter()
    parser = parser or ClaudeStreamParser(CWD)
    events = 0
    with path.open("rb") as source, raw.open("wb") as raw_file:
        while chunk := source.read(CHUNK_BYTES):
            raw_file.write(chunk)
            raw_file.flush()
            for line in splitter.feed(chunk):
                events += len(parser.events(line))
    for line in splitter.close():
        events += len(parser.events(line))
    result = parser.finish(ProcessEnding(exit_code=0, stderr_tail="", duration_ms=0))
    if not result.success:
        raise RuntimeError(f"reader_parser: the transcript's result failed: {result}")
    return splitter.lines_seen, events


@dataclass(frozen=True)
class Rate:
    best_s: float
    lines: int
    events: int
    megabytes: float

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.best_s

    @property
    def mb_per_s(self) -> float:
        return self.megabytes / self.best_s

    def as_json(self) -> dict[str, Any]:
        return {
            "lines_per_s": round(self.lines_per_s, 1),
            "mb_per_s": round(self.mb_per_s, 2),
            "best_s": round(self.best_s, 4),
            "events": self.events,
        }


PassFn = Callable[[Path, Path], tuple[int, int]]


def best_of_passes(
    passes: dict[str, PassFn], path: Path, facts: TranscriptFacts, n: int
) -> dict[str, Rate]:
    """Each pass `n` times, interleaved so drift hits all alike; the fastest time of each."""
    times: dict[str, list[float]] = {name: [] for name in passes}
    counts: dict[str, tuple[int, int]] = {}
    for _ in range(n):
        for name, run in passes.items():
            start = time.perf_counter()
            counts[name] = run(path, path.with_name(f"raw_{name}.jsonl"))
            times[name].append(time.perf_counter() - start)
    for name, (lines, _) in counts.items():
        if lines != facts.lines:
            raise RuntimeError(f"{name} saw {lines} lines, not {facts.lines}")
    return {
        name: Rate(min(times[name]), facts.lines, counts[name][1], facts.megabytes)
        for name in passes
    }


async def engine_e2e_pass(directory: Path, path: Path, index: int) -> tuple[int, int]:
    """(lines, events) of one `ClaudeCodeEngine` call whose CLI cats the transcript."""
    script = directory / "cat-transcript"
    script.write_text(f'#!/bin/sh\nexec cat "${TRANSCRIPT_ENV}"\n')
    script.chmod(0o755)
    engine = ClaudeCodeEngine(
        binary=str(script),
        environ={**os.environ, TRANSCRIPT_ENV: str(path)},
        extra_env=(TRANSCRIPT_ENV,),
        kill_grace_s=1.0,
    )
    request = AgentRequest(
        prompt="/implement specs/plan.md",
        adw_id=f"{index:08x}",
        agent_name="bench",
        cwd=directory,
        output_dir=directory / "agents",
    )
    events, result = 0, None
    async for item in engine.run(request):
        if isinstance(item, AgentEvent):
            events += 1
        else:
            result = item
    if not isinstance(result, AgentResult) or not result.success:
        raise RuntimeError(f"engine_e2e: the call failed: {result}")
    with (request.run_dir / RAW_OUTPUT_FILE).open("rb") as raw:
        lines = sum(1 for _ in raw)
    shutil.rmtree(request.run_dir)
    return lines, events


def engine_e2e(directory: Path, path: Path, facts: TranscriptFacts, n: int) -> Rate:
    times: list[float] = []
    lines = events = 0
    for index in range(n):
        start = time.perf_counter()
        lines, events = asyncio.run(engine_e2e_pass(directory, path, index))
        times.append(time.perf_counter() - start)
    if lines != facts.lines:
        raise RuntimeError(f"engine_e2e wrote {lines} raw lines, not {facts.lines}")
    return Rate(min(times), lines, events, facts.megabytes)


# Part 2: adw prompt against the simulated CLI.


@dataclass(frozen=True)
class Pair:
    """Median wall seconds of the adw command and of the sim alone."""

    adw_s: float
    sim_s: float

    @property
    def ratio(self) -> float:
        return self.adw_s / self.sim_s

    @property
    def gap_s(self) -> float:
        return self.adw_s - self.sim_s

    def as_json(self) -> dict[str, float]:
        return {
            "adw_s": round(self.adw_s, 4),
            "sim_s": round(self.sim_s, 4),
            "gap_s": round(self.gap_s, 4),
            "ratio": round(self.ratio, 4),
        }


def plan_text(files: int) -> str:
    steps = "".join(
        f"{2 * i + 1}. Create `pkg/mod_{i:04d}.py`.\n"
        f"{2 * i + 2}. Create `tests/test_mod_{i:04d}.py` to test it.\n"
        for i in range(files)
    )
    return (
        "# Feature: stream benchmark\n\n## Summary\nMany small modules.\n\n"
        f"## Implementation steps\n{steps}\n## Testing strategy\nRun the tests.\n"
    )


Command = tuple[list[str], bytes | None]
"""A command line and what to write to its stdin (None: nothing)."""


class SimRunner:
    """Runs `adw prompt --engine sim` and the bare sim, each in a fresh git repository."""

    def __init__(self, root: Path, params: Params) -> None:
        self._root = root
        self._plan = plan_text(params.sim_files)
        self._repos = 0
        bin_dir = Path(sys.executable).parent
        self._adw = str(bin_dir / "adw") if (bin_dir / "adw").exists() else "adw"
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self._env = base | {
            "PYTHONPYCACHEPREFIX": str(root / "pycache"),
            "ADW_AGENT_ENV": json.dumps(["PYTHONPYCACHEPREFIX"]),
            "ADW_SIM_FAULTS": "",
        }

    def repo(self) -> Path:
        self._repos += 1
        repo = self._root / f"repo{self._repos:03d}"
        (repo / "specs").mkdir(parents=True)
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        (repo / PLAN_FILE).write_text(self._plan, encoding="utf-8")
        return repo

    def time(self, command: Command, repo: Path, delay: float) -> float:
        argv, stdin = command
        env = self._env | {"ADW_SIM_DELAY": str(delay)}
        start = time.perf_counter()
        done = subprocess.run(
            argv,
            cwd=repo,
            env=env,
            input=stdin or b"",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(
                f"{argv[:4]} exited {done.returncode}: {done.stderr.decode()[-2000:]}"
            )
        return elapsed

    def pair(self, prompt: str | None, delay: float, n: int) -> Pair:
        """Medians of `n` runs of each, alternating which goes first; None times `--version`."""
        commands = {"adw": self.adw_argv, "sim": self.sim_argv}
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for index in range(n):
            for name in ("adw", "sim") if index % 2 == 0 else ("sim", "adw"):
                repo = self.repo()
                samples[name].append(self.time(commands[name](prompt, repo), repo, delay))
        return Pair(statistics.median(samples["adw"]), statistics.median(samples["sim"]))

    def adw_argv(self, prompt: str | None, _repo: Path) -> Command:
        if prompt is None:
            return [self._adw, "--version"], None
        return [self._adw, "prompt", prompt, "--engine", "sim"], None

    def sim_argv(self, prompt: str | None, repo: Path) -> Command:
        """Exactly what `adw prompt --engine sim` starts, and the prompt on its stdin."""
        engine = SimulatedClaudeEngine()
        if prompt is None:
            return [*engine.executable(), "--version"], None
        request = AgentRequest(
            prompt=prompt, adw_id="00000000", agent_name="bench", cwd=repo, output_dir=repo
        )
        return engine.command(request), prompt.encode()

    def workload_lines(self) -> int:
        """Lines the sim writes for the workload (run once, unpaced)."""
        repo = self.repo()
        argv, stdin = self.sim_argv(SIM_PROMPT, repo)
        done = subprocess.run(
            argv, cwd=repo, env=self._env, input=stdin, capture_output=True, check=True
        )
        return done.stdout.count(b"\n")


@dataclass(frozen=True)
class SimFigures:
    version: Pair
    minimal_call: Pair
    paced: Pair
    unpaced: Pair
    workload_lines: int

    def pairs(self) -> dict[str, Pair]:
        return {
            "version": self.version,
            "minimal_call": self.minimal_call,
            "paced": self.paced,
            "unpaced": self.unpaced,
        }


def measure_sim(root: Path, params: Params) -> SimFigures:
    runner = SimRunner(root, params)
    lines = runner.workload_lines()  # also the warm-up of the sim's bytecode
    runner.pair(SIM_PROMPT, 0.0, 1)  # the warm-up of adw's
    return SimFigures(
        version=runner.pair(None, 0.0, max(3, 2 * params.sim_repeats)),
        minimal_call=runner.pair("hello", 0.0, params.sim_repeats),
        paced=runner.pair(SIM_PROMPT, params.sim_delay, params.sim_repeats),
        unpaced=runner.pair(SIM_PROMPT, 0.0, params.sim_repeats),
        workload_lines=lines,
    )


# Report.


@dataclass(frozen=True)
class Figures:
    transcript: TranscriptFacts
    parse: dict[str, Rate]
    sim: SimFigures

    @property
    def parse_ratio(self) -> float:
        return self.parse["reader_parser"].lines_per_s / self.parse["json_loads"].lines_per_s


def measure_all(params: Params) -> Figures:
    with tempfile.TemporaryDirectory(prefix="adw-bench-stream-") as tmp:
        root = Path(tmp)
        path = root / "transcript.jsonl"
        facts = write_transcript(path, transcript(params.lines))
        passes: dict[str, PassFn] = {
            "json_loads": json_loads_pass,
            "reader_parser": reader_parser_pass,
        }
        parse = best_of_passes(passes, path, facts, params.repeats)
        (root / "e2e").mkdir()
        parse["engine_e2e"] = engine_e2e(root / "e2e", path, facts, params.e2e_repeats)
        path.unlink()
        return Figures(facts, parse, measure_sim(root / "sim", params))


PARSE_LABELS = {
    "json_loads": "for line in f: json.loads(line)  (binary)",
    "reader_parser": "JsonlSplitter + ClaudeStreamParser, in-process",
    "engine_e2e": "ClaudeCodeEngine, `cat` as the CLI (no target)",
}
SIM_LABELS = {
    "version": "--version (start-up only)",
    "minimal_call": "two-line call: `hello`",
    "paced": "/implement, paced (target)",
    "unpaced": "/implement, unpaced (no target)",
}


def parse_table(figures: Figures) -> Table:
    facts, baseline = figures.transcript, figures.parse["json_loads"]
    table = Table(
        title=f"Parsing a {facts.lines:,}-line Claude Code transcript ({facts.megabytes:,.0f} MB; "
        f"line bytes mean {facts.line_bytes_mean:,.0f}, p50 {facts.line_bytes_p50:,.0f}, "
        f"p99 {facts.line_bytes_p99:,.0f}, max {facts.line_bytes_max:,})"
    )
    table.add_column("reader", no_wrap=True)
    for column in ("lines/s", "MB/s", "best s", "events", "vs json.loads"):
        table.add_column(column, justify="right")
    for name, rate in figures.parse.items():
        table.add_row(
            PARSE_LABELS[name],
            f"{rate.lines_per_s:,.0f}",
            f"{rate.mb_per_s:,.1f}",
            f"{rate.best_s:.3f}",
            f"{rate.events:,}",
            f"{rate.lines_per_s / baseline.lines_per_s:.3f}",
        )
    return table


def sim_table(sim: SimFigures, params: Params) -> Table:
    table = Table(
        title=f"adw prompt --engine sim vs the simulated CLI alone (median wall s): /implement "
        f"of {2 * params.sim_files} files, {sim.workload_lines:,} lines, "
        f"paced {params.sim_delay * 1000:g} ms/line"
    )
    table.add_column("call", no_wrap=True)
    for column in ("adw s", "sim s", "adw - sim s", "adw / sim"):
        table.add_column(column, justify="right")
    for name, pair in sim.pairs().items():
        table.add_row(
            SIM_LABELS[name],
            f"{pair.adw_s:.3f}",
            f"{pair.sim_s:.3f}",
            f"{pair.gap_s:+.3f}",
            f"{pair.ratio:.3f}",
        )
    return table


def targets(figures: Figures) -> list[Target]:
    paced = figures.sim.paced.ratio
    return [
        Target(
            "reader_parser_vs_json_loads",
            f">= {TARGET_PARSE_RATIO}",
            f"{figures.parse_ratio:.3f}",
            figures.parse_ratio >= TARGET_PARSE_RATIO,
        ),
        Target(
            "adw_prompt_vs_sim_wall",
            f"<= {TARGET_WALL_RATIO}",
            f"{paced:.3f}",
            paced <= TARGET_WALL_RATIO,
        ),
    ]


def environment(elapsed_s: float, load: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "load_avg_1m_at_start": round(load[0], 2),
        "tmp_fs": filesystem_of(Path(tempfile.gettempdir())),
        "chunk_bytes": CHUNK_BYTES,
        "elapsed_s": round(elapsed_s, 2),
    }


def report(
    figures: Figures, params: Params, elapsed_s: float, load: tuple[float, float, float]
) -> None:
    checks = targets(figures)
    line = {
        "bench": "stream",
        "transcript": asdict(figures.transcript),
        "parse": {name: rate.as_json() for name, rate in figures.parse.items()},
        "sim": {
            **{name: pair.as_json() for name, pair in figures.sim.pairs().items()},
            "workload_lines": figures.sim.workload_lines,
        },
        "ratios": {
            "reader_parser_vs_json_loads": round(figures.parse_ratio, 4),
            "engine_e2e_vs_json_loads": round(
                figures.parse["engine_e2e"].lines_per_s / figures.parse["json_loads"].lines_per_s,
                4,
            ),
            "adw_prompt_vs_sim_wall": round(figures.sim.paced.ratio, 4),
        },
        "targets": {check.name: check.met for check in checks},
        "params": {**asdict(params), **environment(elapsed_s, load)},
    }
    tables = (parse_table(figures), sim_table(figures.sim, params), targets_table(checks))
    print_report(tables, line)


def parse_params(argv: list[str] | None) -> Params:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, help="transcript lines (default 200,000)")
    parser.add_argument("--repeats", type=int, help="in-process passes, best of (default 5)")
    parser.add_argument("--e2e-repeats", type=int, help="engine end-to-end calls (default 3)")
    parser.add_argument("--sim-files", type=int, help="modules in the sim's plan (default 100)")
    parser.add_argument("--sim-delay", type=float, help="ADW_SIM_DELAY, s/line (default 0.005)")
    parser.add_argument("--sim-repeats", type=int, help="subprocess pairs, median (default 5)")
    parser.add_argument("--quick", action="store_true", help="tiny numbers, for a smoke test")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else Params()
    names = ("lines", "repeats", "e2e_repeats", "sim_files", "sim_delay", "sim_repeats")
    given = {name: value for name in names if (value := getattr(args, name)) is not None}
    return replace(base, **given)


def main(argv: list[str] | None = None) -> int:
    params = parse_params(argv)
    load = os.getloadavg()
    start = time.perf_counter()
    figures = measure_all(params)
    report(figures, params, time.perf_counter() - start, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
