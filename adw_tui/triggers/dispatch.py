"""The one path from "a trigger saw something" to a run: record the delivery if it is new
(else it is a duplicate), and for one that asks for a run, launch it and record what the
runtime answered. The webhook and the poller both go through here, so "a trigger acted on
this" has one home: the store's `deliveries` table, with its audit entries.

A delivery that starts a run is written once on its own, when it is taken: the run's id
is chosen before the launch, and the transaction creating the run settles the delivery
as started with it. Only a launch that fails costs a second write (refused, or released
to be tried again)."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from adw_tui.domain.errors import (
    AdwError,
    DatabaseLockedError,
    ShuttingDownError,
    TrackerError,
)
from adw_tui.domain.ids import new_adw_id
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.runtime.breakers import BreakerOpenError
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.store.deliveries import Delivery, DeliveryOutcome, settling
from adw_tui.store.group_commit import Write
from adw_tui.triggers.counters import TriggerCounters

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Launch:
    """The run a delivery asks for: a new run `adw_id` of `workflow` for `issue`, whose
    creation writes `with_run` (the delivery settled as started) in its transaction."""

    issue: int
    workflow: str
    adw_id: str
    with_run: Write[None]


Launcher = Callable[[Launch], Awaitable[object]]
"""Start the run of a `Launch`, raising AdwError when it is refused: the orchestrator's
(`launcher_of`) in adw; a stub in the webhook benchmark."""


def launcher_of(orchestrator: Orchestrator) -> Launcher:
    """The orchestrator's `launch`, as the triggers ask for runs (queued for the fleet's
    workers when the settings say `fleet`)."""

    async def launch(request: Launch) -> str:
        return await orchestrator.launch(
            request.issue,
            workflow=request.workflow,
            adw_id=request.adw_id,
            with_run=request.with_run,
            fleet_labels=[] if orchestrator.settings.fleet else None,
        )

    return launch


MESSAGE_CHARS = 300


def may_pass(error: AdwError) -> bool:
    """A launch failure that trying again later may get past: the tracker down or its
    rate limit, its circuit breaker open, adw shutting down, the database busy."""
    return (isinstance(error, TrackerError) and error.transient) or isinstance(
        error, ShuttingDownError | DatabaseLockedError | BreakerOpenError
    )


class Dispatcher:
    def __init__(self, store: Store, launcher: Launcher, counters: TriggerCounters) -> None:
        self._store = store
        self._launch = launcher
        self.counters = counters

    async def take(self, delivery: Delivery, *, actor: str, detail: dict[str, Any]) -> bool:
        """Record `delivery` (pending, or ignored with its reason) unless it is known;
        False for a duplicate. Counted either way."""
        if not await self._store.deliveries.record_new(delivery, actor=actor, detail=detail):
            self.counters.duplicates += 1
            return False
        if delivery.outcome is DeliveryOutcome.IGNORED:
            self.counters.ignored += 1
        else:
            self.counters.accepted += 1
        return True

    async def launch(self, delivery: Delivery, *, actor: str, detail: dict[str, Any]) -> Delivery:
        """Start the run a taken delivery asks for, settling it as started with the run,
        or else settle it: refused with the runtime's message (an active run of the
        workflow, a missing issue), or released when that may pass (GitHub down). Never
        raises for what the launch raised."""
        assert delivery.issue is not None
        assert delivery.workflow is not None
        adw_id = new_adw_id()
        started = replace(delivery, outcome=DeliveryOutcome.STARTED, adw_id=adw_id)
        with_run = settling(started, actor=actor, detail=detail)
        try:
            await self._launch(Launch(delivery.issue, delivery.workflow, adw_id, with_run))
        except AdwError as error:
            if may_pass(error):
                return await self._release(delivery, str(error), actor=actor)
            refused = self._refused(delivery, str(error))
        except Exception as error:  # a bug must not stop the trigger: recorded, logged
            logger.exception("launch for delivery %s failed", delivery.delivery_id)
            refused = self._refused(delivery, f"internal error: {type(error).__name__}: {error}")
        else:
            self.counters.started += 1
            logger.info(
                "%s: issue #%d: started %s run %s",
                delivery.delivery_id,
                delivery.issue,
                delivery.workflow,
                adw_id,
            )
            return started
        await self._store.deliveries.settle(refused, actor=actor, detail=detail)
        return refused

    async def _release(self, delivery: Delivery, message: str, *, actor: str) -> Delivery:
        """Not started, for a reason that may pass: the delivery is forgotten, so GitHub's
        redelivery (or the next poll) tries again."""
        reason = terminal_safe(message[:MESSAGE_CHARS])
        self.counters.errors += 1
        logger.warning(
            "%s: issue #%s: not started, to be tried again: %s",
            delivery.delivery_id,
            delivery.issue,
            reason,
        )
        try:
            await self._store.deliveries.release(delivery, actor=actor, reason=reason)
        except AdwError as error:  # the database busy too: said, the row stays pending
            logger.error(
                "%s: could not forget the delivery (%s): a redelivery of it starts nothing; "
                "start its run by hand (`adw run %s --workflow %s`)",
                delivery.delivery_id,
                error,
                delivery.issue,
                delivery.workflow,
            )
        return replace(delivery, outcome=DeliveryOutcome.PENDING, reason=reason)

    def _refused(self, delivery: Delivery, message: str) -> Delivery:
        self.counters.refused += 1
        reason = terminal_safe(message[:MESSAGE_CHARS])
        logger.warning(
            "%s: issue #%d: %s not started: %s",
            delivery.delivery_id,
            delivery.issue,
            delivery.workflow,
            reason,
        )
        return replace(delivery, outcome=DeliveryOutcome.REFUSED, reason=reason)
