"""Benchmark: what a poll of an unchanged GitHub repository costs `adw poll`.

A loopback GitHub (`tests/fake_github.py`: ETags, 304s, rate-limit headers) holds 500
open issues, a fifth of them with a comment. The poller's first poll reads every issue
it has no record of (each issue and its comments: two requests); the second reads the
listing's first page again; then each poll of the unchanged repository is counted:
requests sent, how many GitHub answered 304, and the rate limit they spent (bar: one
conditional request, 0 spent).
Baseline, in the same run: reading the whole open listing conditionally, as a poller
without the newest-updates-first stop would (every page a 304).

The poller's launcher is a stub (no issue here asks for a run).

Run: `uv run python -m bench.poller [--quick]`. Tables, then one JSON line.
"""

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from rich.table import Table

from adw_tui.config import Settings
from adw_tui.domain.issues import IssueState
from adw_tui.store import Store
from adw_tui.trackers.github import GitHubTracker
from adw_tui.triggers.counters import TriggerCounters
from adw_tui.triggers.dispatch import Dispatcher, Launch
from adw_tui.triggers.poller import Poller
from adw_tui.workflows.loader import load_workflows
from bench.common import Target, machine_figures, print_report, quick_requested, targets_table
from tests.fake_github import FakeGitHub

ISSUES = 500
TOKEN = "ghp_" + "b" * 36


async def _no_launch(request: Launch) -> None:
    raise AssertionError("no issue of the benchmark asks for a run")


async def measure(polls: int) -> dict[str, dict[str, float]]:
    with FakeGitHub(token=TOKEN) as github, tempfile.TemporaryDirectory() as temp:
        for number in range(ISSUES):
            made = github.add_issue(f"Issue {number}", "words, no keyword")
            if number % 5 == 0:
                github.add_comment(made, "a remark")
        settings = Settings(
            tracker="github", github_repo=github.repository, github_api_url=github.api_url
        )
        tracker = GitHubTracker(settings, Path(temp), environ={"GITHUB_PAT": TOKEN})
        async with await Store.open(Path(temp) / "adw_state.db") as store:
            poller = Poller(
                store,
                tracker,
                Dispatcher(store, _no_launch, TriggerCounters("poll")),
                workflows=frozenset(load_workflows(None)),
                default_workflow=None,
                interval_s=60,
            )
            api = await tracker.api()

            async def full_listing() -> None:
                async for _ in tracker.issues(state=IssueState.OPEN):
                    pass

            await full_listing()  # the baseline's pages in the cache too
            figures = {
                "first poll": await _cost(github, api, poller.poll, 1),
                # The first poll's reads of each issue pushed the listing's ETag out of
                # the API's cache (256 entries): this one reads its page again.
                "second poll": await _cost(github, api, poller.poll, 1),
                "unchanged poll": await _cost(github, api, poller.poll, polls),
                "whole listing (baseline)": await _cost(github, api, full_listing, polls),
            }
        await tracker.aclose()
    return figures


async def _cost(github: FakeGitHub, api, call, times: int) -> dict[str, float]:
    """Per call: requests, 304s, rate limit spent, milliseconds (the median)."""
    requests, not_modified, remaining = api.stats.requests, api.stats.not_modified, github.remaining
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        durations.append(time.perf_counter() - started)
    return {
        "requests": (api.stats.requests - requests) / times,
        "not_modified": (api.stats.not_modified - not_modified) / times,
        "rate_limit_spent": (remaining - github.remaining) / times,
        "ms": statistics.median(durations) * 1000,
    }


def main() -> None:
    quick = quick_requested(__doc__ or "", "fewer polls, for a smoke test")
    load_before, started = os.getloadavg(), time.perf_counter()
    figures = asyncio.run(measure(5 if quick else 20))
    table = Table(title=f"Polls of {ISSUES} open issues on the loopback GitHub")
    for column in ("poll", "requests", "304s", "rate limit spent", "ms"):
        table.add_column(column)
    for name, figure in figures.items():
        table.add_row(
            name,
            f"{figure['requests']:g}",
            f"{figure['not_modified']:g}",
            f"{figure['rate_limit_spent']:g}",
            f"{figure['ms']:.1f}",
        )
    unchanged = figures["unchanged poll"]
    baseline = figures["whole listing (baseline)"]
    checks = [
        Target(
            "requests per unchanged poll",
            "1 (a 304)",
            f"{unchanged['requests']:g} ({unchanged['not_modified']:g} answered 304)",
            unchanged["requests"] == 1 and unchanged["not_modified"] == 1,
        ),
        Target(
            "rate limit spent per unchanged poll",
            "0",
            f"{unchanged['rate_limit_spent']:g}",
            unchanged["rate_limit_spent"] == 0,
        ),
    ]
    print_report(
        [table, targets_table(checks)],
        {
            "bench": "poller",
            "issues": ISSUES,
            "figures": figures,
            "requests_vs_baseline": unchanged["requests"] / baseline["requests"],
            "targets_met": all(check.met for check in checks),
            **machine_figures(load_before, started),
        },
    )


if __name__ == "__main__":
    main()
