"""The test process's own heap kept out of the garbage collector's full collections.

A worker holds every test module it collected and what they import (Textual, pydantic,
asyncpg, the whole of adw): about a million container objects, which every full
(generation 2) collection walks, some 0.15 s each on a 2-core machine. The tests set off
such collections all the time (each Textual app they run leaves some hundred thousand
objects behind), and the dashboard's own `heap.freeze` starts with one: a third of a
dashboard test's CPU went to walking objects that live as long as the worker. So that
heap is frozen once collected (`gc.freeze`: collections skip it; nothing is freed that
would have been, as it is all alive), and frozen again after a test whose dashboard gave
it back (`adw_tui.tui.heap.thaw` unfreezes everything, not only what the dashboard
froze). `-p no:tests.frozen_heap` leaves the collector as Python sets it up.
"""

import gc
from collections.abc import Iterator

import pytest


def freeze_what_is_alive() -> None:
    """Collect the garbage there is, then exempt every object alive from collections."""
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session: pytest.Session) -> None:
    freeze_what_is_alive()


@pytest.fixture(autouse=True)
def frozen_heap() -> Iterator[None]:
    """After the test: the heap frozen again if the test thawed it (its garbage, made
    since the last freeze, collected first)."""
    yield
    if gc.get_freeze_count() == 0:
        freeze_what_is_alive()
