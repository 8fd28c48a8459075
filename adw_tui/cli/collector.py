"""The garbage collector through a start: off until the work begins.

Start-up makes some hundred thousand objects (modules, classes, pydantic's schemas,
Textual's stylesheets and first screen), none of them garbage, and the collections they
set off walk them all: about 50 ms of `adw`'s imports alone on a quiet 2-core machine
(`python -X importtime`). So `adw` starts with the collector paused and resumes it when a
command's work begins; the dashboard when its first frame is drawn.
"""

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def paused_collector() -> Iterator[Callable[[], None]]:
    """The collector off inside; the function given resumes it early. On leaving, it is
    as it was found (a caller that had it off keeps it off, resumed or not)."""
    collecting = gc.isenabled()
    gc.disable()

    def resume() -> None:
        if collecting:
            gc.enable()

    try:
        yield resume
    finally:
        resume()
