"""Git, run as a subprocess: the one place the runtime talks to git.

Every call is `asyncio.create_subprocess_exec("git", ...)` (never a shell) with stdin
closed, prompts disabled and messages in English (`LC_ALL=C`), so a failure can be
recognised and reported as a `GitError` naming the command, the directory, git's own
words and what to do. Git sees only the agents' environment allow-list (plus git's own
identity and configuration variables), and never runs the repository's hooks: a hook is
code an agent can write into `.git/hooks`, and adw's own git must not execute it.
Nothing here forces, resets or deletes work: a merge that cannot complete cleanly is
aborted and reported.
"""

import asyncio
import contextlib
import hashlib
import os
import re
import shlex
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from adw_tui.domain.errors import AdwError
from adw_tui.runtime.git_env import NO_HOOKS, git_environment
from adw_tui.runtime.tracing import span

DEFAULT_HINT = "run it there yourself to see git's full output"
PUSH_TIMEOUT_S = 300.0
"""The longest a push may take before it counts as failed (and is tried again)."""
_AUTH_FAILURES = (
    "Authentication failed",
    "could not read Username",
    "could not read Password",
    "Permission denied (publickey",
    "The requested URL returned error: 401",
    "The requested URL returned error: 403",
)
_ZERO_SHA = "0" * 40


class GitError(AdwError):
    """Git failed, or the repository is not in the state an operation needs."""

    def __init__(self, message: str, *, cwd: Path) -> None:
        super().__init__(message)
        self.cwd = cwd


class GitCommandError(GitError):
    """A git command exited with an error nothing more specific explains."""

    def __init__(
        self, args: Iterable[str], cwd: Path, returncode: int, detail: str, hint: str
    ) -> None:
        self.command = shlex.join(["git", *args])
        super().__init__(f"`{self.command}` failed in {cwd}: {detail}; {hint}", cwd=cwd)
        self.returncode = returncode
        self.detail = detail


class NotAGitRepositoryError(GitError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} is not a git repository: run `git init` or pass --repo", cwd=path)


class NoCommitsError(GitError):
    def __init__(self, repo: Path) -> None:
        super().__init__(f"{repo} has no commits yet: make an initial commit", cwd=repo)


class MissingBranchError(GitError):
    def __init__(self, name: str, repo: Path) -> None:
        super().__init__(
            f"branch {name!r} does not exist in {repo}: create it or name an existing one "
            "(`git branch --all` lists them)",
            cwd=repo,
        )
        self.name = name


class InvalidBranchNameError(GitError):
    def __init__(self, name: str, cwd: Path) -> None:
        super().__init__(
            f"{name!r} is not a valid git branch name: use letters, digits, '-', '_', '.' and "
            "'/' (no spaces, '..', '~', '^', ':', '?', '*', '[' or '@{')",
            cwd=cwd,
        )
        self.name = name


class DirtyWorktreeError(GitError):
    def __init__(self, path: Path, what_to_do: str) -> None:
        super().__init__(f"{path} has uncommitted changes: {what_to_do}", cwd=path)


class WrongBranchError(GitError):
    def __init__(self, path: Path, current: str | None, expected: str) -> None:
        on = f"on branch {current!r}" if current else "not on a branch (detached HEAD)"
        super().__init__(
            f"main worktree {path} is {on}, not {expected!r}: "
            f"run `git switch {expected}` there and merge again",
            cwd=path,
        )


class MergeConflictError(GitError):
    """The merge stopped; it was aborted, so the target branch and worktree are unchanged."""

    def __init__(
        self, branch: str, into: str, cwd: Path, conflicts: list[str], detail: str
    ) -> None:
        why = f"conflicts in {', '.join(conflicts)}" if conflicts else f"failed ({detail})"
        super().__init__(
            f"merging {branch!r} into {into!r} {why}; the merge was aborted and {into!r} is "
            f"unchanged: merge {into!r} into {branch!r} in its worktree, resolve, and merge again",
            cwd=cwd,
        )
        self.conflicts = conflicts


class GitTimeoutError(GitError):
    def __init__(self, args: Iterable[str], cwd: Path, timeout_s: float) -> None:
        command = shlex.join(["git", *args])
        super().__init__(f"`{command}` did not finish in {timeout_s:g}s in {cwd}", cwd=cwd)


