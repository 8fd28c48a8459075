"""Ports for the app a run starts in its worktree: one backend and one frontend port each.

As in the original ADW: pair i is (backend_start + i, frontend_start + i) for i in
0..count-1, a run's first choice is its id (hex) modulo `count`, and the pair is written
to `.ports.env` in the worktree.
"""

import errno
import socket
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

from adw_tui.domain.errors import AdwError

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
    """Hands out port pairs to live runs, never the same pair twice at a time.

    `allocate` and `release` take a `threading.Lock` and never await, so concurrent
    callers on one event loop (or threads of one process) cannot get the same pair. Other
    processes are only seen through the bind check: a pair another process has handed
    out but not yet bound can be handed out here too.
    """

    def __init__(
        self,
        backend_start: int = 9100,
        frontend_start: int = 9200,
        count: int = 15,
        *,
        host: str = LOCALHOST,
    ) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        if backend_start <= frontend_start < backend_start + count or (
            frontend_start <= backend_start < frontend_start + count
        ):
            raise ValueError("the backend and frontend port ranges overlap")
        self.backend_start = backend_start
        self.frontend_start = frontend_start
        self.count = count
        self.host = host
        self._by_run: dict[str, int] = {}  # adw_id -> pair index
        self._lock = threading.Lock()

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

    def allocate(self, adw_id: str) -> PortPair:
        """The pair held by `adw_id`, or the first free pair from its first choice on."""
        with self._lock:
            if adw_id in self._by_run:
                return self.pair(self._by_run[adw_id])
            held = {index: run for run, index in self._by_run.items()}
            taken: list[str] = []
            start = self.first_choice(adw_id)
            for offset in range(self.count):
                index = (start + offset) % self.count
                candidate = self.pair(index)
                name = f"{candidate.backend}/{candidate.frontend}"
                if index in held:
                    taken.append(f"{name} held by run {held[index]}")
                elif not all(
                    port_is_free(p, self.host) for p in (candidate.backend, candidate.frontend)
                ):
                    taken.append(f"{name} in use")
                else:
                    self._by_run[adw_id] = index
                    return candidate
            raise PortsExhaustedError(adw_id, taken)

    def release(self, adw_id: str) -> None:
        """Give the run's pair back; a run that holds none is ignored."""
        with self._lock:
            self._by_run.pop(adw_id, None)

    def held(self) -> dict[str, PortPair]:
        """The pairs handed out, by run."""
        with self._lock:
            return {run: self.pair(index) for run, index in self._by_run.items()}


def write_ports_env(worktree: Path, pair: PortPair) -> Path:
    """Write `.ports.env` into the worktree, as the original ADW did, and return its path."""
    path = worktree / PORTS_ENV_FILE
    path.write_text(
        f"BACKEND_PORT={pair.backend}\n"
        f"FRONTEND_PORT={pair.frontend}\n"
        f"VITE_BACKEND_URL=http://localhost:{pair.backend}\n"
    )
    return path
