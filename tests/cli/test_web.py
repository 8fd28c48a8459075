"""`adw web`: the dashboard served over HTTP by textual-serve, on loopback by default."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

ADW = Path(sys.executable).parent / "adw"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_page(url: str, process: subprocess.Popen[str], within_s: float = 30) -> httpx.Response:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered at {url}")


@pytest.mark.slow
def test_web_serves_the_dashboard_on_loopback(sample_repo: Path):
    port = free_port()
    server = subprocess.Popen(
        [str(ADW), "web", "--port", str(port)],
        cwd=sample_repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        page = wait_for_page(f"http://127.0.0.1:{port}/", server)
        assert page.status_code == 200
        assert "textkit" in page.text  # the page's title names the repository
        assert "/ws" in page.text  # the terminal connects back over a websocket
        listening = [
            c.laddr
            for c in psutil.Process(server.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert listening
        assert all(address.ip == "127.0.0.1" for address in listening)
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}" in out
    assert server.returncode == 0, err


def test_web_on_a_port_in_use_says_so(sample_repo: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(ADW), "web", "--port", str(port)],
            cwd=sample_repo,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "choose another --port" in result.stderr
    assert "Traceback" not in result.stderr
