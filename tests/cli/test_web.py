"""`adw web`: the dashboard served over HTTP by textual-serve, on loopback by default."""

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
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


TOKEN = "test-token-0123456789"


def start_web(repo: Path, port: int, **env: str) -> subprocess.Popen[str]:
    """`adw web` on `port` in `repo`, its output piped."""
    return subprocess.Popen(
        [str(ADW), "web", "--port", str(port)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


@pytest.fixture
def web_server(sample_repo: Path) -> Iterator[str]:
    """`adw web` on a free loopback port with a known token; yields its base URL."""
    port = free_port()
    server = start_web(sample_repo, port, ADW_WEB_TOKEN=TOKEN)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_page(f"{base}/static/", server)
        yield base
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)


@pytest.mark.slow
def test_web_serves_the_dashboard_on_loopback(sample_repo: Path):
    port = free_port()
    server = start_web(sample_repo, port)
    try:
        assert server.stdout is not None
        printed = server.stdout.readline()
        found = re.search(rf"http://127\.0\.0\.1:{port}/\?token=([\w-]{{40,}})", printed)
        assert found, printed
        token = found.group(1)
        assert wait_for_page(f"http://127.0.0.1:{port}/", server).status_code == 403
        page = httpx.get(f"http://127.0.0.1:{port}/?token={token}", timeout=10)
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
    assert server.returncode == 0, err
    assert token not in out.replace(printed, "")  # printed once, at start


def test_web_refuses_a_request_without_the_token(web_server: str):
    refused = httpx.get(f"{web_server}/", timeout=10)
    assert refused.status_code == 403
    assert "token" in refused.text
    assert httpx.get(f"{web_server}/?token=wrong", timeout=10).status_code == 403


def test_web_token_in_the_url_sets_a_strict_cookie_that_then_suffices(web_server: str):
    with httpx.Client(timeout=10) as browser:
        first = browser.get(f"{web_server}/?token={TOKEN}")
        assert first.status_code == 200
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert browser.get(f"{web_server}/").status_code == 200  # the cookie alone


def test_web_refuses_a_foreign_host_header(web_server: str):
    """A DNS-rebinding page reaches the port under its own name: refused, token or not."""
    refused = httpx.get(
        f"{web_server}/?token={TOKEN}", headers={"Host": "evil.example"}, timeout=10
    )
    assert refused.status_code == 403
    assert "Host" in refused.text


def test_web_refuses_a_cross_origin_websocket(web_server: str):
    host = web_server.removeprefix("http://")

    async def connect(origin: str | None) -> int:
        headers = {"Cookie": f"adw_web_token={TOKEN}"}
        if origin is not None:
            headers["Origin"] = origin
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(f"{web_server}/ws", headers=headers) as socket_:
                    await socket_.close()
                    return 101
            except aiohttp.WSServerHandshakeError as error:
                return error.status

    assert asyncio.run(connect("http://evil.example")) == 403
    assert asyncio.run(connect(None)) == 403
    assert asyncio.run(connect(f"http://{host}")) == 101


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
