"""GitHub's REST API as adw uses it: authenticated JSON calls that page through `Link`
headers, ask again with `If-None-Match` (an unchanged answer costs no rate limit), wait
out rate limits, and turn every failure into a TrackerError that says what to do.

Only this module speaks HTTP to GitHub; `github.py` maps what it returns onto issues.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx

from adw_tui.domain.errors import TrackerError
from adw_tui.domain.sanitize import terminal_safe

API_VERSION = "2022-11-28"
USER_AGENT = "adw-tui"
PER_PAGE = 100
ETAG_CACHE_SIZE = 256
MAX_RATE_LIMIT_WAITS = 3
SECONDARY_LIMIT_WAIT_S = 60.0
"""GitHub's advice when a secondary rate limit names no time: wait at least a minute."""
MESSAGE_CHARS = 300

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True)
class RateBudget:
    """What GitHub last said of the token's rate limit, and whether adw waits on it."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    """When the budget refills (Unix time)."""
    waiting_until: float | None = None
    """Set while a call waits for the limit (Unix time)."""

    def gauge(self) -> str:
        """`4,990/5,000`, or `waiting until 12:34:56 UTC` while a call waits for it."""
        if self.waiting_until is not None:
            return f"waiting until {_clock_time(self.waiting_until)}"
        if self.remaining is None:
            return "no call yet"
        return f"{self.remaining:,}/{self.limit or 0:,}"

    def describe(self) -> str:
        """`4,990 of 5,000 calls left, resets 12:34:56 UTC`, or what is known of it."""
        if self.remaining is None:
            return "no call made yet"
        text = f"{self.remaining:,} of {self.limit or 0:,} calls left"
        if self.reset_at is not None:
            text += f", resets {_clock_time(self.reset_at)}"
        if self.waiting_until is not None:
            text += f"; waiting until {_clock_time(self.waiting_until)}"
        return text


@dataclass
class ApiStats:
    """What the calls cost: requests sent, and how many GitHub answered 304 Not Modified."""

    requests: int = 0
    not_modified: int = 0


@dataclass(frozen=True)
class Page:
    """A GET's JSON, and the URL of the listing's next page if there is one."""

    data: Any
    next_url: str | None


class GitHubApi:
    """One API root, one token: JSON in and out, conditional GETs, pages, rate limits.

    `sleep` and `clock` are the waits' clock (tests pass fast ones); `transport` lets a
    caller choose the HTTP transport. The token goes into the Authorization header only.
    """

    def __init__(
        self,
        root: str,
        token: str | None,
        *,
        max_wait_s: float = 900.0,
        timeout_s: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.root = root.rstrip("/")
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(
            base_url=self.root,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            transport=transport,
            follow_redirects=False,
        )
        self._max_wait_s = max_wait_s
        self._sleep = sleep
        self._clock = clock
        self._etags: OrderedDict[str, tuple[str, Page]] = OrderedDict()
        self.budget = RateBudget()
        self.stats = ApiStats()

    def __repr__(self) -> str:  # never the token
        return f"GitHubApi({self.root!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """The JSON at `path`, asked conditionally: an unchanged answer comes from the cache."""
        return (await self._conditional_get(path, params)).data

    async def pages(
        self, path: str, params: Mapping[str, str | int] | None = None
    ) -> AsyncIterator[list[Any]]:
        """Each page of a listing, following the `Link: rel="next"` of each answer."""
        url: str | None = path
        query: Mapping[str, str | int] | None = {"per_page": PER_PAGE, **(params or {})}
        while url is not None:
            page = await self._conditional_get(url, query)
            if not isinstance(page.data, list):
                raise self._malformed("GET", path, "a list")
            yield page.data
            url, query = page.next_url, None

    async def send(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """A call that changes something (POST, PATCH, DELETE); its JSON answer, or None."""
        response = await self._request(method, path, json=body)
        self._check(response, method, path)
        return self._json(response, method, path) if response.content else None

    async def _conditional_get(self, url: str, params: Mapping[str, str | int] | None) -> Page:
        key = str(self._client.build_request("GET", url, params=params).url)
        cached = self._etags.get(key)
        headers = {"If-None-Match": cached[0]} if cached else {}
        response = await self._request("GET", url, params=params, headers=headers)
        if response.status_code == 304 and cached is not None:
            self.stats.not_modified += 1
            self._etags.move_to_end(key)
            return cached[1]
        self._check(response, "GET", url)
        page = Page(self._json(response, "GET", url), self._next_page(response))
        etag = response.headers.get("etag")
        if etag:
            self._etags[key] = (etag, page)
            self._etags.move_to_end(key)
            while len(self._etags) > ETAG_CACHE_SIZE:
                self._etags.popitem(last=False)
        return page

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one call, waiting first while the budget is spent and again (up to
        MAX_RATE_LIMIT_WAITS times) when GitHub answers that a rate limit was hit."""
        for waits in range(MAX_RATE_LIMIT_WAITS + 1):
            reset_at = self.budget.reset_at
            if self.budget.remaining == 0 and reset_at is not None and reset_at >= self._clock():
                await self._wait(reset_at - self._clock() + 1, method, url)
            try:
                response = await self._client.request(
                    method, url, params=params, json=json, headers=headers
                )
            except httpx.TransportError as error:
                raise TrackerError(
                    f"cannot reach GitHub at {self.root} for {method} {_path(url)} "
                    f"({type(error).__name__}: {error}); check the network and "
                    "ADW_GITHUB_API_URL",
                    transient=True,
                ) from error
            self.stats.requests += 1
            self._note_budget(response)
            wait = self._rate_limit_wait(response)
            if wait is None:
                return response
            if waits == MAX_RATE_LIMIT_WAITS:
                break
            await self._wait(wait, method, url)
        raise TrackerError(
            f"GitHub kept answering {method} {_path(url)} with a rate limit "
            f"({response.status_code} {_message(response)}) after {MAX_RATE_LIMIT_WAITS} "
            "waits; try again later",
            transient=True,
            status=response.status_code,
        )

    async def _wait(self, seconds: float, method: str, url: str) -> None:
        seconds = max(0.0, seconds)
        if seconds > self._max_wait_s:
            until = self._clock() + seconds
            raise TrackerError(
                f"GitHub's rate limit holds {method} {_path(url)} until {_clock_time(until)} "
                f"({seconds:.0f}s, over ADW_GITHUB_MAX_WAIT={self._max_wait_s:g}s); "
                "try again then",
                transient=True,
                status=429,
            )
        self.budget = replace(self.budget, waiting_until=self._clock() + seconds)
        try:
            await self._sleep(seconds)
        finally:
            self.budget = replace(self.budget, waiting_until=None)

    def _note_budget(self, response: httpx.Response) -> None:
        headers = response.headers
        remaining = _int(headers.get("x-ratelimit-remaining"))
        if remaining is None:
            return
        self.budget = RateBudget(
            limit=_int(headers.get("x-ratelimit-limit")),
            remaining=remaining,
            reset_at=_int(headers.get("x-ratelimit-reset")),
        )

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait before asking again, when the answer is a rate limit (primary:
        403/429 with no calls left; secondary: 403/429 with Retry-After or saying so)."""
        if response.status_code not in (403, 429):
            return None
        retry_after = _int(response.headers.get("retry-after"))
        if retry_after is not None:
            return float(retry_after)
        if self.budget.remaining == 0 and self.budget.reset_at is not None:
            return self.budget.reset_at - self._clock() + 1
        if "rate limit" in _message(response).lower():
            return SECONDARY_LIMIT_WAIT_S
        return None

    def _next_page(self, response: httpx.Response) -> str | None:
        link = response.links.get("next")
        if not link:
            return None
        url = str(link.get("url", ""))
        if not url.startswith(self.root + "/"):
            raise TrackerError(
                f"GitHub's next-page link {terminal_safe(url[:200])!r} is not under "
                f"{self.root}; check ADW_GITHUB_API_URL"
            )
        return url

    def _check(self, response: httpx.Response, method: str, url: str) -> None:
        status = response.status_code
        if status < 400 and status != 304:
            return
        where = f"{method} {_path(url)}"
        said = f"{status} {_message(response)}".rstrip()
        if status == 401:
            hint = "set GITHUB_PAT (or GH_TOKEN) to a valid token, or run `gh auth login`"
            message = f"GitHub refused the token ({where}: {said}): {hint}"
        elif status == 403:
            message = (
                f"GitHub forbids {where} ({said}): the token needs read and write access "
                "to the repository's issues and pull requests (the repo scope, or those "
                "permissions of a fine-grained token)"
            )
        elif status == 404:
            message = (
                f"GitHub has no {where} ({said}): check that ADW_GITHUB_REPO (or the origin "
                "remote) names the repository and that the token can see it"
            )
        elif status == 422:
            message = f"GitHub rejected {where} ({said}{_rejected_fields(response)})"
        elif status >= 500:
            message = f"GitHub failed {where} ({said}); try again later"
        else:
            message = f"GitHub refused {where} ({said})"
        raise TrackerError(message, transient=status >= 500, status=status)

    def _json(self, response: httpx.Response, method: str, url: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise self._malformed(method, url, "JSON") from None

    def _malformed(self, method: str, url: str, expected: str) -> TrackerError:
        return TrackerError(
            f"GitHub's answer to {method} {_path(url)} is not {expected}; check "
            f"ADW_GITHUB_API_URL ({self.root}) points at GitHub's REST API",
            transient=True,
        )


def _message(response: httpx.Response) -> str:
    """GitHub's own `message`, cut short and made safe to show (it is GitHub's text)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return terminal_safe(str(message)[:MESSAGE_CHARS]) if message else ""


def _rejected_fields(response: httpx.Response) -> str:
    """`: title missing_field; labels invalid` from a 422's `errors` list."""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors[:5]:
        if isinstance(error, dict):
            words = [str(error.get(key)) for key in ("field", "code", "message") if error.get(key)]
            parts.append(" ".join(words))
        else:
            parts.append(str(error))
    return f": {terminal_safe('; '.join(parts)[:MESSAGE_CHARS])}" if parts else ""


def _path(url: str) -> str:
    return httpx.URL(url).path or url


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _clock_time(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%H:%M:%S UTC")
