"""The runtime's end-to-end fixtures: the demo's sample repository and its database.
(test_git.py and test_worktrees.py define a bare `repo` of their own.)"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adw_tui.runtime.sample_repo import create_sample_repo
from adw_tui.store import Store


@pytest.fixture
async def repo(tmp_path: Path) -> Path:
    return await create_sample_repo(tmp_path / "textkit")


@pytest.fixture
async def store(repo: Path) -> AsyncIterator[Store]:
    async with await Store.open(repo / "agents" / "adw_state.db") as opened:
        yield opened
