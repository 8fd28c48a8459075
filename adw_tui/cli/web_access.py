"""Who may use `adw web`: a request must name a host the server answers to, come from the
served page's own origin, and carry the server's token.

Without these checks any web page open in the operator's browser could open the
dashboard's websocket (browsers let a page connect a websocket to any address) and
launch, cancel or replay runs; a DNS-rebinding page could even load the dashboard as its
own origin. The token travels as Jupyter's does: in the URL printed at start, then in an
HttpOnly, SameSite=Strict cookie the page's own requests (the websocket included) carry.
"""

import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

TOKEN_PARAMETER = "token"
TOKEN_COOKIE = "adw_web_token"
PUBLIC_PREFIXES = ("/static/",)  # the terminal's scripts and fonts: the same in every install
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def new_token() -> str:
    """A token no page can guess: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class WebAccess:
    """The rules for one server: its token and the `Host` values it answers to (`None`:
    any, when bound to every interface, where the token alone decides)."""

    token: str
    allowed_hosts: frozenset[str] | None

    @classmethod
    def for_address(cls, host: str, port: int, token: str) -> "WebAccess":
        if _is_unspecified(host):
            return cls(token=token, allowed_hosts=None)
        bound = f"[{host}]" if ":" in host and not host.startswith("[") else host
        names = {bound, *LOOPBACK_NAMES} if _is_loopback(host) else {bound}
        allowed = {f"{name}:{port}" for name in names}
        if port == 80:
            allowed |= names
        return cls(token=token, allowed_hosts=frozenset(name.lower() for name in allowed))

    def url(self, host: str, port: int) -> str:
        """The address to open: the page with the token in its query."""
        shown = "127.0.0.1" if _is_unspecified(host) else host
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        return f"http://{shown}:{port}/?{TOKEN_PARAMETER}={self.token}"

    def refusal(self, request: web.Request) -> str | None:
        """Why `request` is refused, or `None` when it may proceed."""
        host = (request.headers.get("Host") or "").lower()
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            return "unexpected Host header; open the URL adw web printed"
        origin = request.headers.get("Origin")
        is_websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        if origin is None and is_websocket:
            return "a websocket without an Origin header"
        if origin is not None and (urlsplit(origin).netloc.lower() != host or not host):
            return f"cross-origin request from {origin}"
        if request.path.startswith(PUBLIC_PREFIXES):
            return None
        if not self._token_matches(request):
            return "missing or wrong token; open the URL adw web printed (it ends in ?token=...)"
        return None

    def _token_matches(self, request: web.Request) -> bool:
        offered = request.query.get(TOKEN_PARAMETER) or request.cookies.get(TOKEN_COOKIE) or ""
        return hmac.compare_digest(offered.encode(), self.token.encode())

    def keep_out_of_access_log(self) -> None:
        """The server logs each request line, query included: show the token as `[token]`."""
        logging.getLogger("aiohttp.access").addFilter(_TokenFilter(self.token))

    def middleware(self) -> Middleware:
        """An aiohttp middleware enforcing these rules on every route."""

        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            reason = self.refusal(request)
            if reason is not None:
                return web.Response(status=403, text=f"adw web: {reason}\n")
            response = await handler(request)
            if request.query.get(TOKEN_PARAMETER) and not response.prepared:
                response.set_cookie(
                    TOKEN_COOKIE, self.token, httponly=True, samesite="Strict", path="/"
                )
            return response

        return guard


class _TokenFilter(logging.Filter):
    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "[token]"), ()
        return True
