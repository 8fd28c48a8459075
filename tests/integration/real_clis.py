"""Finding the real agent CLIs the integration tests drive: the binary a variable names,
else the one `.ci/run` installs into `.ci/node/`, else the one on PATH; checked with
`--version`. Without a usable one a test is skipped, or fails when `CI` is set (CI must
never pass by skipping them)."""

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = PROJECT_ROOT / ".ci/node/node_modules/.bin"


def find_cli(variable: str, command: str, local: Path, hint: str) -> tuple[Path | None, str]:
    """The binary and where it came from, or None and why there is none (`hint`: how to
    get one)."""
    configured = os.environ.get(variable)
    if configured:
        path = Path(configured)
        if path.is_file() and os.access(path, os.X_OK):
            return path, variable
        return None, f"{variable}={configured} is not an executable file"
    if local.is_file() and os.access(local, os.X_OK):
        return local, str(local.relative_to(PROJECT_ROOT))
    on_path = shutil.which(command)
    if on_path:
        return Path(on_path), "PATH"
    return None, hint


def run_directory(factory: pytest.TempPathFactory) -> Path:
    """A directory of this test run that all its xdist workers share (each worker's base
    temporary directory is in it), else this session's own."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def usable_cli(
    found: tuple[Path | None, str],
    what: str,
    answers: Callable[[str], bool],
    factory: pytest.TempPathFactory,
) -> Path:
    """The found binary when its `--version` exits 0 with what `answers` expects; else the
    test is skipped (failed under CI) saying why. A version that passed is noted in the
    run's directory, by the binary's path, size and time, so that the other workers of
    the run do not start it again (Gemini CLI's `--version` costs some 2 s of CPU)."""
    path, origin = found
    problem = None if path is not None else origin
    if path is not None:
        stat = path.stat()
        key = hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        passed = run_directory(factory) / f"cli-version-{key.hexdigest()[:16]}.ok"
        if passed.exists():
            return path
        try:
            done = subprocess.run(
                [str(path), "--version"], capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            problem = f"{path} ({origin}) --version failed: {exc}"
        else:
            if done.returncode != 0 or not answers(done.stdout):
                problem = f"{path} --version gave {done.returncode}: {done.stdout}{done.stderr}"
            else:
                passed.write_text(done.stdout)
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the real {what} is unusable: {problem}")
        pytest.skip(problem)
    assert path is not None
    return path
