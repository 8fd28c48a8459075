"""The status API: `/health`, `/status` (JSON) and `/metrics` (Prometheus), served by
`adw serve` on its own and by the webhook's server beside its deliveries."""

import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from adw_tui.observability.metrics import CONTENT_TYPE, exposition, read_snapshot
from adw_tui.runtime.resources import ResourceSnapshot
from adw_tui.store import Store

StatusReport = Callable[[], Awaitable[dict[str, Any]]]
ResourcesNow = Callable[[], ResourceSnapshot]
SHUTDOWN_S = 5.0
"""Longest wait, on stop, for open connections."""


def status_app(
    store: Store,
    status: StatusReport,
    resources: ResourcesNow | None = None,
    *,
    client_max_size: int = 1024**2,
) -> web.Application:
    """An application answering the status routes; `resources` gives the serving
    process's queue and slots when it runs workflows. Unknown paths and wrong methods
    are answered as JSON too."""
    app = web.Application(client_max_size=client_max_size, middlewares=[_json_errors])

    async def report(request: web.Request) -> web.Response:
        return web.json_response(await status())

    async def metrics(request: web.Request) -> web.Response:
        snapshot = await read_snapshot(store, resources() if resources else None)
        return web.Response(body=exposition(snapshot), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/health", _health)
    app.router.add_get("/status", report)
    app.router.add_get("/metrics", metrics)
    return app


async def listen(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve `app` on `host:port` (0: a free port): its runner (to `cleanup()`) and the
    address listened on (`[::1]:P` for IPv6)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    bound_host, bound_port = sock.getsockname()[:2]
    address = (
        f"[{bound_host}]:{bound_port}"
        if family == socket.AF_INET6
        else f"{bound_host}:{bound_port}"
    )
    return runner, address


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@web.middleware
async def _json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Unknown paths (404) and wrong methods (405) answered as JSON, like the rest."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
        return web.json_response({"error": error.reason}, status=error.status, headers=headers)
