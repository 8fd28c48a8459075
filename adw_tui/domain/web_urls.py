"""Where a run's work can be seen in a browser: its pull request, else its branch on the
remote's web site, when one can be derived from the remote's URL.

Both come from outside adw (the tracker's answer, the repository's configuration), so
only http(s) URLs are handed to a browser, and a remote URL's credentials never are.
"""

import re
from urllib.parse import quote, urlsplit

from adw_tui.domain.models import RunState

# Hosts whose branch pages adw knows: host -> the path between repository and branch.
BRANCH_PATHS = {"github.com": "tree", "gitlab.com": "-/tree", "codeberg.org": "src/branch"}
# git@host:owner/repo(.git), scp-like syntax of ssh remotes.
_SCP_LIKE = re.compile(r"^[\w.-]+@(?P<host>[\w.-]+):(?P<path>[^\\]+)$")


def is_web_url(url: object) -> bool:
    """Whether `url` is an http(s) URL, the only kind handed to a browser."""
    return isinstance(url, str) and url.startswith(("https://", "http://"))


def pull_request_url(state: RunState) -> str | None:
    """The `pr_url` the run's `open_pr` saved (from the tracker's answer), when it is
    one to hand a browser."""
    url = (state.model_extra or {}).get("pr_url")
    return url if isinstance(url, str) and is_web_url(url) else None


def branch_url(remote_url: str, branch: str) -> str | None:
    """The web page of `branch` on the remote at `remote_url` (https, ssh or scp-like),
    for the hosts of `BRANCH_PATHS`; None for any other remote (a path, another host)."""
    scp = _SCP_LIKE.match(remote_url)
    if scp is not None:
        host, path = scp["host"], scp["path"]
    else:
        parts = urlsplit(remote_url)
        if parts.scheme not in ("https", "http", "ssh", "git"):
            return None
        host, path = parts.hostname or "", parts.path
    kind = BRANCH_PATHS.get(host.lower())
    repository = path.strip("/").removesuffix(".git")
    if kind is None or repository.count("/") < 1 or ".." in repository.split("/"):
        return None
    return f"https://{host.lower()}/{quote(repository)}/{kind}/{quote(branch, safe='/')}"
