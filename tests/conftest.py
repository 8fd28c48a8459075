"""Shared fixtures: a state database in a temporary directory, a quick way to make runs,
and an engine of the test's own."""

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from adw_tui.agents.claude_stream import ClaudeStreamParser
from adw_tui.agents.jsonl import ParsedLine
from adw_tui.agents.registry import ENGINES
from adw_tui.cli.context import DB_RELATIVE_PATH
from adw_tui.domain.agent import AgentEvent
from adw_tui.domain.ids import new_adw_id
from adw_tui.domain.models import RunRecord
from adw_tui.runtime.sample_repo import create_sample_repo
from adw_tui.store import Store
from adw_tui.store.backend import Engine
from adw_tui.store.group_commit import SyncWriter
from adw_tui.store.location import DatabaseLocation, PostgresDsn, database_location
from tests.fake_github import TOKEN as GITHUB_TOKEN
from tests.fake_github import FakeGitHub
from tests.postgres import (
    empty_postgres_dsn,
    on_own_loop,
    own_cluster,
    postgres_databases,
    postgres_dsn,
    postgres_server,
)

pytest_plugins = ["tests.frozen_heap"]

__all__ = [
    "empty_postgres_dsn",
    "own_cluster",
    "postgres_databases",
    "postgres_dsn",
    "postgres_server",
]

