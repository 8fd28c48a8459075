"""The one path from "a trigger saw something" to a run: record the delivery if it is new
(else it is a duplicate), and for one that asks for a run, launch it and record what the
runtime answered. The webhook and the poller both go through here, so "a trigger acted on
this" has one home: the store's `deliveries` table, with its audit entries."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from adw_tui.domain.errors import (
    AdwError,
    DatabaseLockedError,
    ShuttingDownError,
    TrackerError,
)
from adw_tui.domain.sanitize import terminal_safe
from adw_tui.runtime.breakers import BreakerOpenError
from adw_tui.store import Store
from adw_tui.store.deliveries import Delivery, DeliveryOutcome
from adw_tui.triggers.counters import TriggerCounters

logger = logging.getLogger(__name__)

Launcher = Callable[[int, str], Awaitable[str]]
"""Start a run of a workflow (2nd) for an issue (1st); its adw_id. The orchestrator's
`launch` in adw; a stub in the webhook benchmark."""

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
        """Start the run a taken delivery asks for and settle it: started with its adw_id,
        or refused with the runtime's message (an active run of the workflow, a missing
        issue, GitHub down). Never raises for what the launch raised."""
        assert delivery.issue is not None
        assert delivery.workflow is not None
        try:
            adw_id = await self._launch(delivery.issue, delivery.workflow)
        except AdwError as error:
            if may_pass(error):
                return await self._release(delivery, str(error), actor=actor)
            settled = self._refused(delivery, str(error))
        except Exception as error:  # a bug must not stop the trigger: recorded, logged
            logger.exception("launch for delivery %s failed", delivery.delivery_id)
            settled = self._refused(delivery, f"internal error: {type(error).__name__}: {error}")
        else:
            self.counters.started += 1
            settled = replace(delivery, outcome=DeliveryOutcome.STARTED, adw_id=adw_id)
            logger.info(
                "%s: issue #%d: started %s run %s",
                delivery.delivery_id,
                delivery.issue,
                delivery.workflow,
                adw_id,
            )
        await self._store.deliveries.settle(settled, actor=actor, detail=detail)
        return settled

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
