"""Retrying an agent call under a step's `RetryPolicy`, with tenacity.

The wait after failed attempt n is `min(initial_interval * backoff_coefficient ** (n - 1),
max_interval)` plus a uniformly random `[0, jitter]` seconds. A failed result is retried
only when both rules allow it: its class is transient (`ErrorClass.transient`: the same
call may succeed later) and it is not in the policy's `non_retryable` list (a policy can
stop retrying a transient class, never start retrying a permanent one). Exceptions raised
by the call are not retried: they propagate at once.

`sleep` is the clock: tests pass a fake that records the waits and returns at once.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from adw_tui.domain.agent import AgentResult, ErrorClass
from adw_tui.domain.workflow import RetryPolicy

if TYPE_CHECKING:
    from tenacity import RetryCallState

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
# Called before each wait: the attempt that failed (1-based), its result, the wait in seconds.
OnRetry = Callable[[int, AgentResult, float], None]


def should_retry(result: AgentResult, policy: RetryPolicy) -> bool:
    """True when `result` failed in a way the policy retries."""
    if result.success:
        return False
    error_class = ErrorClass(result.error_class)
    return error_class.value not in policy.non_retryable and error_class.transient


async def call_with_retry(
    call: Callable[[int], Awaitable[AgentResult]],
    policy: RetryPolicy,
    *,
    sleep: Sleep = asyncio.sleep,
    on_retry: OnRetry | None = None,
) -> tuple[AgentResult, int]:
    """Call `call(attempt)` (attempt counts from 1) until it succeeds, fails in a way that
    is not retried, or `policy.max_attempts` calls were made. Returns the last result and
    the number of calls."""
    # Imported here, not with the module: the commands and the dashboard import the
    # runtime without running a step.
    from tenacity import (
        AsyncRetrying,
        retry_if_result,
        stop_after_attempt,
        wait_exponential,
        wait_random,
    )

    def before_sleep(state: "RetryCallState") -> None:
        if state.outcome is None or state.next_action is None:
            return
        result: AgentResult = state.outcome.result()
        wait = state.next_action.sleep
        logger.info(
            "attempt %d failed (%s: %s); retrying in %.2fs",
            state.attempt_number,
            result.error_class,
            result.error_message,
            wait,
        )
        if on_retry is not None:
            on_retry(state.attempt_number, result, wait)

    def last_result(state: "RetryCallState") -> AgentResult:
        assert state.outcome is not None
        result: AgentResult = state.outcome.result()
        return result

    retrying = AsyncRetrying(
        sleep=sleep,
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait_exponential(
            multiplier=policy.initial_interval,
            exp_base=policy.backoff_coefficient,
            max=policy.max_interval,
        )
        + wait_random(0, policy.jitter),
        retry=retry_if_result(lambda result: should_retry(result, policy)),
        before_sleep=before_sleep,
        retry_error_callback=last_result,
    )
    attempts = 0

    async def attempt() -> AgentResult:
        nonlocal attempts
        attempts += 1
        return await call(attempts)

    result: AgentResult = await retrying(attempt)
    return result, attempts
