"""Fixtures of the console-script tests."""

import logging
from collections.abc import Iterator

import pytest

from adw_tui.runtime import tracing


@pytest.fixture(autouse=True)
def process_observability() -> Iterator[None]:
    """A command run in this process (`main([...])`) configures its logs and traces for
    the whole process; the next test starts without them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    tracing.disable()
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
