"""Fixtures of the console-script tests."""

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from adw_tui.runtime import tracing
from adw_tui.runtime.sample_repo import create_sample_repo


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """The demo's sample repository (a git repository with one commit), no issues yet."""
    return asyncio.run(create_sample_repo(tmp_path / "textkit"))


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
