"""adw_tui.runtime.git against real repositories: every query, the merge, and every error."""

import asyncio
from pathlib import Path

import pytest

from adw_tui.runtime.git import (
    DirtyWorktreeError,
    GitCommandError,
    GitError,
    InvalidBranchNameError,
    MergeConflictError,
    MissingBranchError,
    NoCommitsError,
    NotAGitRepositoryError,
    WorktreeInfo,
    WrongBranchError,
    branch_exists,
    check_branch_name,
    current_branch,
    default_branch,
    ensure_excluded,
    git,
    has_changes_since,
    head,
    hooks_changes,
    hooks_fingerprint,
    is_dirty,
    main_worktree,
    merge,
    parse_worktree_list,
    run_git,
    top_level,
    worktree_list,
)
from adw_tui.runtime.worktrees import WorktreeManager
from tests.runtime import commit_file, isolate_git, make_repo, sh

CANARY = "ADW_TEST_SECRET_TOKEN"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_repo(tmp_path, monkeypatch)


@pytest.fixture
def not_a_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_git(tmp_path, monkeypatch)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    return plain


def feature_branch(repo: Path, name: str = "feature", **files: str) -> None:
    """Create `name` from main with one commit per file, and switch back to main."""
    sh(repo, "switch", "-q", "-c", name)
    for file, text in files.items():
        commit_file(repo, file, text)
    sh(repo, "switch", "-q", "main")


# -- running git ---------------------------------------------------------------------------


async def test_git_returns_stripped_stdout(repo: Path) -> None:
    assert await git("rev-parse", "--abbrev-ref", "HEAD", cwd=repo) == "main"


async def test_git_failure_names_command_directory_and_git_error(repo: Path) -> None:
    with pytest.raises(GitCommandError) as caught:
        await git("switch", "no-such-branch", cwd=repo, hint="pick an existing branch")
    message = str(caught.value)
    assert message.startswith(f"`git switch no-such-branch` failed in {repo}: fatal: ")
    assert message.endswith("; pick an existing branch")
    assert "\n" not in message
    assert caught.value.returncode != 0


async def test_git_without_check_returns_whatever_git_printed(repo: Path) -> None:
    assert await git("switch", "no-such-branch", cwd=repo, check=False) == ""
    result = await run_git("switch", "no-such-branch", cwd=repo)
    assert (result.ok, result.detail().startswith("fatal: ")) == (False, True)


async def test_git_in_a_missing_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="the directory does not exist"):
        await git("status", cwd=tmp_path / "gone")


# -- queries -------------------------------------------------------------------------------


async def test_top_level_from_a_subdirectory(repo: Path) -> None:
    (repo / "src" / "pkg").mkdir(parents=True)
    assert await top_level(repo / "src" / "pkg") == repo


@pytest.mark.parametrize("missing", [False, True])
async def test_top_level_of_a_non_repository(not_a_repo: Path, missing: bool) -> None:
    path = not_a_repo / "gone" if missing else not_a_repo
    with pytest.raises(NotAGitRepositoryError) as caught:
        await top_level(path)
    assert str(caught.value) == f"{path} is not a git repository: run `git init` or pass --repo"


async def test_any_command_outside_a_repository_is_not_a_git_repository(
    not_a_repo: Path,
) -> None:
    with pytest.raises(NotAGitRepositoryError):
        await head(not_a_repo)
    with pytest.raises(NotAGitRepositoryError):
        await is_dirty(not_a_repo)


async def test_head_is_the_commit_sha(repo: Path) -> None:
    assert await head(repo) == sh(repo, "rev-parse", "HEAD")


async def test_head_of_a_repository_without_commits(not_a_repo: Path) -> None:
    sh(not_a_repo, "init", "-q", "-b", "main")
    with pytest.raises(NoCommitsError) as caught:
        await head(not_a_repo)
    assert str(caught.value) == f"{not_a_repo} has no commits yet: make an initial commit"


