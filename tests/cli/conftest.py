"""Fixtures of the console-script tests."""

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from adw_tui.runtime import tracing


@pytest.fixture(autouse=True)
def process_observability() -> Iterator[None]:
    """A command run in this process (`main([...])`) configures its logs and traces for
    the whole process; the next test starts without them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    tracing.disable()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A new git repository with nothing in it, for a test file that wants no more (others
    define a `repo` of their own)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo
