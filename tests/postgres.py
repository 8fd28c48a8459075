"""A real PostgreSQL for the tests: a throwaway cluster per xdist worker, or the server
`ADW_TEST_POSTGRES_DSN` names (an administrator's DSN: the tests create databases there).

The cluster is made with the server's own tools (initdb, pg_ctl) in a temporary
directory, on a free loopback port with its socket inside that directory, run as the
`postgres` user when the tests run as root (PostgreSQL refuses root), and stopped at the
end. Each test gets a database of its own, copied from a template that already holds the
schema, so tests stay independent and parallel. Where no PostgreSQL can be started the
tests are skipped with the reason, except under CI (`CI=true`), where that fails them.
"""

import asyncio
import concurrent.futures
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from adw_tui.domain.errors import StoreError
from adw_tui.store import Store
from adw_tui.store.location import PostgresDsn

DSN_VARIABLE = "ADW_TEST_POSTGRES_DSN"
PASSWORD = "adw-test-password-7c1e"
"""The cluster's superuser password: a real password, so a wrong one is refused."""
R = TypeVar("R")


@dataclass(frozen=True)
class Server:
    """A PostgreSQL server the tests may create databases on."""

    admin_dsn: str
    template: str

    def dsn(self, database: str) -> PostgresDsn:
        parts = urlsplit(self.admin_dsn)
        return PostgresDsn(urlunsplit(parts._replace(path=f"/{database}")))

    def create_database(self, *, empty: bool = False) -> PostgresDsn:
        """A new database holding the current schema (`empty`: nothing), for one test."""
        name = f"adw_test_{uuid.uuid4().hex[:12]}"
        template = "template0" if empty else self.template
        on_own_loop(self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        return self.dsn(name)

    def drop_database(self, dsn: PostgresDsn) -> None:
        name = urlsplit(dsn.url).path.strip("/")
        on_own_loop(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    async def _admin(self, sql: str) -> None:
        connection = await asyncpg.connect(self.admin_dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()


def on_own_loop(work: Coroutine[Any, Any, R]) -> R:
    """Run `work` on an event loop of its own, in a thread: a sync fixture may be set up
    while pytest-asyncio holds the test's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


def unavailable(reason: str) -> None:
    """Skip, with the reason; under CI a missing PostgreSQL is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(f"no PostgreSQL: {reason}")


def server_binaries() -> Path | None:
    """The directory of initdb and pg_ctl: on PATH, or Debian's newest version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return versions[0].parent if versions else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    """A cluster in a temporary directory, run by `postgres` when we are root."""

    def __init__(self, binaries: Path, *, durable: bool = False) -> None:
        """`durable`: fsync and synchronous commits as a server's defaults have them (the
        benchmarks); without it they are off, as nothing here must survive a crash."""
        self.binaries = binaries
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="adw-pg-"))
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.admin_dsn = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        password_file = self.root / "password"
        password_file.write_text(PASSWORD)
        if self._as:
            shutil.chown(password_file, "postgres")
        self._run(
            "initdb",
            "--pgdata", str(self.root / "data"),
            "--username", "postgres",
            "--pwfile", str(password_file),
            "--auth-host", "scram-sha-256",
            "--auth-local", "trust",
            "--no-sync",
        )  # fmt: skip
        self.resume()

    def resume(self) -> None:
        """Start the server (again)."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl", "start", "--wait", "--pgdata", str(self.root / "data"),
            "--log", str(self.root / "server.log"), "--options", options,
        )  # fmt: skip

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every session is ended, the server is back when this
        returns."""
        self._run(
            "pg_ctl", "restart", "--wait", "--mode", "fast", "--pgdata", str(self.root / "data"),
            "--log", str(self.root / "server.log"),
        )  # fmt: skip

    def halt(self) -> None:
        """`pg_ctl stop -m fast`: every session is ended, the server stays down."""
        self._run("pg_ctl", "stop", "--wait", "--mode", "fast", "--pgdata", str(self.root / "data"))

    def stop(self) -> None:
        """Stop the server (if it started) and remove the directory."""
        with contextlib.suppress(RuntimeError):
            self._run("pg_ctl", "stop", "--pgdata", str(self.root / "data"), "--mode", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        argv = [*self._as, str(self.binaries / tool), *args]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.root, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")


async def _make_template(server: Server) -> None:
    """The template every test's database is copied from: the schema, migrated."""
    await server._admin(f'DROP DATABASE IF EXISTS "{server.template}" WITH (FORCE)')
    await server._admin(f'CREATE DATABASE "{server.template}"')
    store = await Store.open(server.dsn(server.template))
    await store.close()


@pytest.fixture(scope="session")
def postgres_server(worker_id: str) -> Iterator[Server]:
    """The server for this xdist worker (one cluster per worker)."""
    template = f"adw_template_{worker_id}"
    external = os.environ.get(DSN_VARIABLE)
    if external:
        server = Server(external, template)
        try:
            on_own_loop(_make_template(server))
        except (OSError, asyncpg.PostgresError, StoreError) as error:
            unavailable(f"{DSN_VARIABLE} names a server adw cannot use: {error}")
        yield server
        return
    binaries = server_binaries()
    if binaries is None:
        unavailable(f"initdb is not installed (apt-get install postgresql), nor {DSN_VARIABLE} set")
        return
    cluster = Cluster(binaries)
    try:
        cluster.start()
    except (RuntimeError, OSError, KeyError) as error:
        cluster.stop()
        unavailable(f"cannot start a throwaway cluster: {error}")
        return
    try:
        server = Server(cluster.admin_dsn, template)
        on_own_loop(_make_template(server))
        yield server
    finally:
        cluster.stop()


class Databases:
    """A worker's test databases, each made from the template while the test before runs
    and dropped after its own test while the next one runs, in a thread of their own: a
    test waits for neither (under load, a copy of the template takes a few hundred ms)."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="adw-test-db")
        self._next = self._thread.submit(server.create_database)

    def take(self) -> PostgresDsn:
        """A fresh database of the current schema, for one test; the next one is begun."""
        dsn = self._next.result()
        self._next = self._thread.submit(self._server.create_database)
        return dsn

    def give_back(self, dsn: PostgresDsn) -> None:
        """Drop a database its test is done with, without waiting for it."""
        self._thread.submit(self._server.drop_database, dsn)

    def close(self) -> None:
        """Wait for the drops (the server may be stopped next); drop the spare."""
        with contextlib.suppress(Exception):
            self.give_back(self._next.result())
        self._thread.shutdown(wait=True)


@pytest.fixture(scope="session")
def postgres_databases(postgres_server: Server) -> Iterator[Databases]:
    databases = Databases(postgres_server)
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[tuple[Cluster, Server]]:
    """A durable cluster of the test module's own, to restart or stop without disturbing
    the other tests' server (a test that stops it starts it again), with a template
    database of the current schema."""
    binaries = server_binaries()
    if binaries is None:
        unavailable("initdb is not installed (apt-get install postgresql)")
        return
    cluster = Cluster(binaries, durable=True)
    try:
        cluster.start()
        server = Server(cluster.admin_dsn, "adw_template")
        on_own_loop(_make_template(server))
        yield cluster, server
    finally:
        cluster.stop()


@pytest.fixture
def postgres_dsn(postgres_databases: Databases) -> Iterator[PostgresDsn]:
    """A fresh database of the current schema, dropped after the test."""
    dsn = postgres_databases.take()
    yield dsn
    postgres_databases.give_back(dsn)


@pytest.fixture
def empty_postgres_dsn(postgres_server: Server) -> Iterator[PostgresDsn]:
    """A fresh database with no tables at all, dropped after the test."""
    dsn = postgres_server.create_database(empty=True)
    yield dsn
    postgres_server.drop_database(dsn)
