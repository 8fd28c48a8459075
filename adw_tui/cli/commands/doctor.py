"""`adw doctor`: is this machine and repository ready to run workflows?"""

import argparse
import asyncio
import os
import shutil
from enum import StrEnum
from pathlib import Path

from rich.table import Table

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_json
from adw_tui.domain.errors import AdwError, DatabaseMissingError
from adw_tui.domain.modeling import Model
from adw_tui.domain.sanitize import safe_markup

GIB = 1024**3
DISK_WARN_BYTES = 2 * GIB
DISK_FAIL_BYTES = GIB // 4


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


class Check(Model):
    name: str
    level: Level
    detail: str


LEVEL_STYLES = {Level.OK: "green", Level.WARN: "yellow", Level.FAIL: "bold red"}


AGENT_CLIS = (
    ("codex", "ADW_CODEX_PATH", "@openai/codex"),
    ("gemini", "ADW_GEMINI_PATH", "@google/gemini-cli"),
    ("opencode", "ADW_OPENCODE_PATH", "opencode-ai"),
)
"""The engines' CLIs besides Claude Code: name, the variable naming the binary, the npm
package."""


async def run_doctor(args: argparse.Namespace, context: CliContext) -> int:
    checks = [
        await _binary_check("git", "git", Level.FAIL, "install git: every run uses a worktree"),
        await _binary_check(
            "claude",
            os.environ.get("CLAUDE_CODE_PATH") or "claude",
            Level.WARN,
            "install it with `npm install -g @anthropic-ai/claude-code` or set "
            "CLAUDE_CODE_PATH; the simulated agent works without it",
        ),
        *[
            await _binary_check(
                name,
                os.environ.get(variable) or name,
                Level.WARN,
                f"install it with `npm install -g {package}` or set {variable}; "
                f"needed only for --engine {name}",
            )
            for name, variable, package in AGENT_CLIS
        ],
        await _binary_check(
            "gh", "gh", Level.WARN, "needed only for the GitHub tracker (install GitHub CLI)"
        ),
        _repo_check(context),
        await _database_check(context),
        _disk_check(context),
    ]
    if context.settings.tracker == "github":
        checks.append(await _github_check(context))
    if args.json:
        print_json(checks)
    else:
        table = Table("check", "status", "detail")
        for check in checks:
            style = LEVEL_STYLES[check.level]
            table.add_row(check.name, f"[{style}]{check.level}[/]", safe_markup(check.detail))
        console.print(table)
    return 1 if any(check.level is Level.FAIL for check in checks) else 0


async def _binary_check(name: str, command: str, missing: Level, remedy: str) -> Check:
    path = shutil.which(command)
    if path is None:
        return Check(name=name, level=missing, detail=f"{command} not found on PATH: {remedy}")
    try:
        process = await asyncio.create_subprocess_exec(
            path,
            "--version",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=15)
    except TimeoutError:
        process.kill()
        await process.wait()
        return Check(name=name, level=missing, detail=f"{path} --version did not answer in 15s")
    except OSError as error:
        return Check(name=name, level=missing, detail=f"{path} cannot run: {error.strerror}")
    lines = output.decode(errors="replace").strip().splitlines()
    version = lines[0] if lines else "(no version printed)"
    if process.returncode != 0:
        return Check(name=name, level=missing, detail=f"{path} --version failed: {version}")
    return Check(name=name, level=Level.OK, detail=f"{version} ({path})")


def _repo_check(context: CliContext) -> Check:
    try:
        return Check(name="repository", level=Level.OK, detail=str(context.repo))
    except AdwError as error:
        return Check(name="repository", level=Level.WARN, detail=str(error))


async def _database_check(context: CliContext) -> Check:
    try:
        path = context.db_path
        store = await context.open_store(create=False)
    except DatabaseMissingError:
        return Check(name="database", level=Level.OK, detail=f"{context.db_path} not created yet")
    except AdwError as error:
        return Check(name="database", level=Level.FAIL, detail=str(error))
    async with store:
        health = await store.health()
    summary = (
        f"{path}: schema v{health.schema_version}, {health.journal_mode}, "
        f"{health.runs} runs, {health.pending_dead_letters} pending dead letters"
    )
    if not health.ok:
        problems = "; ".join(health.integrity[:3])
        return Check(name="database", level=Level.FAIL, detail=f"{summary}; check: {problems}")
    return Check(name="database", level=Level.OK, detail=f"{summary}; integrity ok")


async def _github_check(context: CliContext) -> Check:
    """The configured repository read once with the token: access, and the rate limit."""
    from adw_tui.trackers.github import GitHubTracker  # httpx only when it is used

    try:
        tracker = GitHubTracker(context.settings, context.repo)
    except AdwError as error:
        return Check(name="github", level=Level.FAIL, detail=str(error))
    try:
        detail = await tracker.check_access()
    except AdwError as error:
        return Check(name="github", level=Level.FAIL, detail=str(error))
    finally:
        await tracker.aclose()
    return Check(name="github", level=Level.OK, detail=detail)


def _disk_check(context: CliContext) -> Check:
    try:
        where = context.repo
    except AdwError:
        where = Path.cwd()
    free = shutil.disk_usage(where).free
    detail = f"{free / GIB:.1f} GiB free at {where}"
    if free < DISK_FAIL_BYTES:
        return Check(name="disk", level=Level.FAIL, detail=f"{detail}: worktrees need room")
    if free < DISK_WARN_BYTES:
        return Check(name="disk", level=Level.WARN, detail=f"{detail}: worktrees may run out")
    return Check(name="disk", level=Level.OK, detail=detail)
