"""Fixtures of the console-script tests."""

import asyncio
from pathlib import Path

import pytest

from adw_tui.runtime.sample_repo import create_sample_repo


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """The demo's sample repository (a git repository with one commit), no issues yet."""
    return asyncio.run(create_sample_repo(tmp_path / "textkit"))
