"""Which repository a command works on: `--repo`, else the git top level of the working
directory. Standard library only: `adw prompt` finds it before importing the rest of adw."""

import subprocess
from functools import cache
from pathlib import Path

from adw_tui.domain.errors import AdwError
from adw_tui.runtime.git_env import NO_HOOKS, git_environment


@cache
def find_repo(repo_option: Path | None, cwd: Path) -> Path:
    """The target repository: `repo_option` (`--repo`), else the git top level of `cwd`;
    an AdwError saying what to do when there is none. Asked once per process (`adw
    prompt`'s head start asks first, then its context): the answer cannot change."""
    if repo_option is not None:
        repo = repo_option.expanduser().resolve()
        if not repo.is_dir():
            raise AdwError(f"--repo {repo_option}: no such directory")
        return repo
    top_level = git_top_level(cwd)
    if top_level is None:
        raise AdwError(
            f"{cwd} is not inside a git repository; run adw from your repository "
            "or pass --repo PATH (or --db PATH for the database alone)"
        )
    return top_level


def git_top_level(directory: Path) -> Path | None:
    """The top level of the git work tree holding `directory`, or None."""
    try:
        completed = subprocess.run(
            ["git", *NO_HOOKS, "rev-parse", "--show-toplevel"],
            cwd=directory,
            env=git_environment(),
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if completed.returncode != 0:
        return None
    return Path(completed.stdout.strip())
