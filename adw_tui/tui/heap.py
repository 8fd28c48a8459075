"""Keep the garbage collector's full collections short while the dashboard runs.

A full (generation 2) collection walks every container object alive, and a Textual app
has about 100,000 of them once it is up (modules, classes, stylesheets, the DOM, the
runs table). While agents stream, a full collection came every few seconds and took
50-150 ms, each one a visible freeze (bench/tui_stream.py). `freeze` moves everything
alive into the permanent generation, which collections skip, so they walk only what
was made since; `thaw` hands it back, for an app that ends while its process goes on
(tests start many apps in one process).
"""

import gc

FREEZE_AFTER_S = 1.0
"""When, after start-up, to `freeze`: its collection holds the interpreter lock for up to
~100 ms, so not while the first frame is still being written to the terminal."""


def freeze() -> None:
    """Collect the garbage there is, then exempt every object alive from collections."""
    gc.collect()
    gc.freeze()


def thaw() -> None:
    """Make the frozen objects collectable again."""
    gc.unfreeze()
