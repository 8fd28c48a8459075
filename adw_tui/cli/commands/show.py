"""`adw show`, `diff`, `rollback`: one run, its state versions compared, and rewound."""

import argparse
import sys
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from adw_tui.cli.commands.runs import STATUS_STYLES, run_row
from adw_tui.cli.context import CliContext
from adw_tui.cli.output import console, key_value_grid, print_json, short_time
from adw_tui.domain.diff import ChangeKind, StateChange, json_text
from adw_tui.domain.errors import AdwError
from adw_tui.domain.sanitize import safe_markup
from adw_tui.domain.steps import StepAttempt, StepStatus
from adw_tui.runtime import rollback
from adw_tui.store import Store

STEP_STYLES = {
    StepStatus.FAILED: "red",
    StepStatus.REJECTED: "yellow",
    StepStatus.SKIPPED: "dim",
    StepStatus.PAUSED: "yellow",
}
CHANGE_STYLES = {ChangeKind.ADDED: "green", ChangeKind.REMOVED: "red", ChangeKind.CHANGED: "yellow"}


async def show_run(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store(create=False) as store:
        if args.json:
            print_json(await run_json(store, args.adw_id))
        else:
            await print_run(store, args.adw_id, stream=console)
    return 0


async def run_json(store: Store, adw_id: str) -> dict[str, Any]:
    """The stable JSON shape of `adw show --json` (and `adw run --json`)."""
    loaded = await store.load(adw_id)
    timeline = await store.steps.timeline(adw_id)
    attempts = await store.steps.for_run(adw_id)
    return {
        **run_row(loaded.run),
        "created_at": loaded.run.created_at.isoformat(),
        "state": loaded.state.as_data(),
        "control": loaded.control.model_dump(mode="json"),
        "timeline": [entry.model_dump(mode="json") for entry in timeline],
        "attempts": [attempt.model_dump(mode="json") for attempt in attempts],
    }


async def print_run(store: Store, adw_id: str, *, stream: Console) -> None:
    loaded = await store.load(adw_id)
    run = loaded.run
    rows = [
        ("run", run.adw_id),
        ("issue", safe_markup(run.issue or "")),
        ("workflow", safe_markup(run.workflow)),
        ("status", f"[{STATUS_STYLES[run.status]}]{run.status}[/]"),
        ("step", safe_markup(run.current_step or "")),
        ("version", str(run.version)),
        ("next step", safe_markup(loaded.control.next_state or "")),
        ("engine", safe_markup(loaded.control.engine or "")),
        ("cost", f"${run.cost_usd:.4f}"),
        ("created", short_time(run.created_at)),
        ("updated", short_time(run.updated_at)),
    ]
    stream.print(key_value_grid(rows))
    timeline = await store.steps.timeline(adw_id)
    if timeline:
        steps = Table("step", "agent", "status", "attempts", "duration", "cost", "session")
        for entry in timeline:
            steps.add_row(
                safe_markup(entry.step if entry.visit == 1 else f"{entry.step} #{entry.visit}"),
                safe_markup(entry.agent or ""),
                entry.status,
                str(entry.attempts),
                f"{entry.duration_ms / 1000:.1f}s",
                f"${entry.cost_usd:.4f}",
                (entry.session_id or "")[:8],
                style=STEP_STYLES.get(entry.status, ""),
            )
        stream.print(steps)
    retried = _retried_or_failed(await store.steps.for_run(adw_id))
    if retried:
        stream.print(_attempts_table(retried, run.created_at))
    state = Table("state key", "value", title=f"state at version {run.version}")
    for key, value in sorted(loaded.state.as_data().items()):
        state.add_row(safe_markup(key), safe_markup(_clip(json_text(value))))
    stream.print(state)


def _retried_or_failed(attempts: list[StepAttempt]) -> list[StepAttempt]:
    """The attempts of every step visit that took more than one or had one fail."""
    visits = {(a.step, a.visit) for a in attempts if a.attempt > 1 or a.status is StepStatus.FAILED}
    return [a for a in attempts if (a.step, a.visit) in visits]


def _attempts_table(attempts: list[StepAttempt], created: datetime) -> Table:
    # Borderless and with collapsed padding, so the message keeps some room at 80 columns.
    table = Table(title="attempts", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    for header in ("step", "attempt", "started", "status", "error class"):
        table.add_column(header, no_wrap=True)
    table.add_column("session", no_wrap=True)
    table.add_column("message", overflow="fold", ratio=1, min_width=12)
    for attempt in attempts:
        started = attempt.started_at
        error_class = attempt.error_class or ""
        message = (attempt.error_message or "").removeprefix(f"{error_class}: ")
        table.add_row(
            safe_markup(attempt.step if attempt.visit == 1 else f"{attempt.step} #{attempt.visit}"),
            str(attempt.attempt),
            started.strftime("%H:%M:%S")
            if started.date() == created.date()
            else short_time(started),
            attempt.status,
            safe_markup(error_class),
            (attempt.session_id or "")[:8],
            safe_markup(_clip(message, 120)),
            style=STEP_STYLES.get(attempt.status, ""),
        )
    return table


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def show_diff(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store(create=False) as store:
        changes = await store.diff(args.adw_id, args.old, args.new)
    console.print(f"[bold]run {args.adw_id}: version {args.old} → version {args.new}[/]")
    if not changes:
        console.print("no differences: both versions hold the same state")
        return 0
    for change in changes:
        console.print(format_change(change))
    return 0


def format_change(change: StateChange) -> str:
    """One diff line (`StateChange.describe`) as rich markup, coloured by its kind."""
    return f"[{CHANGE_STYLES[change.kind]}]{safe_markup(change.describe())}[/]"


async def rollback_run(args: argparse.Namespace, context: CliContext) -> int:
    async with await context.open_store(create=False) as store:
        loaded = await store.load(args.adw_id)
        run = loaded.run
        rollback.refuse_active(run)
        target = await store.get_version(args.adw_id, args.version)
        reset = (
            f" It also resets the run's worktree to {target.git_head or '(no commit recorded)'}"
            ": commits after it leave the run's branch."
            if args.reset_worktree
            else ""
        )
        if not args.yes and not _confirm(
            f"Roll run {run.adw_id} back to version {target.version} "
            f"(now at {run.version})? This writes version {run.version + 1} equal to "
            f"version {target.version}; nothing is deleted.{reset} [y/N] "
        ):
            raise AdwError("rollback not confirmed; nothing was written (pass --yes to skip)")
        new_version = await rollback.rollback_run(
            store, args.adw_id, args.version, reset_worktree=args.reset_worktree, actor="cli"
        )
    console.print(
        f"run {args.adw_id} rolled back to version {args.version}: new version {new_version}"
    )
    if args.reset_worktree:
        worktree = safe_markup(loaded.state.worktree_path or "")
        console.print(f"worktree {worktree} reset to {target.git_head}", soft_wrap=True)
    return 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in {"y", "yes"}
