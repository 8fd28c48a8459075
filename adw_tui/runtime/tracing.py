"""Spans of what runs do: one trace per run, a span per step visit, a child span per
agent call (engine, model, tokens, cost, error class and session as attributes, retries
as events), and spans for git, worktree and tracker calls.

Written through OpenTelemetry's API once a command has turned tracing on
(`adw_tui.observability.traces.configure_tracing` calls `enable`). Until then a span is
nothing at all and the API is not even imported: it would cost every start, the
dashboard's first frame included, some 50 ms.
"""

import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

Attributes = Mapping[str, str | int | float | bool]
P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")

_tracer: "Tracer | None" = None


def enable(tracer: "Tracer") -> None:
    """Record spans with `tracer` from now on."""
    global _tracer
    _tracer = tracer


def disable() -> None:
    global _tracer
    _tracer = None


@contextmanager
def span(name: str, attributes: Attributes | None = None) -> Iterator["Span | None"]:
    """A span around the body, a child of the current one; None while tracing is off.
    An exception out of the body is recorded on it and marks it failed."""
    if _tracer is None:
        yield None
        return
    with _tracer.start_as_current_span(name, attributes=dict(attributes or {})) as current:
        yield current


def run_span(
    name: str,
) -> Callable[
    [Callable[Concatenate[S, str, P], Awaitable[T]]], Callable[Concatenate[S, str, P], Awaitable[T]]
]:
    """A method whose first argument is a run's adw_id, made a span `name` of that run."""

    def decorate(
        method: Callable[Concatenate[S, str, P], Awaitable[T]],
    ) -> Callable[Concatenate[S, str, P], Awaitable[T]]:
        @functools.wraps(method)
        async def traced(self: S, adw_id: str, /, *args: P.args, **kwargs: P.kwargs) -> T:
            with span(name, {"adw.id": adw_id}):
                return await method(self, adw_id, *args, **kwargs)

        return traced

    return decorate


def annotate(current: "Span | None", attributes: Attributes) -> None:
    """Add attributes to a span (what was learnt during it); nothing while tracing is off."""
    if current is not None:
        current.set_attributes(dict(attributes))


def event(current: "Span | None", name: str, attributes: Attributes | None = None) -> None:
    """Note something that happened during a span (a retry); nothing while tracing is off."""
    if current is not None:
        current.add_event(name, dict(attributes or {}))


def fail(current: "Span | None", description: str) -> None:
    """Mark a span failed, for an outcome that raised nothing (a failed agent call)."""
    if current is not None:
        from opentelemetry.trace import Status, StatusCode

        current.set_status(Status(StatusCode.ERROR, description))


def agent_environment(adw_id: str, agent: str) -> dict[str, str]:
    """What an agent call's environment gets, so that the repository's own hooks (Claude
    Code's) can tell which run and agent called them: `ADW_ID`, `ADW_AGENT`, and while
    tracing, `TRACEPARENT` (W3C trace context) naming the current span."""
    environment = {"ADW_ID": adw_id, "ADW_AGENT": agent}
    if _tracer is not None:
        from opentelemetry.propagate import inject

        carrier: dict[str, str] = {}
        inject(carrier)
        environment.update({key.upper(): value for key, value in carrier.items()})
    return environment
