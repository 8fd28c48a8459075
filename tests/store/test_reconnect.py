"""The PostgreSQL store across a server that goes away: a COMMIT whose answer was lost is
applied once (the server is asked what became of it), a claim whose answer was lost
reserves one run once (its token says what became of it), a save in flight across
`pg_ctl restart -m fast` is applied once, reads come back on new connections, a listing
cut off mid-stream goes on without repeating a row, and a server that stays away past
the reconnect window is one line."""

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from adw_tui.domain.errors import DatabaseUnreachableError
from adw_tui.domain.fleet import FleetWants, WorkerAbilities
from adw_tui.domain.models import RunState, RunStatus
from adw_tui.store import Store
from adw_tui.store.audit import audited_claim
from adw_tui.store.dialect import postgres_sql
from adw_tui.store.fleet import queued_for_fleet
from adw_tui.store.location import PostgresDsn
from adw_tui.store.store import runs_selection
from tests.postgres import Cluster, Server

pytestmark = pytest.mark.postgresql

ADW_ID = "0a1b2c3d"
COMMIT = b"COMMIT\x00"
"""A COMMIT as asyncpg sends it (a simple query)."""
SLOW_COMMIT = """
CREATE FUNCTION adw_test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER adw_test_slow_commit AFTER INSERT ON state_versions
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION adw_test_slow_commit();
"""
"""Every new state version makes its COMMIT take a second: a save is caught in COMMIT."""


