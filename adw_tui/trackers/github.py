"""The GitHub tracker: a repository's issues through the REST API (v3).

Pull requests are issues to GitHub's API; they are left out of listings and refused as a
run's issue. adw marks the issue it works on with a label (`adw:running`, then
`adw:succeeded` or `adw:failed`; the names are settings). The repository and token are
found on first use, so choosing the tracker costs nothing until it is asked something.
"""

import base64
from collections.abc import AsyncGenerator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import ConfigDict, Field, ValidationError

from adw_tui.config import Settings
from adw_tui.domain.errors import IssueNotFoundError, TrackerError
from adw_tui.domain.issues import (
    Issue,
    IssueComment,
    IssueMark,
    IssueState,
    IssueSummary,
    PullRequest,
)
from adw_tui.domain.modeling import Model
from adw_tui.trackers.github_api import GitHubApi, RateBudget
from adw_tui.trackers.github_setup import github_token, origin_repository


class _Json(Model):
    model_config = ConfigDict(extra="ignore")


class _User(_Json):
    login: str


class _Label(_Json):
    name: str


class _Comment(_Json):
    id: int
    body: str | None = None
    user: _User | None = None
    created_at: datetime
    author_association: str = "NONE"
    """Missing (which GitHub never leaves it) reads as no relation: never trusted."""


class _Issue(_Json):
    number: int
    title: str
    body: str | None = None
    state: IssueState
    created_at: datetime
    updated_at: datetime | None = None
    comments: int = 0
    labels: list[_Label] = Field(default_factory=list)
    pull_request: dict[str, Any] | None = None
    user: _User | None = None
    author_association: str = "NONE"

    def summary(self) -> IssueSummary:
        return IssueSummary(
            number=self.number,
            title=self.title,
            state=self.state,
            created_at=self.created_at,
            comments=self.comments,
            updated_at=self.updated_at,
        )

    def issue(self, comments: list[IssueComment]) -> Issue:
        return Issue(
            number=self.number,
            title=self.title,
            body=self.body or "",
            state=self.state,
            created_at=self.created_at,
            comments=comments,
            author=self.user.login if self.user else None,
            author_association=self.author_association,
        )


class _Pull(_Json):
    number: int
    html_url: str

    def pull_request(self) -> PullRequest:
        return PullRequest(number=self.number, url=self.html_url)


_Model = TypeVar("_Model", bound=_Json)


