"""Runs queued for the fleet, taken by workers: the oldest a worker can do, each by one."""

import asyncio
from collections import Counter

from adw_tui.domain.fleet import FleetWants, WorkerAbilities
from adw_tui.domain.models import RunState
from adw_tui.store import Store
from adw_tui.store.fleet import queued_for_fleet


async def enqueue(store: Store, adw_id: str, engine: str = "sim", *labels: str) -> None:
    await store.create_run(
        RunState(adw_id=adw_id),
        workflow="plan",
        actor="test",
        with_run=queued_for_fleet(adw_id, FleetWants(engine=engine, labels=labels)),
    )


async def test_a_worker_takes_the_oldest_run_it_can_do_once_with_an_audit_entry(
    store: Store,
) -> None:
    for adw_id in ("0000000a", "0000000b", "0000000c"):
        await enqueue(store, adw_id)
    await store.create_run(RunState(adw_id="0000000d"), workflow="plan", actor="test")

    taken = [await store.fleet.take_next("w:1", WorkerAbilities()) for _ in range(4)]

    assert taken == ["0000000a", "0000000b", "0000000c", None]  # not d: not for the fleet
    assert [run.adw_id for run in await store.fleet.reserved()] == taken[:3]
    assert (await store.get_run("0000000a")).owner == "w:1"
    [entry] = [e for e in await store.audit.entries(adw_id="0000000b") if e.action == "run.reserve"]
    assert (entry.actor, entry.detail) == ("w:1", {})


async def test_a_worker_takes_only_runs_on_its_engines_that_ask_for_no_label_it_lacks(
    store: Store,
) -> None:
    await enqueue(store, "00000001", "codex")
    await enqueue(store, "00000002", "sim", "gpu")
    await enqueue(store, "00000003", "sim", "gpu", "arm")
    await enqueue(store, "00000004", "claude")
    sim_only = WorkerAbilities(engines=frozenset({"sim"}))
    nothing = WorkerAbilities(engines=frozenset())
    gpu = WorkerAbilities(engines=frozenset({"sim", "codex"}), labels=frozenset({"gpu"}))
    everything = WorkerAbilities(labels=frozenset({"gpu", "arm", "x"}))

    assert await store.fleet.take_next("a:1", sim_only) is None  # both sim runs want labels
    assert await store.fleet.take_next("a:1", nothing) is None
    assert await store.fleet.take_next("b:1", gpu) == "00000001"
    assert await store.fleet.take_next("b:1", gpu) == "00000002"
    assert await store.fleet.take_next("b:1", gpu) is None  # 3 also wants arm
    assert await store.fleet.take_next("c:1", everything) == "00000003"
    assert await store.fleet.take_next("c:1", everything) == "00000004"
    assert await store.fleet.queued() == 0


async def test_workers_taking_at_once_take_every_run_exactly_once(store: Store) -> None:
    ids = [f"{n:08x}" for n in range(40)]
    for adw_id in ids:
        await enqueue(store, adw_id)
    store_b = await Store.open(store.path, create=False)  # a second process's connections
    try:

        async def worker(on: Store, name: str) -> list[str]:
            taken = []
            while (adw_id := await on.fleet.take_next(name, WorkerAbilities())) is not None:
                taken.append(adw_id)
            return taken

        lists = await asyncio.gather(
            *(worker(store if n % 2 else store_b, f"w{n}:1") for n in range(6))
        )
    finally:
        await store_b.close()

    assert sorted(adw_id for taken in lists for adw_id in taken) == ids
    owners = Counter(run.owner for run in await store.fleet.reserved())
    assert owners == Counter({f"w{n}:1": len(taken) for n, taken in enumerate(lists) if taken})