class NoRemoteError(GitError):
    def __init__(self, remote: str, cwd: Path) -> None:
        super().__init__(
            f"the repository has no {remote!r} remote to push to: add one "
            f"(`git remote add {remote} URL`)",
            cwd=cwd,
        )


class PushRejectedError(GitError):
    """The remote refused the push: its branch moved on (`moved`), or the remote itself
    declined it (a protected branch, a hook). Trying again changes nothing, and adw
    never forces."""

    def __init__(self, branch: str, remote: str, cwd: Path, detail: str, *, moved: bool) -> None:
        if moved:
            why = (
                f"{remote}'s {branch!r} has commits the run's branch does not, and adw never "
                f"forces a push; merge or rebase them into the branch in {cwd}, then replay "
                "the run"
            )
        else:
            why = f"see what {remote} allows for {branch!r}, then replay the run"
        super().__init__(f"{remote} rejected the push of {branch!r} ({detail}): {why}", cwd=cwd)
        self.branch = branch
        self.moved = moved


class PushAuthError(GitError):
    """The remote did not take git's credentials: trying again changes nothing."""

    def __init__(self, branch: str, remote: str, cwd: Path, detail: str) -> None:
        super().__init__(
            f"{remote} refused the credentials for the push of {branch!r} ({detail}): give "
            "git access to it (for GitHub over https, a GITHUB_PAT that may write Contents; "
            "over ssh, a key in ssh-agent), then replay the run",
            cwd=cwd,
        )


class PushFailedError(GitError):
    """The push did not get through (network, credentials, the remote down)."""

    def __init__(self, branch: str, remote: str, cwd: Path, detail: str) -> None:
        super().__init__(
            f"the push of {branch!r} to {remote} failed ({detail}): check the network and "
            f"that git can push to {remote} from {cwd} (credentials: an SSH key, a "
            "credential helper such as `gh auth setup-git`, or GITHUB_PAT for GitHub over "
            "https)",
            cwd=cwd,
        )


@dataclass(frozen=True, slots=True)
class GitResult:
    args: tuple[str, ...]
    cwd: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error(self, hint: str = DEFAULT_HINT) -> GitError:
        """The error to raise for this failed result."""
        if self.returncode == 128 and "not a git repository" in self.stderr:
            return NotAGitRepositoryError(self.cwd)
        return GitCommandError(self.args, self.cwd, self.returncode, self.detail(), hint)

    def detail(self) -> str:
        """The line of git's output that says what failed."""
        # git often prints `hint:` or `warning:` lines before the one that says what failed.
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        for line in lines:
            if line.startswith(("fatal:", "error:")):
                return line
        if lines:
            return lines[0]
        out = self.stdout.strip().splitlines()
        return out[0] if out else f"exit code {self.returncode}"


@dataclass(frozen=True, slots=True)
class WorktreeInfo:
    """One entry of `git worktree list`."""

    path: Path
    branch: str | None  # short name; None when detached (or bare)
    head: str | None  # None before the first commit
    prunable: bool = False  # git knows it but its directory is gone


async def run_git(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout_s: float | None = None
) -> GitResult:
    """Run `git *args` in `cwd` and return what happened, whatever the exit code. `env`
    adds variables to git's environment (never to its arguments, which any user can
    read in the process list). Git runs in a session of its own, without a terminal, so
    nothing it starts (ssh) can stop to ask for a password; past `timeout_s` its process
    group is killed and a GitTimeoutError raised."""
    if not cwd.is_dir():
        raise GitError(
            f"cannot run `{shlex.join(['git', *args])}` in {cwd}: the directory does not exist; "
            "check the path",
            cwd=cwd,
        )
    with span(f"git {args[0] if args else ''}", {"git.args": shlex.join(args)}):
        return await _run_git(args, cwd, env, timeout_s)


