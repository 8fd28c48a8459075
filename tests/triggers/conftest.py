"""The triggers' fixtures: the sample repository, its database, a loopback GitHub with
issues, an orchestrator on it with the simulated agent, and GitHub's own example
deliveries (`@octokit/webhooks-examples`) pointed at the loopback GitHub's issues."""

import copy
import json
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from tests.fake_github import FakeGitHub
from tests.fake_github import github_orchestrator as orchestrator_on
from tests.github_packages import webhook_examples
from tests.runtime.test_orchestrator import fast_settings


@pytest.fixture
def repo(sample_repo: Path) -> Path:
    return sample_repo


@pytest.fixture
def db_path(repo: Path) -> Path:
    """The database where the repository keeps it (the `store` fixture's, on SQLite)."""
    return repo / "agents" / "adw_state.db"


def github_orchestrator(
    github: FakeGitHub, store: Store, repo: Path, **overrides: object
) -> Orchestrator:
    """An orchestrator whose tracker is the loopback GitHub, with the simulated agent."""
    return orchestrator_on(github, store, repo, fast_settings(repo, **overrides))


@pytest.fixture
async def orchestrator(
    github: FakeGitHub, store: Store, repo: Path, origin: Path
) -> AsyncIterator[Orchestrator]:
    """Runs end with their branch pushed to `origin` and a pull request."""
    async with github_orchestrator(github, store, repo) as opened:
        yield opened


@cache
def _examples() -> dict[str, list[dict[str, Any]]]:
    entries = json.loads(webhook_examples().read_text(encoding="utf-8"))
    return {entry["name"]: entry["examples"] for entry in entries}


def example(event: str, action: str) -> dict[str, Any]:
    """A fresh copy of GitHub's first example delivery of `event` with `action`."""
    return copy.deepcopy(next(e for e in _examples()[event] if e.get("action") == action))


def opened_payload(github: FakeGitHub, number: int, body: str) -> dict[str, Any]:
    """GitHub's `issues` `opened` example, for the loopback GitHub's issue `number`."""
    payload = example("issues", "opened")
    payload["repository"]["full_name"] = github.repository
    payload["issue"].update(number=number, body=body)
    return payload


def comment_payload(
    github: FakeGitHub, number: int, body: str, *, user_type: str = "User"
) -> dict[str, Any]:
    """GitHub's `issue_comment` `created` example, for issue `number` of the loopback
    GitHub, saying `body`, by a user of `user_type`."""
    payload = example("issue_comment", "created")
    payload["repository"]["full_name"] = github.repository
    payload["issue"].update(number=number, state="open")
    payload["issue"].pop("pull_request", None)
    payload["comment"]["body"] = body
    payload["comment"]["user"]["type"] = user_type
    return payload
