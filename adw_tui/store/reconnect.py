"""Riding out a PostgreSQL server that went away (a restart, a failover, a dropped
connection): which errors say the connection is gone, how long and how often to try
again, and since when this process has been without the server.

A connection is tried again with exponential backoff and full jitter (so the workers of
a fleet do not all knock at the same instant), each attempt logged, for at most
`ADW_DB_RECONNECT` seconds (`Settings.db_reconnect`, default 60) per operation; past
that the operation fails with one line naming the server. Whether the operation itself
may simply be done again is its caller's business (see `postgres` and `pg_session`):
this module only says when the server answers again.
"""

import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_random_exponential,
)

from adw_tui.domain.clock import utc_now
from adw_tui.domain.redaction import Redactor

R = TypeVar("R")
logger = logging.getLogger(__name__)


def _warn(event: str, **fields: Any) -> None:
    """A warning with `fields` as its record's extras, which the configured logs render
    (`adw_tui.observability.logs`). The standard library's logging, not structlog's own
    logger: unconfigured (a command that prints JSON), that one writes on stdout."""
    logger.warning(event, extra=fields)


FIRST_WAIT_S = 0.05
"""The first wait at most: a read on a connection the server dropped is tried again on
a fresh one at once."""
LONGEST_WAIT_S = 2.0
"""The longest wait between two attempts."""

_GONE = (
    OSError,  # refused, reset, timed out (TimeoutError is one)
    asyncpg.PostgresConnectionError,  # class 08, and asyncpg's "closed in the middle"
    asyncpg.CannotConnectNowError,  # the database system is starting up / shutting down
    asyncpg.AdminShutdownError,  # terminated by an administrator (pg_ctl stop -m fast)
    asyncpg.CrashShutdownError,  # terminated because another server process crashed
    # A connection the server cut while asyncpg was between two states of its protocol
    # ("cannot switch to state N; another operation is in progress"): unusable; it is
    # closed and a new one made, as for the others.
    asyncpg.InternalClientError,
)


def connection_lost(error: BaseException) -> bool:
    """True when `error` says the server or the connection to it is gone (as opposed to
    a statement the server refused)."""
    if isinstance(error, _GONE):
        return True
    # Not "pool is closed": that pool was closed by this process, nothing to wait for.
    return isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error)


class Outage:
    """One process's view of its server: since when it has been unreachable (None while
    it answers), since when it has been back, and the retrying both readers and the
    writer use."""

    def __init__(self, server: str, window_s: float, redactor: Redactor) -> None:
        self.server = server
        """The server as shown to a person (the DSN, masked)."""
        self.window_s = window_s
        self._redactor = redactor
        self.since: datetime | None = None
        self._back_at: float | None = None

    def lost(self, state: RetryCallState) -> None:
        """Before waiting to try again: the outage noted, the attempt logged."""
        if self.since is None:
            self.since = utc_now()
        error = state.outcome.exception() if state.outcome else None
        _warn(
            "database unreachable, reconnecting",
            server=self.server,
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 3),
            error=self._redactor.text(str(error)) or type(error).__name__,
            reconnect_for_s=self.window_s,
        )

    def back(self) -> None:
        """The server answered."""
        if self.since is not None:
            _warn(
                "database reachable again",
                server=self.server,
                down_s=round((utc_now() - self.since).total_seconds(), 3),
            )
            self.since = None
            self._back_at = time.monotonic()

    def reachable_for_s(self) -> float:
        """Seconds since this process last got the server back: 0 while it is away,
        infinite when it never lost it."""
        if self.since is not None:
            return 0.0
        return math.inf if self._back_at is None else time.monotonic() - self._back_at

    def async_retrying(self, on_lost: Callable[[], Awaitable[None]]) -> AsyncRetrying:
        """Attempts of an awaited operation; `on_lost` runs after each lost connection
        (the readers drop their connections: the others are dead too)."""

        async def lost(state: RetryCallState) -> None:
            await on_lost()
            self.lost(state)

        return AsyncRetrying(**{**self._policy(), "before_sleep": lost})

    async def retried(
        self,
        work: Callable[[], Awaitable[R]],
        on_lost: Callable[[], Awaitable[None]],
        *,
        again: Callable[[], Awaitable[R]] | None = None,
    ) -> R:
        """`work`'s value; its connection lost, `on_lost`, then `again` (or `work`) tried
        on new connections as `async_retrying` tries them (the first at once: a dropped
        connection replaced at once is no outage). The first try runs bare: setting up
        tenacity's retrying costs more CPU than a claim's own round trip."""
        try:
            value = await work()
        except Exception as error:
            if not connection_lost(error):
                raise
            await on_lost()
            async for attempt in self.async_retrying(on_lost):
                with attempt:
                    value = await (again or work)()
        self.back()
        return value

    def _policy(self) -> dict[str, Any]:
        return {
            "retry": retry_if_exception(connection_lost),
            "stop": stop_after_delay(self.window_s),
            "wait": wait_random_exponential(multiplier=FIRST_WAIT_S, max=LONGEST_WAIT_S),
            "before_sleep": self.lost,
            "reraise": True,
        }
