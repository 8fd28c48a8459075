"""The runtime's end-to-end fixtures: the demo's sample repository and its database.
(test_git.py and test_worktrees.py define a bare `repo` of their own.)"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web


@pytest.fixture
def repo(sample_repo: Path) -> Path:
    return sample_repo


@pytest.fixture
def db_path(repo: Path) -> Path:
    """The demo's database, where the sample repository keeps it."""
    return repo / "agents" / "adw_state.db"


@pytest.fixture
async def docs_server() -> AsyncIterator[str]:
    """A loopback documentation site: `/guide` (text), `/big` (1 MB), `/slow` (answers
    after 30 s), `/moved` (a redirect to `/guide`); anything else is 404."""

    async def guide(_: web.Request) -> web.Response:
        return web.Response(text="The guide says: count with split().")

    async def big(_: web.Request) -> web.Response:
        return web.Response(text="x" * 2**20)

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPFound("/guide")

    app = web.Application()
    app.router.add_get("/guide", guide)
    app.router.add_get("/big", big)
    app.router.add_get("/slow", slow)
    app.router.add_get("/moved", moved)
    runner = web.AppRunner(app, shutdown_timeout=0.1)  # the slow handler is not awaited
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
