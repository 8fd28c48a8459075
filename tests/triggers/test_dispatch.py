"""The dispatcher's writes: a delivery that starts a run is written once on its own (its
record), its settle riding the run's creation; a refused one is settled by a second
write. The launcher creates the run in the store as the orchestrator's does (exclusive,
with what the delivery asks to write with it), without running it."""

from adw_tui.store import Store
from adw_tui.store.deliveries import Delivery, DeliveryOutcome
from adw_tui.triggers.counters import TriggerCounters
from adw_tui.triggers.dispatch import Dispatcher, Launch, Launcher


def creating_runs(store: Store) -> Launcher:
    async def launch(request: Launch) -> None:
        await store.create_run(
            {"adw_id": request.adw_id},
            workflow=request.workflow,
            issue=str(request.issue),
            actor="runtime",
            exclusive=True,
            with_run=request.with_run,
        )

    return launch


def delivery(delivery_id: str) -> Delivery:
    return Delivery(delivery_id, "webhook", "issues", "opened", issue=7, workflow="plan")


async def dispatch(dispatcher: Dispatcher, taken: Delivery) -> Delivery:
    detail = {"sender": "octocat"}
    assert await dispatcher.take(taken, actor="github:octocat", detail=detail)
    return await dispatcher.launch(taken, actor="github:octocat", detail=detail)


async def test_a_delivery_that_starts_a_run_costs_one_write_of_its_own(
    store: Store, groups: list[int]
) -> None:
    dispatcher = Dispatcher(store, creating_runs(store), TriggerCounters("webhook"))

    started = await dispatch(dispatcher, delivery("d-1"))

    assert sum(groups) == 2  # the record before the answer, then the run's creation
    assert started.outcome is DeliveryOutcome.STARTED
    assert started.adw_id is not None
    assert (await store.get_run(started.adw_id)).issue == "7"
    stored = await store.deliveries.get("d-1")
    assert stored is not None
    assert (stored.outcome, stored.adw_id) == (DeliveryOutcome.STARTED, started.adw_id)
    assert dispatcher.counters.started == 1


async def test_a_run_refused_in_its_write_leaves_its_delivery_refused(
    store: Store, groups: list[int]
) -> None:
    """Two deliveries asking for the same issue's plan: the second's run is refused by
    the check in the run's write transaction, and only then settled, by a write of its
    own, as refused; nothing of it says started."""
    dispatcher = Dispatcher(store, creating_runs(store), TriggerCounters("webhook"))
    first = await dispatch(dispatcher, delivery("d-1"))
    groups.clear()

    second = await dispatch(dispatcher, delivery("d-2"))

    assert sum(groups) == 3  # its record, the refused creation, its settle
    assert second.outcome is DeliveryOutcome.REFUSED
    assert second.adw_id is None
    assert second.reason is not None
    assert f"already has an active plan run {first.adw_id}" in second.reason
    stored = await store.deliveries.get("d-2")
    assert stored is not None
    assert (stored.outcome, stored.adw_id) == (DeliveryOutcome.REFUSED, None)
    audit = [
        (e.action, e.detail["delivery"])
        for e in await store.audit.entries()
        if e.action.startswith("trigger.")
    ]
    assert ("trigger.started", "d-2") not in audit
    assert ("trigger.refused", "d-2") in audit
    assert await store.count_runs() == 1
    assert dispatcher.counters.refused == 1