class ConnectionCutter:
    """A loopback TCP proxy in front of the server that cuts one connection when it sees
    a marker in what the client sends: `before` the server gets that message (a
    statement lost on its way), or after, instead of passing the server's answer back
    (a COMMIT that committed, its client unable to know)."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._marker: bytes | None = None
        self._before = False
        self.cuts = 0

    def arm(self, marker: bytes, *, before: bool) -> None:
        self._marker, self._before = marker, before

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[int]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        async with server:
            yield server.sockets[0].getsockname()[1]

    async def _serve(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        upstream, to_server = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        cut = asyncio.Event()

        async def forward_queries() -> None:
            while data := await client.read(65536):
                if self._marker is not None and self._marker in data:
                    self._marker = None
                    cut.set()
                    if self._before:
                        self.cuts += 1
                        return
                to_server.write(data)
                await to_server.drain()

        async def forward_answers() -> None:
            while data := await upstream.read(65536):
                if cut.is_set():
                    self.cuts += 1
                    return
                to_client.write(data)
                await to_client.drain()

        pumps = [asyncio.ensure_future(forward_queries()), asyncio.ensure_future(forward_answers())]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for writer in (to_client, to_server):
                writer.close()


def through(dsn: PostgresDsn, port: int) -> PostgresDsn:
    parts = urlsplit(dsn.url)
    host = parts.netloc.rpartition(":")[0]
    return PostgresDsn(urlunsplit(parts._replace(netloc=f"{host}:{port}")))


async def versions(store: Store) -> list[int]:
    return sorted(info.version for info in await store.history(ADW_ID))


async def test_a_commit_whose_answer_was_lost_is_applied_once(
    own_cluster: tuple[Cluster, Server],
) -> None:
    """The server committed, the answer never came: the store asks the server what
    became of the transaction and does not write again, for a group-committed save and
    for an awaited transaction alike (an audit entry, which has no version to refuse a
    second copy)."""
    cluster, server = own_cluster
    dsn = server.create_database()
    cutter = ConnectionCutter(cluster.port)
    async with cutter.serving() as port, await Store.open(through(dsn, port)) as store:
        await store.create_run({"adw_id": ADW_ID}, workflow="w", actor="t")

        cutter.arm(COMMIT, before=False)
        version = await store.save(ADW_ID, {"adw_id": ADW_ID, "plan_file": "p"}, 1, "r", "t")
        assert (cutter.cuts, version, await versions(store)) == (1, 2, [1, 2])

        cutter.arm(COMMIT, before=False)
        await store.audit.record(actor="t", action="test.once", adw_id=ADW_ID)
        assert cutter.cuts == 2
        entries = await store.audit.entries(adw_id=ADW_ID)
        assert [entry.action for entry in entries].count("test.once") == 1
        assert (await store.load(ADW_ID)).state.plan_file == "p"


async def test_a_group_whose_commit_answer_was_lost_is_applied_once(
    own_cluster: tuple[Cluster, Server],
) -> None:
    """A group of saves reads its runs ahead and is told its transaction's id with them
    (COMMIT does not ask it): with that id the server says the lost COMMIT committed,
    and no save runs again (run again, each would find its run moved on)."""
    cluster, server = own_cluster
    dsn = server.create_database()
    cutter = ConnectionCutter(cluster.port)
    ids = [f"0a1b2c{n:02x}" for n in range(4)]
    async with cutter.serving() as port, await Store.open(through(dsn, port)) as store:
        for adw_id in ids:
            await store.create_run({"adw_id": adw_id}, workflow="w", actor="t")

        cutter.arm(COMMIT, before=False)
        saved = await asyncio.gather(
            *(store.save(adw_id, {"plan_file": adw_id}, 1, "r", "t") for adw_id in ids)
        )

        assert (cutter.cuts, saved) == (1, [2] * len(ids))
        for adw_id in ids:
            assert [info.version for info in await store.history(adw_id)] == [2, 1]
            assert (await store.load(adw_id)).state.plan_file == adw_id


async def test_a_transaction_cut_off_before_its_commit_is_run_again_once(
    own_cluster: tuple[Cluster, Server],
) -> None:
    """The connection lost on the way of a statement inside the transaction (a save's
    version row, an audit entry): nothing was committed, and the transaction runs again
    whole on a new connection, once."""
    cluster, server = own_cluster
    dsn = server.create_database()
    cutter = ConnectionCutter(cluster.port)
    async with cutter.serving() as port, await Store.open(through(dsn, port)) as store:
        await store.create_run({"adw_id": ADW_ID}, workflow="w", actor="t")

        # Markers in the statements' parameters: a prepared statement's text is sent once.
        cutter.arm(b"cut on the way", before=True)
        save = {"adw_id": ADW_ID, "plan_file": "p"}
        version = await store.save(ADW_ID, save, 1, "cut on the way", "t")
        assert (cutter.cuts, version, await versions(store)) == (1, 2, [1, 2])

        cutter.arm(b"test.once", before=True)
        await store.audit.record(actor="t", action="test.once", adw_id=ADW_ID)
        assert cutter.cuts == 2
        entries = await store.audit.entries(adw_id=ADW_ID)
        assert [entry.action for entry in entries].count("test.once") == 1


async def reservations(store: Store) -> list[str]:
    """The actions of the claims' audit entries (a reservation, or a claim lost)."""
    entries = await store.audit.entries()
    return sorted(entry.action for entry in entries if entry.action.startswith("run.reserve"))


@pytest.mark.parametrize(
    ("before", "entries"),
    [
        # The claim never reached the server: its token is marked lost, and the claim is
        # made again, once.
        (True, ["run.reserve", "run.reserve.lost"]),
        # The server committed the claim, the answer never came: its token says which run
        # it took, and nothing is claimed again.
        (False, ["run.reserve"]),
    ],
    ids=["statement lost", "answer lost"],
)
async def test_a_claim_whose_connection_was_lost_reserves_one_run_once(
    own_cluster: tuple[Cluster, Server], before: bool, entries: list[str]
) -> None:
    cluster, server = own_cluster
    dsn = server.create_database()
    cutter = ConnectionCutter(cluster.port)
    async with cutter.serving() as port, await Store.open(through(dsn, port)) as store:
        for adw_id in ("0000000a", "0000000b"):
            await store.create_run(
                RunState(adw_id=adw_id),
                workflow="plan",
                actor="t",
                with_run=queued_for_fleet(adw_id, FleetWants(engine="sim")),
            )

        cutter.arm(b"worker-cut:1", before=before)  # the owner, a claim's parameter
        taken = await store.fleet.take_next("worker-cut:1", WorkerAbilities())

        assert (cutter.cuts, taken) == (1, "0000000a")
        assert [run.adw_id for run in await store.fleet.reserved()] == ["0000000a"]
        assert await reservations(store) == entries
        assert await store.fleet.take_next("worker-cut:1", WorkerAbilities()) == "0000000b"