class GitHubTracker:
    """An IssueTracker over one GitHub repository."""

    name = "github"

    def __init__(
        self,
        settings: Settings,
        repo_dir: Path,
        *,
        environ: Mapping[str, str] | None = None,
        api: GitHubApi | None = None,
    ) -> None:
        """`api` is made on first use from `settings` and the token (`environ`'s, or
        `gh auth token`) unless given."""
        self._settings = settings
        self._repo_dir = repo_dir
        self._environ = environ
        self._api = api
        self._repository = settings.github_repo
        self._labels = {
            IssueMark.RUNNING: settings.label_running,
            IssueMark.SUCCEEDED: settings.label_succeeded,
            IssueMark.FAILED: settings.label_failed,
        }

    @property
    def where(self) -> str:
        return f"GitHub repository {self._repository or '(from the origin remote)'}"

    @property
    def rate_budget(self) -> RateBudget | None:
        """What GitHub last said of the token's rate limit (None before any call)."""
        return self._api.budget if self._api is not None else None

    def rate_limit_gauge(self) -> str | None:
        return self._api.budget.gauge() if self._api is not None else None

    async def check_access(self) -> str:
        """`octo/hello at https://api.github.com: 4,990 of 5,000 calls left, ...`: the
        repository read once, which proves the token can see it (a TrackerError says
        what to fix otherwise)."""
        api, base = await self.api(), await self._base()
        await api.get(base)
        return f"{await self.repository()} at {api.root}: {api.budget.describe()}"

    async def repository(self) -> str:
        """`owner/name`: the setting, else the origin remote's."""
        if self._repository is None:
            self._repository = await origin_repository(self._repo_dir)
        return self._repository

    async def api(self) -> GitHubApi:
        if self._api is None:
            self._api = GitHubApi(
                self._settings.github_api_url,
                await github_token(self._environ),
                max_wait_s=self._settings.github_max_wait,
            )
        return self._api

    async def get_issue(self, number: int) -> Issue:
        found = await self._issue(number)
        if found.pull_request is not None:
            raise TrackerError(
                f"#{number} of {await self.repository()} is a pull request, not an issue: "
                "give adw an issue's number"
            )
        api, base = await self.api(), await self._base()
        comments = [
            _comment(item)
            async for page in api.pages(f"{base}/issues/{number}/comments")
            for item in page
        ]
        return found.issue(comments)

    async def issues(
        self,
        *,
        state: IssueState | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> AsyncGenerator[IssueSummary, None]:
        if limit == 0:
            return
        params = {"state": state or "all", "sort": "created", "direction": "desc"}
        shown = 0
        async for found in self._summaries(params):
            if since is not None and found.created_at < since:
                return
            yield found
            shown += 1
            if shown == limit:
                return

    def recently_updated(
        self, *, state: IssueState = IssueState.OPEN
    ) -> AsyncGenerator[IssueSummary, None]:
        """Issues in `state`, the most recently updated first: a new issue, comment, edit
        or label puts its issue in front. A reader that stops at the first issue it saw
        before, unchanged, reads one page; of a repository where nothing changed, that
        page is one conditional request answered 304 (no rate limit spent)."""
        return self._summaries({"state": state, "sort": "updated", "direction": "desc"})

    async def _summaries(self, params: dict[str, str]) -> AsyncGenerator[IssueSummary, None]:
        """The listing's issues, pull requests left out, page by page as they are read."""
        api, base = await self.api(), await self._base()
        async for page in api.pages(f"{base}/issues", params):
            for item in page:
                found = _parse(_Issue, item, "an issue")
                if found.pull_request is None:
                    yield found.summary()

    async def count_issues(
        self, *, state: IssueState | None = None, since: datetime | None = None
    ) -> int | None:
        """GitHub counts issues and pull requests together: unknown without reading all."""
        return None

    async def create_issue(self, title: str, body: str) -> Issue:
        api, base = await self.api(), await self._base()
        created = await api.send("POST", f"{base}/issues", {"title": title, "body": body})
        return _parse(_Issue, created, "an issue").issue([])

    async def comment(self, number: int, body: str) -> IssueComment:
        api, base = await self.api(), await self._base()
        posted = await api.send("POST", f"{base}/issues/{number}/comments", {"body": body})
        return _comment(posted)

    async def mark(self, number: int, mark: IssueMark) -> None:
        """Take adw's other labels off the issue, then put `mark`'s on."""
        api, base = await self.api(), await self._base()
        wanted = self._labels[mark]
        present = {label.name for label in (await self._issue(number)).labels}
        for label in self._labels.values():
            if label != wanted and label in present:
                await api.send("DELETE", f"{base}/issues/{number}/labels/{quote(label, safe='')}")
        if wanted not in present:
            await api.send("POST", f"{base}/issues/{number}/labels", {"labels": [wanted]})

    async def close_issue(self, number: int) -> None:
        api, base = await self.api(), await self._base()
        await api.send("PATCH", f"{base}/issues/{number}", {"state": "closed"})

    async def open_pull_request(
        self, *, head: str, base: str, title: str, body: str, number: int | None = None
    ) -> PullRequest:
        """Update pull request `number`, else the open one whose head is `head`, else open
        one. (Opening a second for the same head is what GitHub refuses with a 422.)"""
        api, base_path = await self.api(), await self._base()
        if number is None:
            owner = (await self.repository()).split("/")[0]
            params = {"head": f"{owner}:{head}", "state": "open"}
            found = await api.get(f"{base_path}/pulls", params)
            if isinstance(found, list) and found:
                number = _parse(_Pull, found[0], "a pull request").number
        if number is not None:
            try:
                updated = await api.send(
                    "PATCH", f"{base_path}/pulls/{number}", {"title": title, "body": body}
                )
                return _parse(_Pull, updated, "a pull request").pull_request()
            except TrackerError as error:
                if error.status != 404:  # gone (or never ours): open a new one
                    raise
        created = await api.send(
            "POST",
            f"{base_path}/pulls",
            {"title": title, "head": head, "base": base, "body": body},
        )
        return _parse(_Pull, created, "a pull request").pull_request()

    async def push_environment(self, remote_url: str) -> dict[str, str]:
        """For an https remote on this GitHub's host: the token as the basic-auth header
        git sends there (as GitHub's own checkout action does), through git's
        `GIT_CONFIG_*` variables, so it is in no process's arguments and no file."""
        remote = httpx.URL(remote_url) if remote_url.startswith("https://") else None
        token = await github_token(self._environ)
        if remote is None or token is None or remote.host != _web_host(self._settings):
            return {}
        secret = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.https://{remote.host}/.extraheader",
            "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {secret}",
        }

    async def aclose(self) -> None:
        if self._api is not None:
            await self._api.aclose()

    async def _base(self) -> str:
        return f"/repos/{await self.repository()}"

    async def _issue(self, number: int) -> _Issue:
        """The issue's JSON; IssueNotFoundError when the repository is there but not it."""
        api, base = await self.api(), await self._base()
        try:
            return _parse(_Issue, await api.get(f"{base}/issues/{number}"), "an issue")
        except TrackerError as error:
            if error.status != 404:
                raise
            await api.get(base)  # the repository itself missing or hidden says so
            raise IssueNotFoundError(number) from None


def _web_host(settings: Settings) -> str:
    """The host git talks to: github.com for api.github.com, else the API's own host
    (GitHub Enterprise Server serves both)."""
    host = httpx.URL(settings.github_api_url).host
    return "github.com" if host == "api.github.com" else host


def _comment(item: Any) -> IssueComment:
    found = _parse(_Comment, item, "a comment")
    return IssueComment(
        id=found.id,
        author=found.user.login if found.user else "ghost",
        body=found.body or "",
        created_at=found.created_at,
        author_association=found.author_association,
    )


def _parse(model: type[_Model], item: Any, what: str) -> _Model:
    try:
        return model.model_validate(item)
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join(str(part) for part in first["loc"])
        raise TrackerError(
            f"GitHub sent {what} adw cannot read ({place}: {first['msg']})"
        ) from None
