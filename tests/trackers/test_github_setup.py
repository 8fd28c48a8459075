"""Which repository and token the GitHub tracker uses: the setting or the origin remote;
GITHUB_PAT, GH_TOKEN, or what a real `gh auth token` executable prints."""

import subprocess
from pathlib import Path

import pytest

from adw_tui.domain.errors import TrackerError
from adw_tui.trackers.github_setup import github_token, origin_repository, repository_of_remote


@pytest.mark.parametrize(
    ("url", "repository"),
    [
        ("https://github.com/octo/hello.git", "octo/hello"),
        ("https://github.com/octo/hello", "octo/hello"),
        ("https://x-access-token:abc@github.com/octo/hello.git", "octo/hello"),
        ("git@github.com:octo/hello.git", "octo/hello"),
        ("ssh://git@github.com/octo/hello.git", "octo/hello"),
        ("ssh://git@ghe.example.com:2222/team/my.repo.git", "team/my.repo"),
        ("https://ghe.example.com/team/tool/", "team/tool"),
        ("/srv/git/hello.git", None),
        ("https://github.com/octo", None),
        ("https://github.com/octo/hello/extra", None),
        ("", None),
    ],
)
def test_the_repository_is_read_from_every_remote_form(url: str, repository: str | None) -> None:
    assert repository_of_remote(url) == repository


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


async def test_the_origin_remote_names_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    with pytest.raises(TrackerError, match=r"it has no origin remote.*ADW_GITHUB_REPO=owner/name"):
        await origin_repository(repo)
    git(repo, "remote", "add", "origin", "/srv/git/hello.git")
    with pytest.raises(TrackerError, match=r"its origin remote is '/srv/git/hello.git'"):
        await origin_repository(repo)
    git(repo, "remote", "set-url", "origin", "git@github.com:octo/hello.git")
    assert await origin_repository(repo) == "octo/hello"


async def test_the_token_comes_from_the_environment_then_gh(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    path = str(bin_dir)
    assert await github_token({"GITHUB_PAT": "pat-1", "GH_TOKEN": "gh-2", "PATH": path}) == "pat-1"
    assert await github_token({"GITHUB_PAT": " ", "GH_TOKEN": "gh-2", "PATH": path}) == "gh-2"
    assert await github_token({"PATH": path}) is None  # no gh installed

    gh = bin_dir / "gh"
    gh.write_text('#!/bin/sh\n[ "$1 $2" = "auth token" ] && echo gho_fromgh && exit 0\nexit 1\n')
    gh.chmod(0o755)
    assert await github_token({"PATH": path}) == "gho_fromgh"
    gh.write_text("#!/bin/sh\necho 'not logged in' >&2\nexit 1\n")
    assert await github_token({"PATH": path}) is None
