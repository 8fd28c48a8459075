"""`adw webhook` and `adw poll` as real processes: start, answer, signal, clean exit; and
the refusals that keep them from starting unsafe or pointless."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from adw_tui.triggers.signature import sign
from tests.cli.test_web import free_port, wait_for_page
from tests.fake_github import TOKEN, FakeGitHub

ADW = Path(sys.executable).parent / "adw"
SECRET = "a-webhook-secret-of-the-tests"


def environment(github: FakeGitHub, **extra: str) -> dict[str, str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ADW_", "GITHUB_", "GH_"))
    }
    environ.update(
        ADW_TRACKER="github",
        ADW_GITHUB_REPO=github.repository,
        ADW_GITHUB_API_URL=github.api_url,
        ADW_ENGINE="sim",
        GITHUB_PAT=TOKEN,
    )
    return {**environ, **extra}


def adw(repo: Path, github: FakeGitHub, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ADW), *argv],
        cwd=repo,
        env=environment(github, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_webhook_refuses_to_start_without_a_secret(repo: Path, github: FakeGitHub) -> None:
    refused = adw(repo, github, "webhook", "--port", "0")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "set ADW_WEBHOOK_SECRET" in refused.stderr
    assert "--insecure-no-signature" in refused.stderr


def test_the_webhook_needs_the_github_tracker(repo: Path, github: FakeGitHub) -> None:
    local = adw(repo, github, "webhook", ADW_WEBHOOK_SECRET=SECRET, ADW_TRACKER="local")
    assert local.returncode == 1
    assert "set ADW_TRACKER=github" in local.stderr


def test_an_unknown_default_workflow_is_refused(repo: Path, github: FakeGitHub) -> None:
    unknown = adw(repo, github, "poll", ADW_WEBHOOK_DEFAULT_WORKFLOW="nope")
    assert unknown.returncode == 1
    assert "ADW_WEBHOOK_DEFAULT_WORKFLOW=nope names no workflow" in unknown.stderr


@pytest.mark.slow
def triggers_at_work(repo: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(repo / "agents" / "adw_state.db")) as database:
        rows = database.execute("SELECT adw_id FROM leases WHERE kind = 'trigger'").fetchall()
    return [row[0] for row in rows]


def test_the_webhook_serves_until_signalled(repo: Path, github: FakeGitHub) -> None:
    port = free_port()
    server = subprocess.Popen(
        [str(ADW), "webhook", "--port", str(port)],
        cwd=repo,
        env=environment(github, ADW_WEBHOOK_SECRET=SECRET),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_for_page(f"{base}/health", server).json() == {"ok": True}
        body = json.dumps({"zen": "Speak like a human."}).encode()
        answer = httpx.post(
            f"{base}/gh-webhook",
            content=body,
            headers={
                "X-GitHub-Event": "ping",
                "X-GitHub-Delivery": "ping-1",
                "X-Hub-Signature-256": sign(SECRET.encode(), body),
            },
        )
        assert answer.status_code == 200
        assert answer.json()["ignored"] == "ping starts no run"
        # Every dashboard on the database sees it at work (a lease of its process).
        at_work = [f"webhook http://127.0.0.1:{port}/gh-webhook"]
        deadline = time.monotonic() + 10
        while triggers_at_work(repo) != at_work and time.monotonic() < deadline:
            time.sleep(0.05)
        assert triggers_at_work(repo) == at_work
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert triggers_at_work(repo) == []  # withdrawn as it stopped
    assert f"http://127.0.0.1:{port}/gh-webhook" in stderr
    assert "Traceback" not in stderr
    assert SECRET not in stderr


def test_poll_stops_with_one_line_on_a_bad_token(repo: Path, github: FakeGitHub) -> None:
    stopped = adw(repo, github, "poll", "--interval", "0.1", GITHUB_PAT="ghp_" + "x" * 36)
    assert stopped.returncode == 1
    last = stopped.stderr.splitlines()[-1]
    assert "adw poll stopped: GitHub refused the token" in last
    assert "GITHUB_PAT" in last
    assert "Traceback" not in stopped.stderr
