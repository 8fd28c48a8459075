"""A real Prometheus scrapes a real `adw serve` on loopback, and its query API returns
what a simulated run recorded."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.observability.prometheus_binaries import prometheus_binary

ADW = [sys.executable, "-m", "adw_tui"]
DEADLINE_S = 60.0


def _environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ADW_")}
    return {**env, "ADW_ENGINE": "sim"}


def _adw(repo: Path, *argv: str) -> str:
    done = subprocess.run(
        [*ADW, *argv], cwd=repo, env=_environment(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def ran(tmp_path: Path) -> Path:
    """A repository whose database holds one finished simulated `plan` run."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for argv in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "first"]):
        subprocess.run(["git", "-C", str(repo), *argv], check=True, capture_output=True)
    _adw(repo, "issue", "new", "--title", "Add a slugify helper", "--body", "Slugs.")
    _adw(repo, "run", "1", "--workflow", "plan")
    return repo


@pytest.fixture
def served(ran: Path) -> Iterator[str]:
    """`adw serve` on a free loopback port: its address."""
    process = subprocess.Popen(
        [*ADW, "serve", "--port", "0"],
        cwd=ran,
        env={**_environment(), "COLUMNS": "300"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://(127\.0\.0\.1:\d+)/metrics", line)
        assert found, f"adw serve printed {line!r}"
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def prometheus(served: str, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus scraping `served` every second: its API root."""
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: adw\n"
        f"    static_configs:\n      - targets: ['{served}']\n"
    )
    port = _free_port()
    process = subprocess.Popen(
        [
            prometheus_binary("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("w"),
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _query(api: str, expression: str) -> list[str]:
    """The values of the instant vector `expression` evaluates to."""
    url = f"{api}/api/v1/query?{urllib.parse.urlencode({'query': expression})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    return [sample["value"][1] for sample in answer["data"]["result"]]


def test_prometheus_scrapes_the_runs_a_simulated_run_recorded(prometheus: str) -> None:
    expression = 'adw_runs_created_total{workflow="plan"}'
    deadline = time.monotonic() + DEADLINE_S
    result: list[str] = []
    while time.monotonic() < deadline:
        try:
            result = _query(prometheus, expression)
        except OSError:  # not listening yet
            result = []
        if result:
            break
        time.sleep(0.3)
    assert result, f"Prometheus found no {expression} within {DEADLINE_S} s"
    assert result == ["1"]
    # classify, name the branch, plan, commit: the sim's calls, none failed.
    calls = _query(prometheus, 'sum(adw_agent_calls_total{engine="sim",error_class="none"})')
    assert float(calls[0]) >= 4
    assert _query(prometheus, 'up{job="adw"}') == ["1"]
