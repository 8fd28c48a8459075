"""Benchmark: what the webhook's signature check and delivery dedupe cost.

The same `WebhookServer` on a free loopback port, twice: as `adw webhook` runs it (every
delivery's HMAC-SHA256 checked, recorded in the `deliveries` table if new, audited) and
as a baseline answering the same deliveries without either (no secret, a dispatcher that
records nothing). Each delivery is a 12 KB `issues` `opened` payload asking for
`adw_plan`, with a new delivery id.

The runs are not what is measured: both servers launch through a stub that returns at
once (only here; adw launches through `Orchestrator.launch`, which the tests cover), so
the figure is the trigger's own work. The stub writes no run, so it does not write what
adw writes in the transaction creating a run either: the delivery settled as started
(an UPDATE and an audit INSERT there, not a write of their own).

Measured in the same run:
- throughput: 50 senders, each posting deliveries one after the other on its own
  keep-alive connection, for a fixed count; accepted deliveries per second, and the ratio
  of the checked server to the baseline (bar: >= 0.8).
- time to the 202: 50 concurrent senders each posting a delivery every 200 ms (250 a
  second offered, well over what a repository's webhook sends); the p99 of the time from
  sending a request to reading its 202 (bar: <= 20 ms).

The senders are a small raw HTTP/1.1 client in the same process and event loop as the
server (requests built and signed before the clock starts), so a figure includes their
share of the CPU too.

Run: `uv run python -m bench.webhook [--quick]`. Tables, then one JSON line.
"""

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from adw_tui.store import Store
from adw_tui.store.deliveries import Delivery
from adw_tui.triggers.counters import TriggerCounters
from adw_tui.triggers.dispatch import Dispatcher, Launch
from adw_tui.triggers.signature import sign
from adw_tui.triggers.webhook import PATH, WebhookConfig, WebhookServer
from adw_tui.workflows.loader import load_workflows
from bench.common import (
    Target,
    filesystem_of,
    machine_figures,
    print_report,
    quick_requested,
    targets_table,
)

SENDERS = 50
SECRET = b"bench-webhook-secret"
RATIO_BAR = 0.8
P99_BAR_MS = 20.0
PACE_S = 0.2
ROUNDS = 7
"""Flood pairs (baseline, then checked) measured in turn: the ratio is the median of the
pairs' ratios, as one pair ranges from 0.5 to 1.07 on a shared machine."""


class _Unrecorded(Dispatcher):
    """The baseline's dispatcher: every delivery new, nothing written (its launches, as
    the checked server's, write nothing with the stub)."""

    async def take(self, delivery: Delivery, *, actor: str, detail: dict[str, Any]) -> bool:
        self.counters.accepted += 1
        return True


async def _stub_launch(request: Launch) -> None:
    return None


def _payload() -> bytes:
    """An `issues` `opened` delivery shaped as GitHub's, about 12 KB."""
    user = {"login": "octocat", "id": 1, "type": "User", "site_admin": False}
    payload = {
        "action": "opened",
        "issue": {
            "number": 1,
            "title": "Add a slugify helper",
            "body": "Turn titles into URL slugs. adw_plan\n\n" + "Details. " * 1200,
            "user": user,
            "state": "open",
            "labels": [],
        },
        "repository": {"full_name": "octo/hello", "id": 42, "private": False},
        "sender": user,
    }
    return json.dumps(payload).encode()


def _request(body: bytes, *, signed: bool) -> bytes:
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: issues\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n"
        f"Content-Length: {len(body)}\r\n"
    )
    if signed:
        head += f"X-Hub-Signature-256: {sign(SECRET, body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> float:
    """Send one request on a keep-alive connection; seconds until its answer was read."""
    started = time.perf_counter()
    writer.write(request)
    status = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    elapsed = time.perf_counter() - started
    if not status.startswith(b"HTTP/1.1 202"):
        raise RuntimeError(f"expected 202, got {status!r}")
    return elapsed


@dataclass
class Figures:
    per_second: float
    p50_ms: float
    p99_ms: float


async def _senders(address: str, requests: list[list[bytes]], pace_s: float) -> list[float]:
    host, port = address.rsplit(":", 1)

    async def sender(index: int, mine: list[bytes]) -> list[float]:
        reader, writer = await asyncio.open_connection(host, int(port))
        await asyncio.sleep(pace_s * index / len(requests))  # paced senders spread out
        times = []
        try:
            for request in mine:
                due = time.perf_counter() + pace_s
                times.append(await _exchange(reader, writer, request))
                if pace_s:
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
        finally:
            writer.close()
        return times

    results = await asyncio.gather(*(sender(i, mine) for i, mine in enumerate(requests)))
    return [seconds for times in results for seconds in times]


