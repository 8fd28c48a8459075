"""Deliveries settled as started by the transaction that creates their run: both commit,
or neither does."""

from dataclasses import replace

import pytest

from adw_tui.domain.errors import ActiveRunError, RunExistsError
from adw_tui.store import Store
from adw_tui.store.deliveries import Delivery, DeliveryOutcome, settling
from tests.conftest import MakeRun

TAKEN = Delivery(
    delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
    source="webhook",
    event="issues",
    action="opened",
    issue=7,
    workflow="plan",
)


async def test_a_delivery_settled_with_its_run_commits_in_the_runs_write(
    store: Store, groups: list[int]
) -> None:
    assert await store.deliveries.record_new(TAKEN, actor="github:octocat")
    started = replace(TAKEN, outcome=DeliveryOutcome.STARTED, adw_id="0a1b2c3d")
    groups.clear()

    await store.create_run(
        {"adw_id": "0a1b2c3d"},
        workflow="plan",
        issue="7",
        actor="runtime",
        exclusive=True,
        with_run=settling(started, actor="github:octocat", detail={"sender": "octocat"}),
    )

    assert groups == [1]  # the run and the delivery's settle: one write
    stored = await store.deliveries.get(TAKEN.delivery_id)
    assert stored is not None
    assert (stored.outcome, stored.adw_id) == (DeliveryOutcome.STARTED, "0a1b2c3d")
    settled, created = await store.audit.entries(adw_id="0a1b2c3d")
    assert (created.action, created.actor) == ("run.create", "runtime")
    assert (settled.action, settled.actor) == ("trigger.started", "github:octocat")
    assert settled.detail["delivery"] == TAKEN.delivery_id
    assert settled.detail["sender"] == "octocat"


async def test_a_run_that_is_not_created_settles_nothing(store: Store, make_run: MakeRun) -> None:
    """Refused in the write (its id taken; an active run of the workflow for the issue):
    the delivery stays pending, for the trigger to settle as refused."""
    assert await store.deliveries.record_new(TAKEN, actor="github:octocat")

    async def create_started(adw_id: str) -> None:
        started = replace(TAKEN, outcome=DeliveryOutcome.STARTED, adw_id=adw_id)
        await store.create_run(
            {"adw_id": adw_id},
            workflow="plan",
            issue="7",
            actor="runtime",
            exclusive=True,
            with_run=settling(started, actor="github:octocat"),
        )

    taken_id = (await make_run()).adw_id
    with pytest.raises(RunExistsError):
        await create_started(taken_id)
    await store.create_run({"adw_id": "00000001"}, workflow="plan", issue="7", actor="t")
    with pytest.raises(ActiveRunError):
        await create_started("00000002")

    stored = await store.deliveries.get(TAKEN.delivery_id)
    assert stored is not None
    assert (stored.outcome, stored.adw_id) == (DeliveryOutcome.PENDING, None)
    actions = [entry.action for entry in await store.audit.entries()]
    assert "trigger.started" not in actions
    assert await store.count_runs() == 2
