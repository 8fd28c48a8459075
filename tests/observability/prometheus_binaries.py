"""Debian's `prometheus` and `promtool` (`.ci/run` installs the package): the tests that
need them are skipped without them, and fail when CI is set."""

import os
import shutil

import pytest


def prometheus_binary(name: str) -> str:
    """The path of `name` (`prometheus` or `promtool`) on PATH."""
    found = shutil.which(name)
    if found is None:
        problem = f"{name} is not installed: `apt-get install prometheus` (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {problem}")
        pytest.skip(problem)
    return found
