"""Ports for the app a run starts in its worktree: one backend and one frontend port each.

As in the original ADW: pair i is (backend_start + i, frontend_start + i) for i in
0..count-1, a run's first choice is its id (hex) modulo `count`, and the pair is written
to `.ports.env` in the worktree.
"""

import errno
import socket
import zlib
from dataclasses import dataclass
from pathlib import Path

from adw_tui.domain.errors import AdwError
from adw_tui.store.leases import Holder, LeaseKind, Leases

PORTS_ENV_FILE = ".ports.env"
LOCALHOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class PortPair:
    backend: int
    frontend: int


class PortsExhaustedError(AdwError):
    def __init__(self, adw_id: str, taken: list[str]) -> None:
        super().__init__(
            f"no free port pair for run {adw_id}: all {len(taken)} are taken "
            f"({', '.join(taken)}); "
            "wait for a run to finish, stop what holds the ports, or configure more pairs"
        )
        self.adw_id = adw_id


def port_is_free(port: int, host: str = LOCALHOST) -> bool:
    """Whether a listening socket could bind `host:port` right now (closed at once).

    No SO_REUSEADDR: with it, BSD and macOS let the bind succeed next to a server
    listening on 0.0.0.0, which is exactly the clash this check is for.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


class PortAllocator:
    """Hands out port pairs to live runs, never the same pair to two runs at a time, in
    this process or any other on the database: a pair is a lease (`adw_tui.store.leases`),
    and a free pair is only taken when both its ports bind."""

    def __init__(
        self,
        leases: Leases,
        backend_start: int = 9100,
        frontend_start: int = 9200,
        count: int = 15,
        *,
        host: str = LOCALHOST,
        holder: Holder | None = None,
    ) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        if backend_start <= frontend_start < backend_start + count or (
            frontend_start <= backend_start < frontend_start + count
        ):
            raise ValueError("the backend and frontend port ranges overlap")
        self._leases = leases
        self._holder = holder or Holder.this_process()
        self.backend_start = backend_start
        self.frontend_start = frontend_start
        self.count = count
        self.host = host

    def pair(self, index: int) -> PortPair:
        return PortPair(self.backend_start + index, self.frontend_start + index)

    def first_choice(self, adw_id: str) -> int:
        """The pair index a run tries first: its hex id modulo `count` (a checksum of the
        id when it is not hex), so a run gets the same ports each time it resumes."""
        try:
            number = int(adw_id, 16)
        except ValueError:
            number = zlib.crc32(adw_id.encode())
        return number % self.count

    async def allocate(self, adw_id: str) -> PortPair:
        """The pair held by `adw_id`, or the first free pair from its first choice on."""
        start = self.first_choice(adw_id)
        index = await self._leases.take(
            LeaseKind.PORTS,
            adw_id,
            self._holder,
            limit=self.count,
            candidates=self._probe_order(start),
            usable=self._binds,
        )
        if index is None:
            raise PortsExhaustedError(adw_id, await self._why_taken(start))
        return self.pair(index)

    async def release(self, adw_id: str) -> None:
        """Give the run's pair back; a run that holds none is ignored."""
        await self._leases.release(LeaseKind.PORTS, adw_id, self._holder)

    async def held(self) -> dict[str, PortPair]:
        """The pairs handed out, by run (by every process)."""
        leases = await self._leases.list(LeaseKind.PORTS)
        return {lease.adw_id: self.pair(lease.number) for lease in leases}

    def _binds(self, index: int) -> bool:
        candidate = self.pair(index)
        return all(
            port_is_free(port, self.host) for port in (candidate.backend, candidate.frontend)
        )

    def _probe_order(self, start: int) -> list[int]:
        return [(start + offset) % self.count for offset in range(self.count)]

    async def _why_taken(self, start: int) -> list[str]:
        held = {pair: adw_id for adw_id, pair in (await self.held()).items()}
        reasons = []
        for candidate in map(self.pair, self._probe_order(start)):
            name = f"{candidate.backend}/{candidate.frontend}"
            holder = held.get(candidate)
            reasons.append(f"{name} held by run {holder}" if holder else f"{name} in use")
        return reasons


def ports_env(pair: PortPair) -> dict[str, str]:
    """The variables of a run's `.ports.env`."""
    return {
        "BACKEND_PORT": str(pair.backend),
        "FRONTEND_PORT": str(pair.frontend),
        "VITE_BACKEND_URL": f"http://localhost:{pair.backend}",
    }


def write_ports_env(worktree: Path, pair: PortPair) -> Path:
    """Write `.ports.env` into the worktree, as the original ADW did, and return its path."""
    path = worktree / PORTS_ENV_FILE
    path.write_text("".join(f"{name}={value}\n" for name, value in ports_env(pair).items()))
    return path