async def _measure(directory: Path, *, checked: bool, each: int, pace_s: float) -> Figures:
    body = _payload()
    async with await Store.open(directory / f"{checked}-{pace_s}" / "adw_state.db") as store:
        counters = TriggerCounters("webhook")
        kind = Dispatcher if checked else _Unrecorded
        server = WebhookServer(
            store,
            kind(store, _stub_launch, counters),
            WebhookConfig(
                secret=SECRET if checked else None,
                workflows=frozenset(load_workflows(None)),
                repository="octo/hello",
            ),
            status=lambda: asyncio.sleep(0, {}),
        )
        address = await server.start("127.0.0.1", 0)
        requests = [[_request(body, signed=checked) for _ in range(each)] for _ in range(SENDERS)]
        started = time.perf_counter()
        times = await _senders(address, requests, pace_s)
        elapsed = time.perf_counter() - started - (pace_s if pace_s else 0)
        await server.stop()
        assert counters.accepted == SENDERS * each, counters
    times.sort()
    return Figures(
        per_second=len(times) / elapsed,
        p50_ms=statistics.median(times) * 1000,
        p99_ms=times[int(len(times) * 0.99) - 1] * 1000,
    )


@dataclass(frozen=True)
class Measured:
    floods: dict[str, list[Figures]]
    """Each server's flood figures, a round each."""
    paced: dict[str, Figures]
    filesystem: str

    @property
    def ratios(self) -> list[float]:
        """Checked over baseline deliveries/s, round by round."""
        pairs = zip(self.floods["baseline"], self.floods["checked"], strict=True)
        return [checked.per_second / baseline.per_second for baseline, checked in pairs]

    def flood(self, server: str) -> Figures:
        """The server's median flood figures over the rounds."""
        rounds = self.floods[server]
        return Figures(
            *(statistics.median(getattr(f, name) for f in rounds) for name in vars(rounds[0]))
        )


async def measure(quick: bool) -> Measured:
    each, rounds = (10, 1) if quick else (40, ROUNDS)
    servers = {"baseline": False, "checked": True}
    with tempfile.TemporaryDirectory(prefix="adw-bench-webhook-") as temp:
        directory = Path(temp)
        for checked in servers.values():  # a warm-up of each, then the figures
            await _measure(directory / "warm", checked=checked, each=2, pace_s=0)
        floods: dict[str, list[Figures]] = {name: [] for name in servers}
        for number in range(rounds):
            for name, checked in servers.items():
                floods[name].append(
                    await _measure(
                        directory / f"round-{number}", checked=checked, each=each, pace_s=0
                    )
                )
        paced = {
            name: await _measure(directory, checked=checked, each=max(5, each // 4), pace_s=PACE_S)
            for name, checked in servers.items()
        }
        return Measured(floods, paced, filesystem_of(directory))


def main() -> None:
    quick = quick_requested(__doc__ or "", "fewer deliveries, for a smoke test")
    load_before, started = os.getloadavg(), time.perf_counter()
    measured = asyncio.run(measure(quick))
    figures = {
        **{f"{name} flood": measured.flood(name) for name in measured.floods},
        **{f"{name} paced": figure for name, figure in measured.paced.items()},
    }
    rounds = len(measured.ratios)
    table = Table(
        title=f"Webhook deliveries, {SENDERS} senders ({measured.filesystem}); "
        f"floods: medians of {rounds} rounds"
    )
    for column in ("server", "load", "deliveries/s", "p50 ms", "p99 ms"):
        table.add_column(column)
    for name, figure in figures.items():
        server, load = name.split()
        table.add_row(
            server,
            "flood" if load == "flood" else f"every {PACE_S * 1000:g} ms",
            f"{figure.per_second:,.0f}",
            f"{figure.p50_ms:.1f}",
            f"{figure.p99_ms:.1f}",
        )
    ratio = statistics.median(measured.ratios)
    p99 = figures["checked paced"].p99_ms
    checks = [
        Target(
            f"checked / baseline deliveries/s (median of {rounds})",
            f">= {RATIO_BAR:g}",
            f"{ratio:.2f} ({min(measured.ratios):.2f}-{max(measured.ratios):.2f})",
            ratio >= RATIO_BAR,
        ),
        Target(
            "p99 time to the 202, paced",
            f"<= {P99_BAR_MS:g} ms",
            f"{p99:.1f} ms",
            p99 <= P99_BAR_MS,
        ),
    ]
    print_report(
        [table, targets_table(checks)],
        {
            "bench": "webhook",
            "senders": SENDERS,
            "filesystem": measured.filesystem,
            "figures": {name: vars(figure) for name, figure in figures.items()},
            "ratio": ratio,
            "ratios": [round(each, 3) for each in measured.ratios],
            "p99_ms": p99,
            "targets_met": all(check.met for check in checks),
            **machine_figures(load_before, started),
        },
    )


if __name__ == "__main__":
    main()