MakeRun = Callable[..., Awaitable[RunRecord]]


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: half again as many workers as cores. Much of the suite waits on real
    subprocesses (agents, `adw` itself, git), so one worker per core leaves a core idle
    about a quarter of the time."""
    return max(2, (os.cpu_count() or 1) * 3 // 2)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that mostly wait (`starts_early`: a real CLI's own retry back-off) go first,
    so that the others fill their wait instead of waiting on them at the end. The
    PostgreSQL run of a `sqlite_only` test is left out."""
    dropped = [item for item in items if _postgres_run_of_sqlite_only(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not _postgres_run_of_sqlite_only(item)]
    items.sort(key=lambda item: item.get_closest_marker("starts_early") is None)


def _postgres_run_of_sqlite_only(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    on_postgres = callspec is not None and callspec.params.get("engine") == "postgresql"
    return on_postgres and item.get_closest_marker("sqlite_only") is not None


@pytest.fixture(scope="session")
def sample_repo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's sample repository as `create_sample_repo` makes it, made once per
    worker: the tests get copies (`copy_repo`), a fraction of the cost of `git init`,
    two `git config`, `git add` and `git commit` each time."""
    return asyncio.run(create_sample_repo(tmp_path_factory.mktemp("template") / "textkit"))


def copy_repo(template: Path, path: Path) -> Path:
    """A copy of the git repository `template` at `path` (which must not exist): the same
    files, commits and configuration. Git's sample hooks (never run) stay behind."""
    shutil.copytree(template, path, symlinks=True, ignore=shutil.ignore_patterns("*.sample"))
    return path


@pytest.fixture
def sample_repo(sample_repo_template: Path, tmp_path: Path) -> Path:
    """The demo's sample repository (a git repository with one commit), no issues yet."""
    return copy_repo(sample_repo_template, tmp_path / "textkit")


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """The loopback GitHub, serving `octo/hello` to the token `tests.fake_github.TOKEN`."""
    with FakeGitHub(token=GITHUB_TOKEN) as server:
        yield server


@pytest.fixture
def origin(repo: Path, tmp_path: Path) -> Path:
    """A bare repository set as `repo`'s `origin` (where runs push), holding its main."""
    bare = tmp_path / "origin.git"
    for argv in (
        ["git", "init", "--bare", "--quiet", "--initial-branch=main", str(bare)],
        ["git", "-C", str(repo), "remote", "add", "origin", str(bare)],
        ["git", "-C", str(repo), "push", "--quiet", "origin", "main"],
    ):
        subprocess.run(argv, check=True, capture_output=True)
    return bare


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the state database lives; the `agents` directory does not exist yet."""
    return tmp_path / "agents" / "adw_state.db"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The engine of the `store` fixture's database: every test that uses it runs on
    both (a test of what only SQLite has is marked `sqlite_only`)."""
    engine: Engine = request.param
    return engine


@pytest.fixture
def db_location(engine: Engine, db_path: Path, request: pytest.FixtureRequest) -> DatabaseLocation:
    """The test's database: the SQLite file `db_path`, or a fresh PostgreSQL database."""
    if engine == "sqlite":
        return db_path
    location: DatabaseLocation = request.getfixturevalue("postgres_dsn")
    return location


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database of the current schema, migrated once per worker: a test's new
    database is a copy (`from_template`), a file copy instead of every migration's
    commit, each one waiting for the disk. The migrations' own tests open new files."""
    path = tmp_path_factory.mktemp("sqlite-template") / "adw_state.db"
    on_own_loop(_migrate(path))
    return path


async def _migrate(path: Path) -> None:
    store = await Store.open(path)
    await store.close()  # its last connection: the log is checkpointed and removed


def from_template(location: DatabaseLocation, template: Path) -> DatabaseLocation:
    """`location`, where it is a SQLite file not made yet, made a copy of `template`."""
    if isinstance(location, Path) and not location.exists():
        location.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, location)
    return location


@pytest.fixture
async def store(db_location: DatabaseLocation, sqlite_template: Path) -> AsyncIterator[Store]:
    opened = await Store.open(from_template(db_location, sqlite_template))
    try:
        yield opened
    finally:
        await opened.close()


def db_argument(store: Store) -> str:
    """The store's database as `--db` takes it (a DSN with its password)."""
    return location_argument(store.path)


def location_argument(location: DatabaseLocation) -> str:
    """A database as `--db` and `ADW_DB` take it (a DSN with its password)."""
    return location.url if isinstance(location, PostgresDsn) else str(location)


DATABASE_SETTINGS = ("ADW_DB", "ADW_BUSY_TIMEOUT", "ADW_DB_SYNCHRONOUS")


@pytest.fixture(autouse=True)
def no_database_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where and how the database is opened is the test's to say (`repo_db`), never the
    environment the suite runs in."""
    for name in DATABASE_SETTINGS:
        monkeypatch.delenv(name, raising=False)


@dataclass(frozen=True)
class RepoDatabase:
    """The database the test's `adw` commands use: the repository's own SQLite file
    (`<repo>/agents/adw_state.db`, where adw looks when nothing says otherwise), or a
    fresh PostgreSQL database named by `ADW_DB` in this process's environment, which
    `main()` in the test and the `adw` subprocesses it starts read (`adw_environment`)."""

    dsn: PostgresDsn | None

    def of(self, repo: Path) -> DatabaseLocation:
        """The database of `repo`, for the test to open with `Store.open`."""
        return repo / DB_RELATIVE_PATH if self.dsn is None else self.dsn


@pytest.fixture
def repo_db(
    engine: Engine, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> RepoDatabase:
    """The database of every repository the test's `adw` commands run in, on each engine."""
    if engine == "sqlite":
        return RepoDatabase(None)
    dsn: PostgresDsn = request.getfixturevalue("postgres_dsn")
    monkeypatch.setenv("ADW_DB", dsn.url)
    return RepoDatabase(dsn)


def database_of(repo: Path) -> DatabaseLocation:
    """The database `adw` opens in `repo`, found as adw finds it: `ADW_DB` when the test
    set it (`repo_db`), else the repository's own file."""
    return database_location(os.environ.get("ADW_DB") or repo / DB_RELATIVE_PATH)


def adw_environment(**extra: str) -> dict[str, str]:
    """The environment of an `adw` subprocess: this one without the user's `ADW_*`
    settings, except the test's own database (`repo_db`), plus `extra`."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ADW_") or key in DATABASE_SETTINGS
    }
    return {**inherited, **extra}


def sqlite_file(store: Store) -> Path:
    """The file of a SQLite store (for a test that reads or changes it directly)."""
    assert isinstance(store.path, Path), f"a SQLite store, not {store.path}"
    return store.path


async def raw_execute(store: Store, sql: str, params: Sequence[Any] = ()) -> None:
    """A statement of the test's own on the store's writer, in a transaction of its own:
    past the store's API, not past the database's triggers (either engine)."""
    async with store._db.transaction() as connection:
        await connection.execute(sql, params)


async def create_run(
    store: Store,
    adw_id: str | None = None,
    *,
    workflow: str = "adw_plan_build",
    actor: str = "test",
    **state: Any,
) -> RunRecord:
    """Create a run whose version-1 state is `state` (plus a fresh `adw_id` if none given)."""
    return await store.create_run(
        {"adw_id": adw_id or new_adw_id(), **state}, workflow=workflow, actor=actor
    )


@pytest.fixture
def groups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size (in writes) of every group the store commits from here on."""
    sizes: list[int] = []
    run_group = SyncWriter.run_group

    def counted(self: SyncWriter, writes: list[Any]) -> list[Any]:
        sizes.append(len(writes))
        return run_group(self, writes)

    monkeypatch.setattr(SyncWriter, "run_group", counted)
    return sizes


@pytest.fixture
def make_run(store: Store) -> MakeRun:
    """`await make_run(**state)` creates a run in the `store` fixture."""

    async def make(adw_id: str | None = None, **state: Any) -> RunRecord:
        return await create_run(store, adw_id, **state)

    return make


@pytest.fixture(autouse=True)
def user_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user config directory (dashboard preferences, user themes), kept per test so a
    test never reads or writes the real one; subprocesses inherit it."""
    config = tmp_path / "user-config"
    monkeypatch.setenv("ADW_CONFIG_DIR", str(config))
    return config


@pytest.fixture(autouse=True)
def lean_agent_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulated agent's test step runs the sample repository's tests with this
    environment's Python, which has adw's own pytest plugins installed (snapshots, xdist,
    asyncio...): loading them is most of that step's cost, and the sample's plain tests
    need none. Agents see the variable through the agent_env allow-list, as a user would
    let an agent see one; subprocesses inherit both."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("ADW_AGENT_ENV", '["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]')


class ShoutingParser(ClaudeStreamParser):
    """Another engine's parser, told apart by what it makes of a line: all capitals."""

    def events(self, line: ParsedLine) -> list[AgentEvent]:
        return [event._replace(text=event.text.upper()) for event in super().events(line)]


@pytest.fixture
def shouting_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of an engine, registered for the test, whose transcripts its own parser
    reads (in capitals)."""
    monkeypatch.setitem(
        ENGINES, "shouting", replace(ENGINES["sim"], name="shouting", parser=ShoutingParser)
    )
    return "shouting"