async def test_current_branch_and_detached_head(repo: Path) -> None:
    assert await current_branch(repo) == "main"
    sh(repo, "switch", "-q", "--detach")
    assert await current_branch(repo) is None


async def test_default_branch_is_the_main_worktrees_branch(repo: Path, tmp_path: Path) -> None:
    sh(repo, "branch", "-m", "main", "trunk")
    sh(repo, "worktree", "add", "-q", "-b", "other", str(tmp_path / "linked"))
    assert await default_branch(repo) == "trunk"
    assert await default_branch(tmp_path / "linked") == "trunk"
    assert await main_worktree(tmp_path / "linked") == repo


async def test_default_branch_follows_origin_head(repo: Path, tmp_path: Path) -> None:
    sh(repo, "branch", "-m", "main", "develop")
    clone = tmp_path / "clone"
    sh(tmp_path, "clone", "-q", str(repo), str(clone))
    sh(clone, "switch", "-q", "-c", "local-work")
    assert await default_branch(clone) == "develop"


async def test_default_branch_on_a_detached_head_falls_back_to_config(repo: Path) -> None:
    sh(repo, "switch", "-q", "--detach")
    assert await default_branch(repo) == "main"
    sh(repo, "config", "init.defaultBranch", "trunk")
    assert await default_branch(repo) == "trunk"


async def test_is_dirty_counts_tracked_and_untracked_but_not_ignored(repo: Path) -> None:
    assert not await is_dirty(repo)
    (repo / "build.log").write_text("ignored\n")
    assert not await is_dirty(repo)
    (repo / "new.txt").write_text("untracked\n")
    assert await is_dirty(repo)
    assert not await is_dirty(repo, untracked=False)
    (repo / "new.txt").unlink()
    (repo / "README.md").write_text("changed\n")
    assert await is_dirty(repo, untracked=False)


async def test_branch_exists(repo: Path) -> None:
    feature_branch(repo)
    assert await branch_exists(repo, "feature")
    assert not await branch_exists(repo, "nope")


async def test_has_changes_since(repo: Path) -> None:
    sh(repo, "switch", "-q", "-c", "work")
    assert not await has_changes_since(repo, "main")
    (repo / "draft.txt").write_text("uncommitted\n")
    assert await has_changes_since(repo, "main")
    sh(repo, "add", "draft.txt")
    sh(repo, "commit", "-q", "-m", "draft")
    assert await has_changes_since(repo, "main")


async def test_commits_on_the_base_alone_are_not_changes_of_the_branch(repo: Path) -> None:
    sh(repo, "branch", "work")
    commit_file(repo, "later.txt", "on main after the fork\n")
    sh(repo, "switch", "-q", "work")
    assert not await has_changes_since(repo, "main")


async def test_has_changes_since_a_missing_base(repo: Path) -> None:
    with pytest.raises(MissingBranchError, match="branch 'nope' does not exist"):
        await has_changes_since(repo, "nope")


async def test_check_branch_name_accepts_a_valid_name(repo: Path) -> None:
    name = "feat-issue-12-adw-0a1b2c3d-add-login"
    assert await check_branch_name(name, cwd=repo) == name
    assert await check_branch_name("bug/fix.it") == "bug/fix.it"


@pytest.mark.parametrize("name", ["a..b", "has space", "-leading", "@{-1}", "end.lock", ""])
async def test_check_branch_name_refuses(repo: Path, name: str) -> None:
    sh(repo, "switch", "-q", "-c", "previous")
    sh(repo, "switch", "-q", "main")
    with pytest.raises(InvalidBranchNameError, match="is not a valid git branch name"):
        await check_branch_name(name, cwd=repo)