async def test_a_claim_run_after_its_token_was_marked_lost_takes_nothing(
    postgres_dsn: PostgresDsn,
) -> None:
    """A claim whose connection was lost may still reach the server later (it was on its
    way): its token, already marked lost by the store that gave it up, fails it whole."""
    async with await Store.open(postgres_dsn) as store:
        await store.create_run(
            RunState(adw_id=ADW_ID),
            workflow="plan",
            actor="t",
            with_run=queued_for_fleet(ADW_ID, FleetWants(engine="sim")),
        )
        lost = (
            "INSERT INTO audit_log (at, actor, action, detail, claim) VALUES ($1, $2, $3, '{}', $4)"
        )
        claim = postgres_sql(
            audited_claim("UPDATE runs SET owner = ? WHERE adw_id = ? RETURNING adw_id")
        )
        connection = await asyncpg.connect(postgres_dsn.url)
        try:
            await connection.execute(lost, "2026-01-01", "w:1", "run.reserve.lost", "token-1")
            with pytest.raises(asyncpg.UniqueViolationError):
                await connection.fetch(
                    claim, "w:1", ADW_ID, "2026-01-01", "w:1", "run.reserve", "{}", "token-1"
                )
        finally:
            await connection.close()
        assert (await store.get_run(ADW_ID)).owner is None
        assert await store.fleet.take_next("w:2", WorkerAbilities()) == ADW_ID


async def test_a_save_in_flight_across_a_restart_is_applied_once(
    own_cluster: tuple[Cluster, Server],
) -> None:
    """A save caught in its COMMIT by `pg_ctl restart -m fast`: the server ends the
    transaction uncommitted, the store waits for the server, asks, and saves again,
    once. Reads go on over new connections."""
    cluster, server = own_cluster
    dsn = server.create_database()
    admin = await asyncpg.connect(dsn.url)
    try:
        await admin.execute(SLOW_COMMIT)
    finally:
        await admin.close()
    async with await Store.open(dsn) as store:
        await store.create_run({"adw_id": ADW_ID}, workflow="w", actor="t")
        save = asyncio.ensure_future(
            store.save(ADW_ID, {"adw_id": ADW_ID, "plan_file": "p"}, 1, "r", "t")
        )
        monitor = await asyncpg.connect(server.admin_dsn)
        try:
            for _ in range(100):  # until the save is in its COMMIT
                committing = await monitor.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE query = 'COMMIT' "
                    "AND state = 'active'"
                )
                if committing:
                    break
                await asyncio.sleep(0.02)
            assert committing == 1
        finally:
            await monitor.close()
        await asyncio.to_thread(cluster.restart)

        assert await save == 2
        assert await versions(store) == [1, 2]
        assert (await store.load(ADW_ID)).state.plan_file == "p"
        assert store.unreachable_since is None
        assert await store.reachable_for_s() < 30


async def test_a_server_that_stays_away_past_the_window_is_one_line(
    own_cluster: tuple[Cluster, Server],
) -> None:
    cluster, server = own_cluster
    dsn = server.create_database()
    async with await Store.open(dsn, reconnect_s=0.5) as store:
        await store.create_run({"adw_id": ADW_ID}, workflow="w", actor="t")
        await asyncio.to_thread(cluster.halt)
        try:
            with pytest.raises(DatabaseUnreachableError) as raised:
                await store.save(ADW_ID, {"adw_id": ADW_ID}, 1, "r", "t")
            assert store.unreachable_since is not None
            message = str(raised.value)
            assert "\n" not in message
            assert f"PostgreSQL at {dsn}" in message
            assert "did not come back within 0.5s" in message
            assert "ADW_DB_RECONNECT" in message
            with pytest.raises(DatabaseUnreachableError):
                await store.get_run(ADW_ID)
        finally:
            await asyncio.to_thread(cluster.resume)
        assert await store.save(ADW_ID, {"adw_id": ADW_ID}, 1, "r", "t") == 2
        assert store.unreachable_since is None


