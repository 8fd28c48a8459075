"""A small stateful GitHub REST API on loopback, for flows prism's stateless mock cannot
play: an issue created, commented, labelled, then its pull request found again; pages with
`Link` headers; `ETag`s answered with 304; rate-limit headers and scripted faults.

    with FakeGitHub(token="ghp_test...") as github:
        github.add_issue("Fix the crash", "It crashes.")
        settings = Settings(tracker="github", github_repo=github.repository,
                            github_api_url=github.api_url)

Only the endpoints adw uses are served, shaped as GitHub's (the fields adw reads and a
few more); the request shapes themselves are checked against GitHub's published
description by the prism tests. `.log` has every request; `.fail_next(...)` makes the
next calls fail as GitHub does (a status, headers, a message).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from adw_tui.config import Settings
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.trackers.github import GitHubTracker

START = datetime(2026, 1, 1, tzinfo=UTC)
TOKEN = "ghp_" + "t" * 36
"""The token the `github` fixture's server accepts."""


@dataclass
class Logged:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class Fault:
    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    path_contains: str = ""
    method: str | None = None


class FakeGitHub:
    """The server; use it as a context manager (it listens from `__enter__` on)."""

    def __init__(
        self,
        repository: str = "octo/hello",
        *,
        token: str | None = None,
        prefix: str = "",
        rate_limit: int = 5000,
        reset_at: int = 2_000_000_000,
    ) -> None:
        self.repository = repository
        self.token = token
        self.prefix = prefix
        self.rate_limit = rate_limit
        self.remaining = rate_limit
        self.reset_at = reset_at
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.pulls: dict[int, dict[str, Any]] = {}
        self.log: list[Logged] = []
        self.faults: list[Fault] = []
        self._next_number = 1
        self._next_id = 1000
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Set-up and inspection

    @property
    def api_url(self) -> str:
        assert self._server is not None, "use FakeGitHub as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.prefix}"

    def add_issue(
        self, title: str, body: str | None = "", *, pull: bool = False, association: str = "OWNER"
    ) -> int:
        """A new issue (or, with `pull`, a pull request as the issues API shows it), by
        an author of that `association` with the repository."""
        with self._lock:
            number = self._take_number()
            self.issues[number] = self._issue_json(number, title, body, pull=pull)
            self.issues[number]["author_association"] = association
            self.comments[number] = []
            return number

    def add_comment(
        self, number: int, body: str, *, login: str = "octocat", association: str = "OWNER"
    ) -> None:
        with self._lock:
            self._comment(number, body, login, association)

    def labels(self, number: int) -> list[str]:
        return [label["name"] for label in self.issues[number]["labels"]]

    def calls(self, method: str | None = None) -> list[Logged]:
        return [entry for entry in self.log if method is None or entry.method == method]

    def fail_next(
        self,
        status: int,
        message: str = "",
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
        path_contains: str = "",
        method: str | None = None,
    ) -> None:
        """The next `times` requests (of `method`, whose path holds `path_contains`) get
        `status`."""
        with self._lock:
            self.faults.extend(
                Fault(status, message, dict(headers or {}), path_contains, method)
                for _ in range(times)
            )

    # Serving

    def __enter__(self) -> Self:
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-github",
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
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: (status, JSON body or None, extra headers)."""
        with self._lock:
            split = urlsplit(raw_path)
            path = split.path.removeprefix(self.prefix)
            query = {key: values[-1] for key, values in parse_qs(split.query).items()}
            status, data, extra = self._answer(method, path, query, headers, body)
            self.log.append(Logged(method, path, query, headers, body, status))
            return status, data, extra

    def _answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        for fault in self.faults:
            if fault.path_contains in path and fault.method in (None, method):
                self.faults.remove(fault)
                return fault.status, {"message": fault.message}, fault.headers
        if self.token is not None and headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}, {}
        status, data, extra = self._route(method, path, query, body)
        if method == "GET" and status == 200:
            etag = '"' + hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest() + '"'
            extra["ETag"] = etag
            if headers.get("if-none-match") == etag:
                return 304, None, {**extra, **self._budget()}
        self.remaining = max(0, self.remaining - 1)
        return status, data, {**extra, **self._budget()}

    def _budget(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
            "X-RateLimit-Resource": "core",
        }

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        repo = f"/repos/{self.repository}"
        if path == "/rate_limit" and method == "GET":
            core = {"limit": self.rate_limit, "remaining": self.remaining, "reset": self.reset_at}
            return 200, {"resources": {"core": core}, "rate": core}, {}
        if not path.startswith(repo):
            return 404, {"message": "Not Found"}, {}
        rest = path.removeprefix(repo)
        if rest == "" and method == "GET":
            return 200, {"full_name": self.repository, "default_branch": "main"}, {}
        if rest == "/issues" and method == "GET":
            return self._page(path, query, self._listed_issues(query))
        if rest == "/issues" and method == "POST":
            if not isinstance(body, dict) or not body.get("title"):
                return _invalid("Issue", "title", "missing_field")
            number = self._take_number()
            self.issues[number] = self._issue_json(number, body["title"], body.get("body"))
            self.comments[number] = []
            return 201, self.issues[number], {}
        match = re.fullmatch(r"/issues/(\d+)(/.*)?", rest)
        if match:
            return self._issue_route(method, int(match[1]), match[2] or "", query, body, path)
        if rest == "/pulls" and method == "GET":
            pulls = [
                pull
                for pull in self.pulls.values()
                if (query.get("state", "open") in ("all", pull["state"]))
                and ("head" not in query or query["head"] == f"{pull['head']['label']}")
            ]
            return self._page(path, query, pulls)
        if rest == "/pulls" and method == "POST":
            return self._open_pull(body)
        match = re.fullmatch(r"/pulls/(\d+)", rest)
        if match and method == "PATCH" and int(match[1]) in self.pulls:
            pull = self.pulls[int(match[1])]
            pull.update({k: v for k, v in body.items() if k in ("title", "body", "state", "base")})
            return 200, pull, {}
        return 404, {"message": "Not Found"}, {}

    def _issue_route(
        self, method: str, number: int, rest: str, query: dict[str, str], body: Any, path: str
    ) -> tuple[int, Any, dict[str, str]]:
        issue = self.issues.get(number)
        if issue is None:
            return 404, {"message": "Not Found"}, {}
        if rest == "" and method == "GET":
            return 200, issue, {}
        if rest == "" and method == "PATCH":
            if body.get("state") in ("open", "closed"):
                issue["state"] = body["state"]
                self._touch(issue)
            return 200, issue, {}
        if rest == "/comments" and method == "GET":
            return self._page(path, query, self.comments[number])
        if rest == "/comments" and method == "POST":
            if not isinstance(body, dict) or not body.get("body"):
                return _invalid("IssueComment", "body", "missing_field")
            return 201, self._comment(number, body["body"], "adw-bot"), {}
        if rest == "/labels" and method == "POST":
            for name in body["labels"]:
                if name not in self.labels(number):
                    issue["labels"].append({"id": self._take_id(), "name": name, "color": "ededed"})
                    self._touch(issue)
            return 200, issue["labels"], {}
        if rest.startswith("/labels/") and method == "DELETE":
            name = unquote(rest.removeprefix("/labels/"))
            if name not in self.labels(number):
                return 404, {"message": "Label does not exist"}, {}
            issue["labels"] = [label for label in issue["labels"] if label["name"] != name]
            self._touch(issue)
            return 200, issue["labels"], {}
        return 404, {"message": "Not Found"}, {}

    def _open_pull(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        for key in ("title", "head", "base"):
            if not body.get(key):
                return _invalid("PullRequest", key, "missing_field")
        owner = self.repository.split("/")[0]
        label = body["head"] if ":" in body["head"] else f"{owner}:{body['head']}"
        if any(p["head"]["label"] == label and p["state"] == "open" for p in self.pulls.values()):
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {label}.",
                        }
                    ],
                },
                {},
            )
        number = self.add_issue(body["title"], body.get("body"), pull=True)
        pull = {
            "id": self._take_id(),
            "number": number,
            "state": "open",
            "title": body["title"],
            "body": body.get("body"),
            "html_url": f"https://github.com/{self.repository}/pull/{number}",
            "head": {"ref": label.split(":", 1)[1], "label": label},
            "base": {"ref": body["base"]},
        }
        self.pulls[number] = pull
        return 201, pull, {}

    def _listed_issues(self, query: dict[str, str]) -> list[dict[str, Any]]:
        state = query.get("state", "open")
        chosen = [i for i in self.issues.values() if state in ("all", i["state"])]
        newest_first = query.get("direction", "desc") == "desc"
        if query.get("sort") == "updated":
            return sorted(
                chosen, key=lambda i: (i["updated_at"], i["number"]), reverse=newest_first
            )
        return sorted(chosen, key=lambda i: i["number"], reverse=newest_first)

    def _page(
        self, path: str, query: dict[str, str], items: list[Any]
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = []
        base = f"{self.api_url}{path}"
        others = "&".join(f"{k}={v}" for k, v in sorted(query.items()) if k != "page")
        if page < last:
            links.append(f'<{base}?{others}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?{others}&page={last}>; rel="last"')
        return 200, chunk, {"Link": ", ".join(links)} if links else {}

    def _issue_json(
        self, number: int, title: str, body: str | None, *, pull: bool = False
    ) -> dict[str, Any]:
        url = f"https://api.github.com/repos/{self.repository}/issues/{number}"
        issue: dict[str, Any] = {
            "id": self._take_id(),
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "user": {"login": "octocat"},
            "author_association": "OWNER",
            "labels": [],
            "comments": 0,
            "created_at": _time(number),
            "updated_at": _time(number),
            "url": url,
            "html_url": f"https://github.com/{self.repository}/issues/{number}",
        }
        if pull:
            issue["pull_request"] = {"url": url.replace("/issues/", "/pulls/")}
        return issue

    def _comment(
        self, number: int, body: str, login: str, association: str = "OWNER"
    ) -> dict[str, Any]:
        comment = {
            "id": self._take_id(),
            "body": body,
            "user": {"login": login},
            "author_association": association,
            "created_at": _time(self._next_id),
            "updated_at": _time(self._next_id),
        }
        self.comments[number].append(comment)
        self.issues[number]["comments"] += 1
        self.issues[number]["updated_at"] = comment["updated_at"]
        return comment

    def _touch(self, issue: dict[str, Any]) -> None:
        """A change to the issue: it moves to the front of a listing sorted by update."""
        issue["updated_at"] = _time(self._take_id())

    def _take_number(self) -> int:
        self._next_number += 1
        return self._next_number - 1

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id


def _time(seconds: int) -> str:
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _invalid(resource: str, field_name: str, code: str) -> tuple[int, Any, dict[str, str]]:
    error = {"resource": resource, "field": field_name, "code": code}
    return 422, {"message": "Validation Failed", "errors": [error]}, {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def _handler(github: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the
        # body until the client's delayed ACK, 40 ms a request on a kept-alive connection.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {key.lower(): value for key, value in self.headers.items()}
            status, data, extra = github.handle(self.command, self.path, headers, body)
            payload = b"" if data is None else json.dumps(data).encode()
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            if payload:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

    return Handler


def github_orchestrator(
    github: FakeGitHub, store: Store, repo: Path, settings: Settings
) -> Orchestrator:
    """An orchestrator on `repo` whose tracker is `github`, with `settings` pointed at it
    and its token (use it as `async with`)."""
    pointed = settings.model_copy(
        update={
            "tracker": "github",
            "github_repo": github.repository,
            "github_api_url": github.api_url,
        }
    )
    tracker = GitHubTracker(pointed, repo, environ={"GITHUB_PAT": TOKEN, "PATH": ""})
    return Orchestrator(store, repo, pointed, tracker=tracker)
