"""Which GitHub repository and token adw uses: `ADW_GITHUB_REPO` or the `origin`
remote; `GITHUB_PAT`, `GH_TOKEN` or `gh auth token`. The token is only ever handed to
the API client's Authorization header."""

import asyncio
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from adw_tui.domain.errors import TrackerError

TOKEN_VARIABLES = ("GITHUB_PAT", "GH_TOKEN")
COMMAND_TIMEOUT_S = 10.0
_REMOTE = re.compile(
    r"""^(?:
        [a-z+]+://(?:[^@/]+@)?[^/]+/      # https://github.com/, ssh://git@host:22/
      | [^@/:]+@[^:/]+:                   # git@github.com:
    )
    (?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?$""",
    re.VERBOSE,
)


def repository_of_remote(url: str) -> str | None:
    """`owner/name` of a remote URL in its https, ssh or scp-like form, or None."""
    match = _REMOTE.match(url.strip())
    return f"{match['owner']}/{match['name']}" if match else None


async def origin_repository(repo_dir: Path) -> str:
    """`owner/name` of the repository's `origin` remote; a TrackerError saying how to name
    the repository when there is none or it is not a GitHub-style URL."""
    url = await _output("git", "-C", str(repo_dir), "remote", "get-url", "origin")
    repository = repository_of_remote(url) if url else None
    if repository is None:
        found = f"its origin remote is {url!r}" if url else "it has no origin remote"
        raise TrackerError(
            f"cannot tell which GitHub repository {repo_dir} is ({found}): set "
            "ADW_GITHUB_REPO=owner/name (or github_repo in .adw/config.toml)"
        )
    return repository


async def github_token(environ: Mapping[str, str] | None = None) -> str | None:
    """`GITHUB_PAT`, else `GH_TOKEN`, else what `gh auth token` prints; None without any
    (GitHub then answers public reads only)."""
    environ = os.environ if environ is None else environ
    for name in TOKEN_VARIABLES:
        if environ.get(name, "").strip():
            return environ[name].strip()
    gh = shutil.which("gh", path=environ.get("PATH"))
    if gh is None:
        return None
    return await _output(gh, "auth", "token") or None


async def _output(*argv: str) -> str:
    """What a command prints, stripped; "" when it fails, hangs or is not there."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return ""
    try:
        async with asyncio.timeout(COMMAND_TIMEOUT_S):
            stdout, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        return ""
    return stdout.decode("utf-8", "replace").strip() if process.returncode == 0 else ""
