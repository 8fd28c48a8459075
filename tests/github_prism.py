"""prism (`@stoplight/prism-cli`) serving GitHub's REST API description on loopback, and
an httpx transport that fails the test on any call the description does not allow.

prism checks each request against its operation (path, method, parameters, body) and
answers 422 with the reasons in an `sl-violations` header when the request breaks it;
otherwise it answers with the operation's example (no `--dynamic`). It keeps no state
and ignores the token and paging. `--errors` stays off: it also fails answers that break
the description, and the description's own pull request example does.
"""

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

from tests import github_packages

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
"""Loading the cut description takes a few seconds; more on a busy machine."""
LOG_TAIL_CHARS = 4000
GITHUB_JSON = "application/vnd.github+json"


class ContractViolation(AssertionError):
    """adw sent a call that GitHub's description does not allow."""


@contextmanager
def serve(description: Path, log: Path) -> Iterator[str]:
    """prism mocking `description` on a free loopback port, logging to `log`; its URL.

    It runs in a process group of its own, killed whole on the way out."""
    port = _free_port()
    argv = [str(github_packages.node()), str(github_packages.prism())]
    argv += ["mock", str(description), "-h", HOST, "-p", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://{HOST}:{port}"
        _wait_until_ready(process, url, log)
        yield url
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class CheckedTransport(httpx.AsyncBaseTransport):
    """The HTTP transport of a GitHubApi that talks to prism.

    Raises ContractViolation, with prism's reasons, when prism refuses a call: a request
    the description forbids (422 with `sl-violations`) or a path or method it lacks (one
    of prism's own `application/problem+json` answers). What prism finds wrong with its
    own answers (the description's examples breaking its schemas) is not adw's doing and
    passes.

    Two answers of prism's are not GitHub's: asked for `application/vnd.github+json`
    (GitHub answers it with JSON) prism refuses, serving only the `application/json` the
    description names, so that is what is asked for; and its `Link` header is the
    description's example, a next page on api.github.com that never ends, so it is
    dropped (paging is tested against tests/fake_github.py).

    Calls are named `METHOD /path`: `prefer` gives a call the `Prefer` header prism reads
    (`code=404` answers with the operation's 404 example), and `edit` changes the JSON of
    a call's answer, for the tracker to take a path the description's example does not
    lead it down."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.prefer: dict[str, str] = {}
        self.edit: dict[str, Callable[[Any], Any]] = {}
        self.sent: list[str] = []
        """Each call, in order."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        call = f"{request.method} {request.url.path}"
        self.sent.append(call)
        if request.headers.get("accept") == GITHUB_JSON:
            request.headers["accept"] = "application/json"
        if call in self.prefer:
            request.headers["Prefer"] = self.prefer[call]
        response = await self._inner.handle_async_request(request)
        violations = _request_violations(response.headers.get("sl-violations", "[]"))
        refused = response.headers.get("content-type", "").startswith("application/problem+json")
        if violations or refused:
            await response.aread()
            reasons = "; ".join(violations) if violations else response.text
            raise ContractViolation(f"GitHub's description does not allow {call}: {reasons}")
        response.headers.pop("link", None)
        edit = self.edit.get(call)
        if edit is None:
            return response
        await response.aread()
        headers = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-length", "content-encoding")
        }
        return httpx.Response(
            response.status_code, headers=headers, json=edit(response.json()), request=request
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def _request_violations(header: str) -> list[str]:
    """The messages of `sl-violations` about the request (those about prism's answer
    start their location with "response")."""
    try:
        found = json.loads(header)
    except ValueError:
        return [header]
    return [
        str(violation.get("message", violation))
        for violation in found
        if violation.get("location", ["request"])[0] != "response"
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Return once prism answers; fail with its log if it exits or takes too long."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        with suppress(httpx.TransportError):
            httpx.get(f"{url}/rate_limit", timeout=1.0)
            return
        time.sleep(0.05)
    state = "exited" if process.poll() is not None else f"not ready in {START_TIMEOUT_S:g}s"
    tail = log.read_text(errors="replace")[-LOG_TAIL_CHARS:]
    raise RuntimeError(f"prism {state} serving at {url}; its log:\n{tail}")