def test_parse_worktree_list() -> None:
    porcelain = (
        "worktree /r\nHEAD " + "a" * 40 + "\nbranch refs/heads/main\n\n"
        "worktree /r/trees/x\nHEAD " + "b" * 40 + "\ndetached\nlocked being moved\n\n"
        "worktree /r/trees/y\nHEAD " + "0" * 40 + "\nbranch refs/heads/y/z\n"
        "prunable gitdir file points to non-existent location\n"
    )
    assert parse_worktree_list(porcelain) == [
        WorktreeInfo(Path("/r"), "main", "a" * 40),
        WorktreeInfo(Path("/r/trees/x"), None, "b" * 40),
        WorktreeInfo(Path("/r/trees/y"), "y/z", None, prunable=True),
    ]


async def test_a_worktree_being_added_elsewhere_is_listed_once_made(repo: Path) -> None:
    """Another process's `git worktree add` caught half-way: its `commondir` made but not
    yet written, which makes git's listing fail until it is."""
    admin = repo / ".git" / "worktrees" / "half"
    admin.mkdir(parents=True)
    (admin / "gitdir").write_text(f"{repo / 'trees' / 'half' / '.git'}\n")
    (admin / "commondir").write_text("")
    with pytest.raises(GitCommandError, match="failed to read"):
        await git("worktree", "list", "--porcelain", cwd=repo)

    async def finish() -> None:
        await asyncio.sleep(0.05)
        (admin / "commondir").write_text("../..\n")

    finishing = asyncio.create_task(finish())
    listed = await worktree_list(repo)
    await finishing
    assert [entry.path.name for entry in listed] == [repo.name, "half"]


async def test_ensure_excluded_appends_once(repo: Path) -> None:
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text("# mine")
    assert await ensure_excluded(repo, ["/trees/", "/.env", "/trees/"]) == ["/trees/", "/.env"]
    assert await ensure_excluded(repo, ["/.env"]) == []
    assert exclude.read_text() == "# mine\n/trees/\n/.env\n"
    (repo / "trees").mkdir()
    (repo / "trees" / "x").write_text("")
    assert not await is_dirty(repo)


# -- isolation: environment and hooks -----------------------------------------------------


def env_dumping_hook(repo: Path, name: str, dump: Path) -> None:
    """An executable `.git/hooks/<name>` that writes its environment to `dump`."""
    hook = repo / ".git" / "hooks" / name
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(f"#!/bin/sh\nenv > '{dump}'\n")
    hook.chmod(0o755)


async def test_adw_git_runs_no_hook(repo: Path, tmp_path: Path) -> None:
    dump = tmp_path / "hook-env.txt"
    env_dumping_hook(repo, "post-checkout", dump)
    sh(repo, "worktree", "add", "-q", "-b", "by-hand", str(tmp_path / "by-hand"))
    assert dump.exists()  # the hook works when git runs it
    dump.unlink()
    await WorktreeManager(repo).create("0a1b2c3d", "by-adw", "main")
    assert (repo / "trees" / "0a1b2c3d" / "README.md").exists()
    assert not dump.exists()


async def test_adw_git_sees_only_allowed_variables(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CANARY, "canary-value-1234")
    monkeypatch.setenv("GITHUB_PAT", "github-token-5678")  # pushes get it another way
    monkeypatch.setenv("IS_SANDBOX", "allowed-value-5678")
    dump = tmp_path / "alias-env.txt"
    sh(repo, "config", "alias.dumpenv", f"!env > '{dump}'")
    await git("dumpenv", cwd=repo)
    seen = dump.read_text()
    assert "canary-value-1234" not in seen
    assert CANARY not in seen
    assert "github-token-5678" not in seen
    assert "IS_SANDBOX=allowed-value-5678" in seen
    assert "GIT_TERMINAL_PROMPT=0" in seen
    assert "GIT_AUTHOR_NAME=ADW Test" in seen


