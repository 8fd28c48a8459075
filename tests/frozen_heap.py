"""The test process's own heap kept out of the garbage collector's full collections.

A worker holds every test module it collected and what they import (Textual, pydantic,
asyncpg, the whole of adw): container objects by the hundred thousand, which every full
(generation 2) collection walks, and the tests set off such collections all the time
(each Textual app they run leaves tens of thousands of objects behind). So that heap is
frozen once collected (`gc.freeze`: collections skip it; nothing is kept that would have
been freed, as it is all alive). A dashboard's `adw_tui.tui.heap.thaw` unfreezes it
with its own objects, until the next dashboard freezes both again. Nothing is checked
per test: `gc.get_freeze_count` walks the whole frozen list (10 ms for 90,000 objects).
`-p no:tests.frozen_heap` leaves the collector as Python sets it up.
"""

import gc

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()
