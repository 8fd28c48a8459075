"""`adw worktrees ls|prune|rm`: the runs' worktrees on disk, and removing them."""

import argparse

from rich.table import Table

from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, print_json
from adw_tui.domain.clock import utc_now
from adw_tui.domain.durations import format_age, parse_age
from adw_tui.domain.errors import AdwError
from adw_tui.domain.models import RunStatus
from adw_tui.domain.sanitize import safe_markup
from adw_tui.domain.sizes import format_size
from adw_tui.runtime.worktree_lifecycle import (
    RunWorktree,
    prunable,
    run_worktrees,
)
from adw_tui.runtime.worktree_lifecycle import (
    remove_worktree as remove_one,
)
from adw_tui.runtime.worktrees import WorktreeManager, worktree_manager

ACTOR = "cli"


async def list_worktrees(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store() as store:
        found = await run_worktrees(store, _manager(context), now=utc_now(), measure=args.sizes)
    if args.json:
        print_json([_as_json(worktree) for worktree in found])
        return 0
    if not found:
        console.print(f"No run worktrees under {safe_markup(str(_manager(context).trees_dir))}.")
        return 0
    table = Table("run", "status", "branch", "size", "age", "dirty", "path")
    for worktree in found:
        table.add_row(
            worktree.adw_id,
            str(worktree.status or "no run"),
            safe_markup(worktree.branch or "(detached)"),
            format_size(worktree.size_bytes),
            format_age(worktree.age),
            "[yellow]dirty[/]" if worktree.dirty else "",
            safe_markup(str(worktree.path)),
        )
    console.print(table)
    total = sum(worktree.size_bytes or 0 for worktree in found)
    console.print(f"{len(found)} worktrees" + (f", {format_size(total)}" if args.sizes else ""))
    return 0


async def prune_worktrees(args: argparse.Namespace, context: CliContext) -> int:
    older_than = parse_age(args.older_than)
    statuses = _statuses(args.status)
    manager = _manager(context)
    async with await context.open_store() as store:
        found = await run_worktrees(store, manager, now=utc_now(), measure=False)
        chosen = prunable(found, older_than=older_than, statuses=statuses)
        if not chosen:
            console.print(
                f"Nothing to prune: no worktree of a run {'/'.join(statuses)} older than "
                f"{args.older_than} (of {len(found)} worktrees)."
            )
            return 0
        failed = 0
        for worktree in chosen:
            what = f"{worktree.adw_id} ({worktree.status}, {format_age(worktree.age)} old)"
            if args.dry_run:
                console.print(f"would remove {what}: {safe_markup(str(worktree.path))}")
                continue
            try:
                await remove_one(store, manager, worktree, force=args.force, actor=ACTOR)
            except AdwError as error:
                failed += 1
                console.print(f"[yellow]kept[/] {what}: {safe_markup(str(error))}")
            else:
                console.print(f"removed {what}")
    if args.dry_run:
        console.print(f"{len(chosen)} would be removed; nothing was (--dry-run).")
        return 0
    console.print(f"{len(chosen) - failed} removed, {failed} kept.")
    return 1 if failed else 0


async def remove_worktree(args: argparse.Namespace, context: CliContext) -> int:
    manager = _manager(context)
    async with await context.open_store() as store:
        await store.get_run(args.adw_id)  # an unknown run says so
        found = {w.adw_id: w for w in await run_worktrees(store, manager, now=utc_now())}
        worktree = found.get(args.adw_id)
        if worktree is None:
            raise AdwError(
                f"run {args.adw_id} has no worktree under {manager.trees_dir}: "
                "`adw worktrees ls` lists them"
            )
        removed = await remove_one(
            store,
            manager,
            worktree,
            force=args.force,
            delete_branch=args.delete_branch,
            actor=ACTOR,
        )
    kept = "deleted" if removed.branch_deleted else "kept"
    console.print(
        f"removed {safe_markup(str(worktree.path))} ({format_size(worktree.size_bytes)}); "
        f"run {args.adw_id} and its history kept, branch "
        f"{safe_markup(worktree.branch or '(none)')} {kept}"
    )
    return 0


def _manager(context: CliContext) -> WorktreeManager:
    return worktree_manager(context.repo, context.settings)


def _statuses(text: str) -> list[RunStatus]:
    statuses = []
    for name in (part.strip() for part in text.split(",") if part.strip()):
        try:
            statuses.append(RunStatus(name))
        except ValueError:
            known = ", ".join(status.value for status in RunStatus)
            raise AdwError(f"unknown run status {name!r} in --status: use {known}") from None
    return statuses


def _as_json(worktree: RunWorktree) -> dict[str, object]:
    return {
        "adw_id": worktree.adw_id,
        "path": str(worktree.path),
        "branch": worktree.branch,
        "status": worktree.status,
        "age_seconds": int(worktree.age.total_seconds()),
        "dirty": worktree.dirty,
        "size_bytes": worktree.size_bytes,
    }