async def _run_git(
    args: tuple[str, ...], cwd: Path, env: Mapping[str, str] | None, timeout_s: float | None
) -> GitResult:
    try:
        process = await asyncio.create_subprocess_exec(
            "git",
            *NO_HOOKS,
            *args,
            cwd=cwd,
            env={**git_environment(), **(env or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH: install git", cwd=cwd) from None
    try:
        async with asyncio.timeout(timeout_s):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        raise GitTimeoutError(args, cwd, timeout_s or 0.0) from None
    finally:
        if process.returncode is None:  # timed out, or the caller was cancelled
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.shield(process.wait())
    return GitResult(
        args=args,
        cwd=cwd,
        returncode=process.returncode if process.returncode is not None else -1,
        stdout=stdout.decode("utf-8", errors="replace"),
        stderr=stderr.decode("utf-8", errors="replace"),
    )


async def git(*args: str, cwd: Path, check: bool = True, hint: str = DEFAULT_HINT) -> str:
    """Run `git *args` in `cwd` and return its stdout, stripped; raise a `GitError` when it
    fails (unless `check` is false), with `hint` saying what to do."""
    result = await run_git(*args, cwd=cwd)
    if check and not result.ok:
        raise result.error(hint)
    return result.stdout.strip()


async def _optional(*args: str, cwd: Path) -> str | None:
    """Stdout of a query that exits 1 to say "no such thing" (None); other failures raise."""
    result = await run_git(*args, cwd=cwd)
    if result.ok:
        return result.stdout.strip()
    if result.returncode == 1:
        return None
    raise result.error()


async def top_level(path: Path) -> Path:
    """The root of the worktree containing `path`."""
    if not path.is_dir():
        raise NotAGitRepositoryError(path)
    result = await run_git("rev-parse", "--show-toplevel", cwd=path)
    if not result.ok:
        raise result.error()
    return Path(result.stdout.strip())


async def current_branch(cwd: Path) -> str | None:
    """The branch checked out in `cwd`, or None on a detached HEAD."""
    return await _optional("symbolic-ref", "--quiet", "--short", "HEAD", cwd=cwd)


async def head(cwd: Path) -> str:
    """The commit sha checked out in `cwd`."""
    sha = await _optional("rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=cwd)
    if sha is None:
        raise NoCommitsError(await top_level(cwd))
    return sha


async def resolve_commit(repo: Path, ref: str) -> str:
    """The commit `ref` (a branch, remote branch, tag or sha) names; `MissingBranchError`
    when it names none."""
    # A leading '-' would be read as an option; no branch name starts with one.
    sha = None
    if not ref.startswith("-"):
        sha = await _optional("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=repo)
    if sha is None:
        raise MissingBranchError(ref, repo)
    return sha


async def branch_exists(repo: Path, name: str) -> bool:
    """Whether the local branch `name` exists."""
    found = await _optional("rev-parse", "--verify", "--quiet", f"refs/heads/{name}", cwd=repo)
    return found is not None


async def is_dirty(cwd: Path, *, untracked: bool = True) -> bool:
    """Whether the worktree at `cwd` has uncommitted changes: to tracked files, and (unless
    `untracked` is false) new files that are not ignored."""
    mode = "normal" if untracked else "no"
    status = await git("status", "--porcelain", f"--untracked-files={mode}", cwd=cwd)
    return bool(status)


async def has_changes_since(cwd: Path, base: str) -> bool:
    """Whether the branch checked out in `cwd` holds work that `base` does not.

    Committed work is compared from the merge base (`base...HEAD`), so commits that land
    on `base` after the branch forked do not count; uncommitted changes (including new,
    not ignored files) do.
    """
    await resolve_commit(cwd, base)
    diff = await run_git("diff", "--quiet", "--no-ext-diff", f"{base}...HEAD", cwd=cwd)
    if diff.returncode == 1:
        return True
    if not diff.ok:
        raise diff.error()
    return await is_dirty(cwd)


async def check_branch_name(name: str, *, cwd: Path | None = None) -> str:
    """Return `name` if git accepts it as a new branch name, else raise
    `InvalidBranchNameError`. Shorthands such as `@{-1}` are refused, not expanded."""
    where = cwd or Path.cwd()
    result = await run_git("check-ref-format", "--branch", name, cwd=where)
    if not result.ok or result.stdout.strip() != name:
        raise InvalidBranchNameError(name, where)
    return name


def parse_worktree_list(porcelain: str) -> list[WorktreeInfo]:
    """Parse `git worktree list --porcelain`: blank-line separated records of
    `worktree <path>`, `HEAD <sha>`, `branch refs/heads/<name>` or `detached`, and flags
    such as `bare`, `locked` and `prunable` (the latter two may carry a reason)."""
    entries: list[WorktreeInfo] = []
    for record in porcelain.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in record.splitlines():
            key, _, value = line.partition(" ")
            fields[key] = value
        if "worktree" not in fields:
            continue
        sha = fields.get("HEAD")
        entries.append(
            WorktreeInfo(
                path=Path(fields["worktree"]),
                branch=fields["branch"].removeprefix("refs/heads/") if "branch" in fields else None,
                head=sha if sha and sha != _ZERO_SHA else None,
                prunable="prunable" in fields,
            )
        )
    return entries


async def worktree_list(repo: Path) -> list[WorktreeInfo]:
    """Every worktree of the repository, the main worktree first.

    Git reads each worktree's administrative files, which another process's `git worktree
    add` (a second `adw run`) writes one after the other: caught half-made, the listing
    fails ("failed to read .git/worktrees/<id>/commondir"). That is read again, a few
    times, a moment later."""
    # here: most commands never list worktrees, and all of them import this module
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random

    async for attempt in AsyncRetrying(
        retry=retry_if_exception(_half_made_worktree),
        stop=stop_after_attempt(5),
        wait=wait_random(0.01, 0.1),
        reraise=True,
    ):
        with attempt:
            listed = await git("worktree", "list", "--porcelain", cwd=repo)
    return parse_worktree_list(listed)


def _half_made_worktree(error: BaseException) -> bool:
    return isinstance(error, GitCommandError) and "failed to read .git/worktrees/" in str(error)


async def main_worktree(repo: Path) -> Path:
    """The root of the repository's main worktree (the one `git init` or `clone` made),
    from `repo` or any of its linked worktrees."""
    return (await worktree_list(repo))[0].path


async def default_branch(repo: Path) -> str:
    """The branch runs start from and ship to: what `origin/HEAD` points at when the
    repository has that remote, else the main worktree's current branch, else the
    `init.defaultBranch` setting, else "main"."""
    if "origin" in (await git("remote", cwd=repo)).split():
        remote_head = await _optional(
            "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", cwd=repo
        )
        if remote_head:
            return remote_head.removeprefix("origin/")
    branch = (await worktree_list(repo))[0].branch
    if branch:
        return branch
    configured = await _optional("config", "--get", "init.defaultBranch", cwd=repo)
    return configured or "main"


_common_dirs: dict[Path, Path] = {}


async def git_common_dir(repo: Path) -> Path:
    """The `.git` directory shared by all worktrees of the repository.

    Remembered per directory, since it cannot change while the directory exists: the
    hooks check asks twice at every step of every run."""
    known = _common_dirs.get(repo)
    if known is None or not known.is_dir():
        known = (repo / await git("rev-parse", "--git-common-dir", cwd=repo)).resolve()
        _common_dirs[repo] = known
    return known


async def hooks_fingerprint(repo: Path) -> dict[str, str]:
    """What decides which hooks the repository's own git would run: the `core.hooksPath`
    setting and a digest of each file in the shared `hooks` directory (samples aside).

    adw's git never runs them, but a person's git does: comparing the fingerprint before
    and after a run shows whether an agent planted one."""
    hooks = await git_common_dir(repo) / "hooks"
    found = {
        f"hooks/{path.name}": hashlib.sha256(path.read_bytes()).hexdigest()
        for path in (sorted(hooks.iterdir()) if hooks.is_dir() else [])
        if path.is_file() and not path.name.endswith(".sample")
    }
    listed = await _optional("config", "--show-origin", "--get-all", "core.hooksPath", cwd=repo)
    # adw's own `-c core.hooksPath=/dev/null` shows as "command line:"; only files count.
    settings = [
        line for line in (listed or "").splitlines() if not line.startswith("command line:")
    ]
    if settings:
        found["core.hooksPath"] = settings[-1]
    return found


def hooks_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The names (`hooks/<file>`, `core.hooksPath`) added, changed or removed."""
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )


async def ensure_excluded(repo: Path, patterns: Iterable[str]) -> list[str]:
    """Add `patterns` missing from the repository's `info/exclude` (local, never committed,
    shared by every worktree) and return those added.

    The runtime uses it for what it puts into a repository itself (`trees/`, `.env`
    copies, `.ports.env`), so an agent's `git add -A` never commits them and they never
    make a worktree look dirty.
    """
    exclude = await git_common_dir(repo) / "info" / "exclude"
    text = exclude.read_text() if exclude.exists() else ""
    present = set(text.splitlines())
    added = [p for p in dict.fromkeys(patterns) if p not in present]
    if added:
        exclude.parent.mkdir(parents=True, exist_ok=True)
        separator = "\n" if text and not text.endswith("\n") else ""
        exclude.write_text(text + separator + "".join(f"{p}\n" for p in added))
    return added


async def merge(repo: Path, branch: str, into: str) -> str:
    """Merge `branch` into `into` with a merge commit, in the main worktree, and return the
    new head of `into`.

    Refuses when the main worktree is not on `into` or has uncommitted changes to tracked
    files. Untracked files (the `trees/` and `agents/` directories live there) do not
    block it: git itself stops before overwriting one, leaving everything as it was. A
    merge that stops half-way (conflicts, a failing hook) is aborted, so `into` and the
    main worktree end as they started; nothing is ever forced or reset.
    """
    main = await main_worktree(repo)
    await resolve_commit(main, branch)
    current = await current_branch(main)
    if current != into:
        raise WrongBranchError(main, current, into)
    if await is_dirty(main, untracked=False):
        raise DirtyWorktreeError(main, "commit or stash them there, then merge again")
    result = await run_git("merge", "--no-ff", "--no-edit", branch, cwd=main)
    if result.ok:
        return await head(main)
    if await _optional("rev-parse", "--verify", "--quiet", "MERGE_HEAD", cwd=main) is None:
        raise result.error(f"{into!r} is unchanged")
    conflicts = await git("diff", "--name-only", "--diff-filter=U", cwd=main)
    await git("merge", "--abort", cwd=main)
    raise MergeConflictError(branch, into, main, conflicts.splitlines(), result.detail())


async def remote_url(cwd: Path, remote: str = "origin") -> str | None:
    """The URL of `remote`, or None when the repository has no such remote."""
    result = await run_git("remote", "get-url", remote, cwd=cwd)
    if result.ok:
        return result.stdout.strip()
    if "No such remote" in result.stderr:
        return None
    raise result.error()


async def fetch_branch(
    repo: Path, branch: str, *, remote: str = "origin", env: Mapping[str, str] | None = None
) -> str:
    """Fetch `branch` from `remote` into the local branch of the same name (made, or moved
    on: never forced) and return its commit."""
    ref = f"refs/heads/{branch}"
    result = await run_git(
        "fetch", "--quiet", remote, f"{ref}:{ref}", cwd=repo, env=dict(env or {}),
        timeout_s=PUSH_TIMEOUT_S,
    )  # fmt: skip
    if not result.ok:
        raise GitError(
            f"cannot fetch branch {branch} from {remote} into {repo}: {result.detail()}; "
            "check that the remote is reachable and holds it",
            cwd=repo,
        )
    return await resolve_commit(repo, branch)


async def push(
    cwd: Path, branch: str, *, remote: str = "origin", env: Mapping[str, str] | None = None
) -> None:
    """Push `branch` to the branch of the same name on `remote`, from `cwd`. Never forced:
    a remote branch that moved on is a PushRejectedError; any other failure a
    PushFailedError (worth trying again). `env` carries credentials, if any."""
    if await remote_url(cwd, remote) is None:
        raise NoRemoteError(remote, cwd)
    ref = f"refs/heads/{branch}"
    # ssh never asks for a password here; the operator's own ssh command (the variable,
    # or the repository's core.sshCommand, say with a deploy key) is left as it is.
    configured = os.environ.get("GIT_SSH_COMMAND") or await _optional(
        "config", "--get", "core.sshCommand", cwd=cwd
    )
    batch = {} if configured else {"GIT_SSH_COMMAND": "ssh -o BatchMode=yes"}
    try:
        result = await run_git(
            "push",
            "--porcelain",
            remote,
            f"{ref}:{ref}",
            cwd=cwd,
            env={**batch, **(env or {})},
            timeout_s=PUSH_TIMEOUT_S,
        )
    except GitTimeoutError:
        raise PushFailedError(branch, remote, cwd, f"no answer in {PUSH_TIMEOUT_S:g}s") from None
    if result.ok:
        return
    said = result.stdout + result.stderr
    if any(marker in said for marker in _AUTH_FAILURES):
        raise PushAuthError(branch, remote, cwd, result.detail())
    if "[remote rejected]" in said:
        declined = re.search(r"\[remote rejected\][^(\n]*\(([^)\n]*)\)", said)
        reason = declined[1] if declined else result.detail()
        raise PushRejectedError(branch, remote, cwd, reason, moved=False)
    if "[rejected]" in said:
        moved = "fetch first" in said or "non-fast-forward" in said
        raise PushRejectedError(branch, remote, cwd, "not a fast-forward", moved=moved)
    raise PushFailedError(branch, remote, cwd, result.detail())