async def test_hooks_fingerprint_shows_a_planted_hook_and_hooks_path(
    repo: Path, tmp_path: Path
) -> None:
    before = await hooks_fingerprint(repo)
    assert before == {}  # git init's samples do not count
    env_dumping_hook(repo, "post-checkout", tmp_path / "dump.txt")
    sh(repo, "config", "core.hooksPath", str(tmp_path / "elsewhere"))
    after = await hooks_fingerprint(repo)
    assert hooks_changes(before, after) == ["core.hooksPath", "hooks/post-checkout"]
    assert hooks_changes(after, await hooks_fingerprint(repo)) == []


# -- merge ---------------------------------------------------------------------------------


async def test_merge_makes_a_merge_commit(repo: Path) -> None:
    feature_branch(repo, **{"feature.txt": "new\n"})
    before = sh(repo, "rev-parse", "main")
    (repo / "trees").mkdir()  # untracked directories of the runtime do not block a merge
    (repo / "trees" / "note").write_text("")

    merged = await merge(repo, "feature", "main")

    assert merged == sh(repo, "rev-parse", "main")
    parents = sh(repo, "rev-list", "--parents", "-n", "1", "main").split()[1:]
    assert parents == [before, sh(repo, "rev-parse", "feature")]
    assert (repo / "feature.txt").read_text() == "new\n"
    assert sh(repo, "status", "--porcelain", "--untracked-files=no") == ""


async def test_merge_from_a_linked_worktree_merges_in_the_main_one(
    repo: Path, tmp_path: Path
) -> None:
    sh(repo, "worktree", "add", "-q", "-b", "feature", str(tmp_path / "linked"))
    commit_file(tmp_path / "linked", "feature.txt", "new\n")
    await merge(tmp_path / "linked", "feature", "main")
    assert (repo / "feature.txt").exists()


async def test_merge_conflict_is_aborted_and_leaves_the_repository_clean(repo: Path) -> None:
    feature_branch(repo, **{"README.md": "theirs\n"})
    before = commit_file(repo, "README.md", "ours\n")

    with pytest.raises(MergeConflictError) as caught:
        await merge(repo, "feature", "main")

    assert "conflicts in README.md; the merge was aborted" in str(caught.value)
    assert caught.value.conflicts == ["README.md"]
    assert sh(repo, "rev-parse", "HEAD") == before
    assert sh(repo, "status", "--porcelain") == ""
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    assert (repo / "README.md").read_text() == "ours\n"


async def test_merge_refuses_a_dirty_main_worktree(repo: Path) -> None:
    feature_branch(repo, **{"feature.txt": "new\n"})
    before = sh(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text("edited, not committed\n")

    with pytest.raises(DirtyWorktreeError, match="uncommitted changes: commit or stash"):
        await merge(repo, "feature", "main")

    assert sh(repo, "rev-parse", "HEAD") == before
    assert (repo / "README.md").read_text() == "edited, not committed\n"


async def test_merge_refuses_when_the_main_worktree_is_on_another_branch(repo: Path) -> None:
    feature_branch(repo, **{"feature.txt": "new\n"})
    sh(repo, "switch", "-q", "feature")
    with pytest.raises(WrongBranchError, match="is on branch 'feature', not 'main'"):
        await merge(repo, "feature", "main")
    sh(repo, "switch", "-q", "--detach")
    with pytest.raises(WrongBranchError, match="detached HEAD"):
        await merge(repo, "feature", "main")


async def test_merge_of_a_missing_branch(repo: Path) -> None:
    with pytest.raises(MissingBranchError, match="branch 'nope' does not exist"):
        await merge(repo, "nope", "main")


async def test_merge_stopped_by_an_untracked_file_changes_nothing(repo: Path) -> None:
    feature_branch(repo, **{"feature.txt": "tracked there\n"})
    before = sh(repo, "rev-parse", "HEAD")
    (repo / "feature.txt").write_text("untracked here\n")

    with pytest.raises(GitCommandError, match="'main' is unchanged"):
        await merge(repo, "feature", "main")

    assert sh(repo, "rev-parse", "HEAD") == before
    assert (repo / "feature.txt").read_text() == "untracked here\n"