async def test_a_read_after_the_store_closed_fails_at_once(postgres_dsn: PostgresDsn) -> None:
    """A pool this process closed is not a server gone away: nothing to wait for."""
    store = await Store.open(postgres_dsn, reconnect_s=30)
    await store.close()
    async with asyncio.timeout(5):
        with pytest.raises(asyncpg.InterfaceError, match="pool is closed"):
            await store.get_run(ADW_ID)
    assert store.unreachable_since is None


async def listed(
    store: Store,
    *,
    key: str | None,
    after_first: Callable[[], Awaitable[object]],
    limit: int | None = None,
) -> list[str]:
    """The runs' adw_ids, newest update first, at most `limit`, read two at a time
    (`batches`), with `after_first` awaited once the first two came."""
    query = runs_selection(None, None, None).rows(limit)
    given: list[str] = []
    async with aclosing(
        store._db.batches(query.sql, query.params, size=2, key=key, limit=query.limit)
    ) as rows:
        async for batch in rows:
            given += [row["adw_id"] for row in batch]
            if len(given) == 2:
                await after_first()
    return given


async def test_a_listing_cut_off_by_a_restart_goes_on_without_repeating_a_row(
    own_cluster: tuple[Cluster, Server],
) -> None:
    """Six runs, newest update first, two at a time: after the first two the server
    restarts; meanwhile one run already given is updated (it moves to the top) and a
    new one is created. The read goes on from a new snapshot: every run once, the new
    one included, none given twice."""
    cluster, server = own_cluster
    dsn = server.create_database()
    async with await Store.open(dsn) as store:
        for number in range(6):
            await store.create_run({"adw_id": f"run{number}"}, workflow="w", actor="t")

        async def restart_and_write() -> None:
            await asyncio.to_thread(cluster.restart)
            await store.set_status("run5", RunStatus.FAILED, actor="t")
            await store.create_run({"adw_id": "run6"}, workflow="w", actor="t")

        given = await listed(store, key="adw_id", after_first=restart_and_write)
        assert given[:2] == ["run5", "run4"]
        assert sorted(given) == [f"run{number}" for number in range(7)]


async def test_a_listing_cut_off_by_a_restart_gives_no_more_rows_than_its_limit(
    own_cluster: tuple[Cluster, Server],
) -> None:
    """Six runs, at most four, two at a time: after the first two the server restarts
    and three new runs are created, which top the new snapshot's four. The read goes on
    with the two it still may give: the newest two, none given twice."""
    cluster, server = own_cluster
    dsn = server.create_database()
    async with await Store.open(dsn) as store:
        for number in range(6):
            await store.create_run({"adw_id": f"run{number}"}, workflow="w", actor="t")

        async def restart_and_create() -> None:
            await asyncio.to_thread(cluster.restart)
            for number in range(6, 9):
                await store.create_run({"adw_id": f"run{number}"}, workflow="w", actor="t")

        given = await listed(store, key="adw_id", after_first=restart_and_create, limit=4)
        assert given == ["run5", "run4", "run8", "run7"]


async def test_a_listing_cut_off_without_a_key_or_past_the_window_is_one_line(
    own_cluster: tuple[Cluster, Server],
) -> None:
    cluster, server = own_cluster
    dsn = server.create_database()
    async with await Store.open(dsn, reconnect_s=0.5) as store:
        for number in range(4):
            await store.create_run({"adw_id": f"run{number}"}, workflow="w", actor="t")
        restart = functools.partial(asyncio.to_thread, cluster.restart)
        with pytest.raises(DatabaseUnreachableError) as keyless:
            await listed(store, key=None, after_first=restart)
        assert "\n" not in str(keyless.value)
        try:
            halt = functools.partial(asyncio.to_thread, cluster.halt)
            with pytest.raises(DatabaseUnreachableError) as away:
                await listed(store, key="adw_id", after_first=halt)
            message = str(away.value)
            assert "\n" not in message
            assert "ADW_DB_RECONNECT" in message
        finally:
            await asyncio.to_thread(cluster.resume)
