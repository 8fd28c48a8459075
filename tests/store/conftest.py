"""The store's tests run against both engines: each test that uses the `store` fixture
(or `db_location`) runs once on SQLite and once on PostgreSQL (a parameter, not a copy).
A test of something only SQLite has (its files, PRAGMAs, query plans) is marked
`sqlite_only` and runs on SQLite alone."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adw_tui.store import Store
from adw_tui.store.backend import Engine
from adw_tui.store.location import DatabaseLocation


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def engine(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.param
    return engine


@pytest.fixture
def db_location(engine: Engine, db_path: Path, request: pytest.FixtureRequest) -> DatabaseLocation:
    """The test's database: the SQLite file `db_path`, or a fresh PostgreSQL database."""
    if engine == "sqlite":
        return db_path
    location: DatabaseLocation = request.getfixturevalue("postgres_dsn")
    return location


@pytest.fixture
async def store(db_location: DatabaseLocation) -> AsyncIterator[Store]:
    opened = await Store.open(db_location)
    try:
        yield opened
    finally:
        await opened.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the PostgreSQL run of a `sqlite_only` test."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("engine") == "postgresql"
        sqlite_only = item.get_closest_marker("sqlite_only") is not None
        (dropped if on_postgres and sqlite_only else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
