"""GitHub's own published material the GitHub tests use, as `.ci/run` installs it from the
npm registry into `.ci/node/`: the REST API description (`@octokit/openapi`), the mock
server that serves it (`@stoplight/prism-cli`) and real webhook deliveries
(`@octokit/webhooks-examples`).

`ADW_TEST_NODE_MODULES` names another `node_modules` folder (a worktree can point at the
main checkout's). A test that needs a package it cannot find is skipped, and fails when
`CI` is set: CI must never pass by skipping it.
"""

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]


def node_modules() -> Path:
    configured = os.environ.get("ADW_TEST_NODE_MODULES")
    return Path(configured) if configured else CHECKOUT / ".ci" / "node" / "node_modules"


def require(relative: str, package: str) -> Path:
    """`node_modules/<relative>`, or skip (fail under CI) naming `package` and the fix."""
    path = node_modules() / relative
    if not path.exists():
        _missing(
            f"{path} is missing: install {package} (`bash .ci/run` does, into .ci/node/), "
            "or set ADW_TEST_NODE_MODULES to a node_modules folder that has it"
        )
    return path


def node() -> Path:
    """The `node` command that runs prism, or skip (fail under CI)."""
    found = shutil.which("node")
    if found is None:
        _missing("node is not on PATH: install Node.js (prism runs on it)")
    return Path(found)


def _missing(problem: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {problem}")
    pytest.skip(problem)


def webhook_examples() -> Path:
    """The JSON file of GitHub's example deliveries, one entry per event name."""
    return require(
        "@octokit/webhooks-examples/api.github.com/index.json", "@octokit/webhooks-examples"
    )


def openapi_description() -> Path:
    """GitHub's REST API description for api.github.com (OpenAPI 3.0, JSON)."""
    return require("@octokit/openapi/generated/api.github.com.json", "@octokit/openapi")


def prism() -> Path:
    """The `prism` command line (run it with node)."""
    return require("@stoplight/prism-cli/dist/index.js", "@stoplight/prism-cli")
