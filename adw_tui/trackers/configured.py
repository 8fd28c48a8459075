"""The tracker the settings choose (`ADW_TRACKER`, `tracker` in `.adw/config.toml`,
`--tracker`): local unless told otherwise."""

from collections.abc import Mapping
from pathlib import Path

from adw_tui.config import Settings
from adw_tui.store import Store
from adw_tui.trackers.base import IssueTracker
from adw_tui.trackers.local import LocalTracker


def tracker_for(
    settings: Settings, store: Store, repo_dir: Path, environ: Mapping[str, str] | None = None
) -> IssueTracker:
    """The configured tracker; nothing is asked of it yet (GitHub's repository and token
    are found on its first call). `environ` holds the token variables (default: ours)."""
    return remote_tracker(settings, repo_dir, environ) or LocalTracker(store)


def remote_tracker(
    settings: Settings, repo_dir: Path, environ: Mapping[str, str] | None = None
) -> IssueTracker | None:
    """The configured tracker when it is not the local one (which needs the store)."""
    if settings.tracker == "github":
        from adw_tui.trackers.github import GitHubTracker  # httpx only when it is used

        return GitHubTracker(settings, repo_dir, environ=environ)
    return None
