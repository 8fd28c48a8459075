"""What the scripted model APIs share (`tests/fake_*.py`): a threaded HTTP server on a
free loopback port, started and stopped as a context manager, and a log of requests."""

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypeVar


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-answer is what these tests do on purpose; stay quiet about it.
        pass


class LoopbackServer:
    """Serves `handler()` on 127.0.0.1 from `__enter__` to `close()`. `closed` is set on
    close, so that a handler holding a connection open (a model that never answers)
    lets it go; `record` appends to `log` under the lock the subclass shares."""

    thread_name = "loopback-api"

    def __init__(self) -> None:
        self.log: list[Any] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._server: QuietServer | None = None
        self._thread: threading.Thread | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def root_url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        server = QuietServer(("127.0.0.1", 0), self.handler())
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and release every held connection; safe to call twice."""
        self._closed.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _record(self, entry: Any) -> None:
        with self._lock:
            self.log.append(entry)


Turn = TypeVar("Turn")


def next_turn(
    body: dict[str, Any],
    respond: Callable[[dict[str, Any]], Turn | None] | None,
    script: list[Turn],
    default: Turn,
) -> Turn:
    """The turn answering `body` (the caller holds its lock): what `respond` chooses,
    else the script's next turn, else `default`."""
    chosen = respond(body) if respond is not None else None
    if chosen is not None:
        return chosen
    return script.pop(0) if script else default
