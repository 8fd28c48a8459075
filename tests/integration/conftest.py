"""The real Claude Code binary, an offline environment for it, and a runner that cannot hang.

The binary comes from `CLAUDE_CODE_PATH` (`.ci/run` installs it into `.ci/node/` and sets
it), else from that project-local install, else `claude` on PATH. Without one the tests that
need it are skipped, or fail when `CI` is set: CI must never pass by skipping them.
"""

import contextlib
import json
import os
import platform
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import copy_repo
from tests.integration.real_clis import NODE_BIN, find_cli, usable_cli

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLAUDE_MODEL = "claude-sonnet-4-5"
DEFAULT_TIMEOUT = 30.0


def _local_install() -> Path:
    """Where `.ci/run` puts the native binary for this machine."""
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)
    system = platform.system().lower()
    return (
        PROJECT_ROOT
        / ".ci/node/node_modules/@anthropic-ai"
        / f"claude-code-{system}-{arch or machine}"
        / "claude"
    )


def find_claude() -> tuple[Path | None, str]:
    """The binary to test and where it came from, or None and why there is none."""
    return find_cli(
        "CLAUDE_CODE_PATH",
        "claude",
        _local_install(),
        "no Claude Code binary: set CLAUDE_CODE_PATH, run .ci/run (it installs one into "
        ".ci/node/), or put `claude` on PATH",
    )


@pytest.fixture(scope="session")
def claude_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real `claude` binary, checked with `--version`; skipped (failed under CI) if absent."""
    return usable_cli(
        find_claude(), "Claude Code CLI", lambda out: "Claude Code" in out, tmp_path_factory
    )


@pytest.fixture(scope="session")
def git_repo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with one commit, made once per worker for `git_repo` to copy."""
    repo = tmp_path_factory.mktemp("git-repo-template") / "repo"
    repo.mkdir()
    git = [
        "git",
        "-c",
        "user.name=test",
        "-c",
        "user.email=t@example.invalid",
        "-c",
        "commit.gpgsign=false",
    ]
    subprocess.run([*git, "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "README.md").write_text("# scratch repo\n")
    subprocess.run([*git, "-C", str(repo), "add", "README.md"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "init"], check=True)
    return repo


@pytest.fixture
def git_repo(git_repo_template: Path, tmp_path: Path) -> Path:
    """A fresh git repository with one commit: the agent's working directory."""
    return copy_repo(git_repo_template, tmp_path / "repo")


@pytest.fixture
def claude_home(tmp_path: Path) -> Path:
    """HOME for the CLI, so nothing of the real ~/.claude is read or written."""
    home = tmp_path / "home"
    home.mkdir()
    return home


def offline_env(base_url: str, home: Path, **extra: str) -> dict[str, str]:
    """A whole environment (nothing inherited but PATH) for running the CLI against `base_url`."""
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "sk-test",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "IS_SANDBOX": "1",  # --dangerously-skip-permissions refuses to run as root without it
        **extra,
    }


def claude_print_argv(
    claude: Path, prompt: str, *extra: str, model: str = CLAUDE_MODEL
) -> list[str]:
    """`claude -p PROMPT` with stream-json output and no permission prompts."""
    return [
        str(claude),
        "-p",
        prompt,
        "--output-format",
        "stream-json",
        "--verbose",
        "--dangerously-skip-permissions",
        "--model",
        model,
        *extra,
    ]


@dataclass(frozen=True)
class ProcessRun:
    """One finished (or killed) CLI process and its stream-json output."""

    argv: list[str]
    pid: int
    """Also the process group id: the CLI was started in a session of its own."""
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool

    @property
    def lines(self) -> list[dict[str, Any]]:
        """Each stdout line parsed as JSON (a line that is not JSON fails the test)."""
        parsed: list[dict[str, Any]] = []
        for line in self.stdout.splitlines():
            if line.strip():
                try:
                    parsed.append(json.loads(line))
                except ValueError:
                    pytest.fail(f"not a JSON line: {line!r}\n{self.describe()}")
        return parsed

    def of_type(self, type_: str, subtype: str | None = None) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines
            if line.get("type") == type_ and (subtype is None or line.get("subtype") == subtype)
        ]

    @property
    def result(self) -> dict[str, Any]:
        """The final `result` line; fails the test if there is none."""
        results = self.of_type("result")
        if not results:
            pytest.fail(f"no result line\n{self.describe()}")
        return results[-1]

    def describe(self) -> str:
        state = "killed after timeout" if self.timed_out else f"exit {self.returncode}"
        return (
            f"{state} in {self.seconds:.1f}s: {self.argv[:3]}\n"
            f"--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"
        )


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = DEFAULT_TIMEOUT,
    stdin: str | None = None,
) -> ProcessRun:
    """Run to completion in its own process group, with `stdin` as its input (none if
    None); on timeout kill the whole group."""
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    timed_out = False
    try:
        stdout, stderr = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        stdout, stderr = proc.communicate()
    finally:
        if proc.returncode is None:  # an exception other than the timeout
            _kill_group(proc.pid)
            proc.wait()
    seconds = time.monotonic() - started
    return ProcessRun(list(argv), proc.pid, proc.returncode, stdout, stderr, seconds, timed_out)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


RunClaude = Callable[..., ProcessRun]


@pytest.fixture
def run_claude(claude_bin: Path, git_repo: Path, claude_home: Path) -> RunClaude:
    """`run_claude(base_url, prompt, *extra_args, timeout=30, env=None)` in `git_repo`."""

    def run(
        base_url: str,
        prompt: str,
        *extra: str,
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> ProcessRun:
        return run_process(
            claude_print_argv(claude_bin, prompt, *extra),
            cwd=git_repo,
            env=offline_env(base_url, claude_home, **dict(env or {})),
            timeout=timeout,
        )

    return run


GEMINI_MODEL = "gemini-2.5-flash"
GEMINI_API_KEY = "fake-gemini-key"


def find_gemini() -> tuple[Path | None, str]:
    """The Gemini CLI to test (`ADW_GEMINI_PATH`, else the one `.ci/run` installs, else
    `gemini` on PATH) and where it came from, or None and why there is none."""
    return find_cli(
        "ADW_GEMINI_PATH",
        "gemini",
        NODE_BIN / "gemini",
        "no Gemini CLI: set ADW_GEMINI_PATH, run .ci/run (it installs one into .ci/node/), "
        "or put `gemini` on PATH",
    )


@pytest.fixture(scope="session")
def gemini_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real `gemini` CLI, checked with `--version`; skipped (failed under CI) if absent."""
    return usable_cli(find_gemini(), "Gemini CLI", lambda out: bool(out.strip()), tmp_path_factory)


def gemini_env(base_url: str, home: Path, **extra: str) -> dict[str, str]:
    """A whole environment (nothing inherited but PATH) for Gemini CLI against `base_url`:
    HOME, the state directory (where adw keeps the CLI's home) and TMPDIR (where the CLI
    writes a report of each API error) in `home`."""
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "TMPDIR": str(home / "tmp"),
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "GEMINI_API_KEY": GEMINI_API_KEY,
        "GOOGLE_GEMINI_BASE_URL": base_url,
        **extra,
    }
